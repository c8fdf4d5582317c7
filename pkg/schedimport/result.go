package schedimport

import (
	"encoding/json"
	"fmt"
	"regexp"
	"strings"

	"github.com/schedulezero/schedulezero/pkg/handler/exec"
	"github.com/schedulezero/schedulezero/pkg/schedfile"
	"github.com/schedulezero/schedulezero/pkg/store"
)

// Options tune an import.
type Options struct {
	// Handler is the exec handler that runs the commands; its config
	// gets one method per job (Result.HandlerConfig).
	Handler string
	// Prefix starts the ids of the schedules of a crontab
	// ("crontab-17"); default: the file's name.
	Prefix string
	// System says a crontab has a user field (/etc/crontab, /etc/cron.d).
	System bool
}

// Job is one converted schedule: its file and the exec method it runs.
type Job struct {
	Schedule store.Schedule // what the file defines
	File     []byte         // the NAME.schedule file
	Command  exec.Command   // the method's command
	Origin   string         // file:line it came from
}

// Problem is a line that could not be converted, or was converted with a
// difference the user should know of (Note).
type Problem struct {
	File   string
	Line   int
	Text   string
	Reason string
	Note   bool // converted all the same
}

func (p Problem) String() string {
	kind := "not converted"
	if p.Note {
		kind = "note"
	}
	loc := p.File
	if p.Line > 0 {
		loc += fmt.Sprintf(":%d", p.Line)
	}
	if t := strings.TrimSpace(p.Text); t != "" {
		return fmt.Sprintf("%s: %s: %s: %s", loc, kind, t, p.Reason)
	}
	return fmt.Sprintf("%s: %s: %s", loc, kind, p.Reason)
}

// Result is what an import produced.
type Result struct {
	Handler  string
	Jobs     []Job
	Problems []Problem
}

// HandlerConfig is the exec handler's config file
// (/etc/schedulezero/handlers/HANDLER.json) with a method per job.
func (r *Result) HandlerConfig() ([]byte, error) {
	methods := make(map[string]exec.Command, len(r.Jobs))
	for _, j := range r.Jobs {
		methods[j.Schedule.Method] = j.Command
	}
	b, err := json.MarshalIndent(map[string]any{"kind": "exec", "methods": methods}, "", "  ")
	if err != nil {
		return nil, fmt.Errorf("handler config: %w", err)
	}
	return append(b, '\n'), nil
}

func (r *Result) problem(file string, line int, text, reason string, note bool) {
	r.Problems = append(r.Problems, Problem{File: file, Line: line, Text: text, Reason: reason, Note: note})
}

// add records a job, rendering its file.
func (r *Result) add(s store.Schedule, cmd exec.Command, origin, comment string) {
	s.HandlerID = r.Handler
	file := schedfile.Render(s, schedfile.RenderOptions{Comment: s.ID + schedfile.Suffix + ": " + comment})
	r.Jobs = append(r.Jobs, Job{Schedule: s, File: file, Command: cmd, Origin: origin})
}

var slugRE = regexp.MustCompile(`[^A-Za-z0-9_.@:-]+`)

// slug makes s usable in a schedule id.
func slug(s string) string {
	s = strings.Trim(slugRE.ReplaceAllString(s, "-"), "-.")
	if s == "" {
		return "job"
	}
	return s
}
