// Package trigger turns the trigger objects that users send ("date",
// "interval", "cron") into values that compute fire times.
//
// It exists so that every part of ScheduleZero (REST API, CLI, store
// migrations, scheduler engine) agrees on one meaning of a trigger: Parse
// validates what a client sent, names the offending key in a *field.Error,
// and returns a normalized JSON form in which nothing depends on the moment
// or the machine it was parsed on. A Trigger is pure: it knows nothing of
// clocks, stores or missed runs. The scheduler engine asks it for the next
// occurrence after a given instant and applies its own policies on top.
//
// # Trigger kinds
//
//   - Date fires once.
//   - Interval fires every fixed duration of absolute time from its start;
//     daylight-saving transitions do not move it. Crontab "@every 1h"
//     compiles to an Interval whose first fire is one period after parsing.
//   - Cron fires at wall-clock times that match calendar fields. The
//     APScheduler field form ({"hour":"9","day_of_week":"mon-fri"}, where
//     0 = Monday and day and day_of_week must both match) and crontab
//     strings ("0 9 * * 1-5", where 0 and 7 = Sunday and, by the Vixie
//     rule, a restricted day-of-month OR a restricted day-of-week matches)
//     compile to the same Cron.
//
// # Wall-clock semantics of Cron
//
// Cron fields are read on the clock of the trigger's zone (its "timezone",
// a CRON_TZ= prefix, or else the schedule's zone). Where that clock jumps:
//
//   - A wall time skipped by a spring-forward transition (02:30 on a night
//     the clock goes from 02:00 to 03:00) fires once, at the first instant
//     after the gap (the instant of the jump, which the clock shows as
//     03:00). Several matching times inside one gap fire once together.
//   - A wall time repeated by a fall-back transition fires once, at its
//     first occurrence; the second pass through the repeated hour fires
//     nothing.
//
// Naive ISO-8601 times (run_date, start_time, end_time without an offset)
// are resolved the same way. Next runs a search that skips whole years,
// months and days that cannot match, then picks the time of day from bit
// sets, so it costs about a microsecond whatever the expression.
package trigger
