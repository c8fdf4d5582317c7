// Package governord assembles the schedulezero-governor daemon: it picks
// the backend (systemd units over D-Bus, or child processes), runs the
// governor's Supervisor, serves its HTTP API on a unix socket for
// `schedulezero handlers …`, and speaks sd_notify (READY=1, a STATUS= line,
// a watchdog fed only while the health loop turns). cmd/schedulezero-governor
// only parses flags into Options and turns signals into a context, so
// tests embed the whole daemon through New, Start and Stop.
package governord
