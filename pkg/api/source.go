package api

import (
	"context"
	"fmt"
	"net/http"
	"strings"
)

// A schedule a file manages (store.Schedule.Source "file:<path>") is edited
// in its file; the API refuses to change or delete it, with a 409 naming
// the file, unless the request comes from a file (its source names one:
// schedulezero apply sends it, and an override in /etc takes a schedule
// over from the file in /usr/lib) or detaches the schedule first
// (?detach=true), after which the API owns it. The check keeps people
// from editing by mistake what the next reload would undo; the tokens are
// what keeps out those who may not.

// SourceFilePrefix starts the source of a schedule a file manages.
const SourceFilePrefix = "file:"

// checkOwner refuses a change of schedule id unless it has no source, the
// change comes from a file, or detach is set. A schedule that does not
// exist passes: the backend answers 404 for it.
func (s *server) checkOwner(ctx context.Context, id, source string, detach bool) error {
	cur, err := s.b.GetSchedule(ctx, id)
	if err != nil || cur.Source == "" || strings.HasPrefix(source, SourceFilePrefix) || detach {
		return nil
	}
	file := strings.TrimPrefix(cur.Source, SourceFilePrefix)
	return fieldErr(http.StatusConflict, "source",
		fmt.Sprintf("schedule %q is managed by the file %s", id, file),
		fmt.Sprintf("edit that file and run systemctl reload schedulezero-scheduler (or schedulezero apply), "+
			"or detach the schedule first: schedulezero schedule detach %s", id))
}

// detachQuery reads ?detach=true.
func detachQuery(r *http.Request) bool {
	v := r.URL.Query().Get("detach")
	return v == "true" || v == "1"
}

func ptrOr(p *string) string {
	if p == nil {
		return ""
	}
	return *p
}
