package store

import (
	"strings"
	"unicode/utf8"

	"github.com/schedulezero/schedulezero/pkg/field"
)

// MaxScheduleIDLen is the longest schedule id a new schedule may have.
const MaxScheduleIDLen = 200

// scheduleIDRule says in words what CheckScheduleID accepts.
const scheduleIDRule = "1 to 200 of the characters A-Z a-z 0-9 . _ : @ -, and not . or .."

// CheckScheduleID reports whether id may name a new schedule: 1 to
// MaxScheduleIDLen characters out of [A-Za-z0-9._:@-], not "." or "..".
// Such an id is the same in a URL path, an HTTP header, a terminal, a
// systemd unit name and a file name, so no edge has to escape it to stay
// safe (they still do). The error is a *field.Error on "job_id".
//
// It is a rule for new ids only: a store written before the rule may hold
// others, and every call that takes an existing id (get, edit, pause,
// delete) accepts them, so that old data can be listed and removed.
func CheckScheduleID(id string) error {
	switch {
	case id == "":
		return field.Errorf("job_id", "is empty").WithFix("use %s", scheduleIDRule)
	case len(id) > MaxScheduleIDLen:
		return field.Errorf("job_id", "is %d characters long", len(id)).WithFix("use %s", scheduleIDRule)
	case id == "." || id == "..":
		return field.Errorf("job_id", "%q is not a schedule id", id).WithFix("use %s", scheduleIDRule)
	}
	if i := strings.IndexFunc(id, func(r rune) bool { return !idChar(r) }); i >= 0 {
		r, _ := utf8.DecodeRuneInString(id[i:])
		return field.Errorf("job_id", "%q has the character %q at byte %d", id, r, i).WithFix("use %s", scheduleIDRule)
	}
	return nil
}

// ScheduleIDFrom turns s (a handler and method name, for a default id)
// into an id CheckScheduleID accepts: each other character becomes "_",
// and the result is cut to MaxScheduleIDLen.
func ScheduleIDFrom(s string) string {
	out := []byte(s)
	for i, c := range out {
		if c >= 0x80 || !idChar(rune(c)) {
			out[i] = '_'
		}
	}
	if len(out) > MaxScheduleIDLen {
		out = out[:MaxScheduleIDLen]
	}
	if len(out) == 0 || string(out) == "." || string(out) == ".." {
		return "schedule"
	}
	return string(out)
}

func idChar(r rune) bool {
	return r >= 'a' && r <= 'z' || r >= 'A' && r <= 'Z' || r >= '0' && r <= '9' ||
		r == '.' || r == '_' || r == ':' || r == '@' || r == '-'
}
