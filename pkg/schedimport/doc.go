// Package schedimport turns the schedules of other tools into schedule
// files (package schedfile) for an exec handler (package handler/exec): a
// crontab's lines, or a systemd timer and its service's ExecStart=. What
// cannot be converted is listed with its line and why, never dropped in
// silence.
package schedimport
