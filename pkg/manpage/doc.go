// Package manpage renders the man pages of ScheduleZero's commands from their
// urfave/cli definitions, so the pages a package installs never drift from
// the flags the binaries really accept.
//
// Two sources are supported. The preferred one is the command tree itself:
// a binary that adds Command() to its app prints its own page with
// `NAME man`, rendered by urfave/cli's ToManWithSection. The fallback turns
// the `--help` text of a urfave/cli program (and of its subcommands) into
// roff, for binaries built without that hook. Both outputs get the same
// title line (Title), which carries the date and version and no clock
// reading, so the package build stays reproducible.
package manpage
