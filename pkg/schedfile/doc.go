// Package schedfile reads, merges and writes schedule files: a schedule
// as a file in systemd's unit-file syntax, NAME.schedule, so that a
// package, a configuration manager or a person can drop one in place,
// review it with git diff, and have the scheduler apply it on reload.
//
// Files are looked up in a search path, highest precedence first
// (DefaultDirs: /etc/schedulezero/schedules.d, then
// /usr/lib/schedulezero/schedules.d). A file in an earlier directory hides
// the file of the same name in a later one, as /etc hides /usr/lib for
// systemd units; an empty file or a symlink to /dev/null masks it.
// Drop-ins, NAME.schedule.d/*.conf in any of the directories, are read
// after the file in the lexical order of their names, a drop-in of one
// name in an earlier directory hiding that of a later one. A later
// assignment of a key wins; for a list key (RetryOn=, On=) values accumulate
// and an empty assignment resets the list; an empty assignment to any
// trigger key resets the trigger, as for systemd.timer's OnCalendar=.
//
// docs/scheduling.md lists the keys. A Definition is one merged schedule;
// Request converts it to what the engine takes, Render writes a schedule
// back as a file, and Plan compares the files with the schedules that
// exist and says what applying them creates, changes and deletes.
package schedfile
