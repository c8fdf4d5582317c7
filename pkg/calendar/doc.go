// Package calendar implements systemd calendar events, the OnCalendar=
// syntax described in systemd.time(7), so that schedules created through the
// API at run time (which cannot be written as timer units ahead of time)
// fire exactly when a systemd timer with the same expression would.
//
// The package follows systemd 252's calendarspec.c step by step rather than
// re-deriving the semantics: the parser accepts and rejects the same
// expressions, String returns the "Normalized form" that
// `systemd-analyze calendar` prints, and Next reproduces systemd's search,
// including its handling of daylight saving time (wall-clock times that fall
// into a spring-forward gap are skipped, and the repeated hour of a
// fall-back transition is resolved the way glibc's mktime resolves it).
// The tests compare every expression of a corpus with systemd-analyze when
// it is installed, and a committed golden file otherwise.
//
// Known divergences, both outside ordinary use: in zones whose tz data mark
// winter rather than summer as daylight saving time (Europe/Dublin), and for
// expressions that force standard or daylight time with the local zone's
// abbreviation ("12:00 EST" in New York), glibc's mktime resolves some
// wall-clock times around a transition differently from the model used
// here, so an elapse next to the transition may differ from systemd's.
package calendar
