package web

import (
	"cmp"
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"net/url"
	"slices"
	"strings"
	"time"

	"github.com/schedulezero/schedulezero/pkg/api"
	"github.com/schedulezero/schedulezero/pkg/scheduler/schedtype"
	"github.com/schedulezero/schedulezero/pkg/store"
	"github.com/schedulezero/schedulezero/pkg/trigger"
)

// Bounds of what one page reads.
const (
	maxSchedules = 5000 // schedules a list or the overview reads
	recentScan   = 5000 // execution records the lists read
	overviewScan = 2000 // execution records the overview's counts are of
	maxRows      = 500  // rows the schedules list shows
	nextFires    = 10
)

// scheduleRow is one line of the schedules list, as systemctl list-timers.
type scheduleRow struct {
	api.Schedule
	State      string // active, paused, done
	LastStatus string
	Trigger    string
}

type schedulesView struct {
	Rows      []scheduleRow
	Query     string
	State     string
	Total     int
	Matched   int
	Truncated bool
}

// eachSchedule calls fn for up to maxSchedules schedules, read a page at
// a time so that a page of the dashboard holds one page of them at once;
// truncated says there were more.
func (s *server) eachSchedule(ctx context.Context, fn func(store.Schedule)) (truncated bool, err error) {
	after, n := "", 0
	for {
		page, more, err := s.b.SchedulePage(ctx, after, 250)
		if err != nil {
			return false, err
		}
		for _, sc := range page {
			fn(sc)
		}
		n += len(page)
		if !more || len(page) == 0 {
			return false, nil
		}
		if n >= maxSchedules {
			return true, nil
		}
		after = page[len(page)-1].ID
	}
}

// recentAttempts calls fn for the newest limit attempts that match f, read
// a page at a time, until fn returns false. A page scans a bounded number
// of records for its matches (store.PageScan), and at most maxPages are
// read, so that a filter few records match costs a bounded scan too.
func (s *server) recentAttempts(ctx context.Context, f store.ExecutionFilter, limit int, fn func(store.Execution) bool) (int, error) {
	const maxPages = 20
	n := 0
	for pages := 0; n < limit && pages < maxPages; pages++ {
		f.Limit = min(250, limit-n)
		page, err := s.b.ExecutionPage(ctx, f)
		if err != nil {
			return n, err
		}
		for _, e := range page.Executions {
			n++
			if !fn(e) {
				return n, nil
			}
		}
		if page.Next == "" {
			break
		}
		f.Cursor = page.Next
	}
	return n, nil
}

// latest keeps each schedule's newest attempt among those it is given,
// newest first.
type latest map[string]store.Status

func (l latest) add(e store.Execution) bool {
	if _, ok := l[e.ScheduleID]; !ok && e.ScheduleID != "" {
		l[e.ScheduleID] = e.Status
	}
	return true
}

// lastResults is the latest of recs, newest first.
func lastResults(recs []store.Execution) latest {
	last := latest{}
	for _, e := range recs {
		last.add(e)
	}
	return last
}

func stateOf(s store.Schedule) string {
	switch {
	case s.Done:
		return "done"
	case s.Paused:
		return "paused"
	}
	return "active"
}

func (s *server) row(sc store.Schedule, last latest, states map[string]string) scheduleRow {
	r := scheduleRow{Schedule: api.ScheduleFromStore(sc), State: stateOf(sc), Trigger: describeTrigger(sc.Trigger, cmp.Or(sc.Timezone, s.loc.String()))}
	r.HandlerState = cmp.Or(states[sc.HandlerID], api.HandlerUnknown)
	r.LastStatus = string(last[sc.ID])
	return r
}

func (s *server) schedules(_ http.ResponseWriter, r *http.Request) (string, any, error) {
	ctx := r.Context()
	last := latest{}
	if _, err := s.recentAttempts(ctx, store.ExecutionFilter{}, recentScan, last.add); err != nil {
		return "", nil, err
	}
	hs, err := s.b.Handlers(ctx)
	if err != nil {
		return "", nil, err
	}
	states := schedtype.States(hs)
	// As systemctl list-timers: the active ones unless asked for all.
	v := schedulesView{Query: trimmed(r, "q"), State: cmp.Or(trimmed(r, "state"), "active")}
	if u, ok := s.b.(upcomer); ok && v.Query == "" && v.State == "active" {
		// As list-timers without --all: the engine's next fires, from its
		// memory, at the cost of the rows shown.
		total, waiting, next, err := u.Upcoming(ctx, maxRows)
		if err != nil {
			return "", nil, err
		}
		v.Total, v.Matched = total, waiting
		for _, sc := range next {
			v.Rows = append(v.Rows, s.row(sc, last, states))
		}
		return "schedules", v, nil
	}
	q := strings.ToLower(v.Query)
	// As list-timers: the next to fire first, those that never will last;
	// only the first maxRows are kept, sorted as they come.
	var matched []store.Schedule
	order := func(a, b store.Schedule) int {
		if a.NextFire.IsZero() != b.NextFire.IsZero() {
			if a.NextFire.IsZero() {
				return 1
			}
			return -1
		}
		return cmp.Or(a.NextFire.Compare(b.NextFire), cmp.Compare(a.ID, b.ID))
	}
	v.Truncated, err = s.eachSchedule(ctx, func(sc store.Schedule) {
		v.Total++
		if v.State != "" && v.State != "all" && stateOf(sc) != v.State {
			return
		}
		if q != "" && !strings.Contains(strings.ToLower(sc.ID+" "+sc.HandlerID+" "+sc.Method+" "+string(sc.Trigger)), q) {
			return
		}
		v.Matched++
		if matched = append(matched, sc); len(matched) >= 2*maxRows {
			slices.SortFunc(matched, order)
			matched = matched[:maxRows]
		}
	})
	if err != nil {
		return "", nil, err
	}
	slices.SortFunc(matched, order)
	for _, sc := range matched[:min(len(matched), maxRows)] {
		v.Rows = append(v.Rows, s.row(sc, last, states))
	}
	return "schedules", v, nil
}

type scheduleView struct {
	scheduleRow
	Params  string
	TrigRaw string
	Policy  string
	Next    []time.Time
	Strip   []stripMark
	History []store.Execution
	Confirm string // the action to confirm, or ""
	Managed string // the file that manages it, or ""
}

// stripMark is one run in a schedule's strip of recent runs.
type stripMark struct {
	X      int
	Status string
	Title  string
	Href   string
}

func (s *server) schedule(_ http.ResponseWriter, r *http.Request) (string, any, error) {
	ctx := r.Context()
	id := r.PathValue("id")
	sc, err := s.b.GetSchedule(ctx, id)
	if err != nil {
		return "", nil, err
	}
	hist, err := s.b.Executions(ctx, store.ExecutionFilter{ScheduleID: id, Limit: 50})
	if err != nil {
		return "", nil, err
	}
	hs, err := s.b.Handlers(ctx)
	if err != nil {
		return "", nil, err
	}
	states := schedtype.States(hs)
	v := scheduleView{scheduleRow: s.row(sc, lastResults(hist), states), Params: prettyJSON(sc.Params), TrigRaw: prettyJSON(sc.Trigger), Next: s.nextFires(sc, nextFires)}
	if p := api.PolicyFromStore(sc.Policy); p != nil {
		b, _ := json.MarshalIndent(p, "", "  ") // a Policy always marshals
		v.Policy = string(b)
	}
	v.Managed = strings.TrimPrefix(sc.Source, api.SourceFilePrefix)
	switch c := r.URL.Query().Get("confirm"); c {
	case "pause", "resume", "run", "delete":
		v.Confirm = c
	}
	// The strip reads oldest to newest, left to right.
	for i := range hist {
		e := hist[len(hist)-1-i]
		v.Strip = append(v.Strip, stripMark{X: i * 12, Status: string(e.Status), Href: "/executions/" + url.PathEscape(e.ID),
			Title: fmt.Sprintf("%s attempt %d: %s %s", s.when(cmp.Or(e.StartedAt, e.ScheduledAt)), e.Attempt, e.Status, e.Error)})
	}
	v.History = hist[:min(len(hist), 20)]
	return "schedule", v, nil
}

// nextFires are the next n fires of sc from its next fire time, as its
// trigger computes them.
func (s *server) nextFires(sc store.Schedule, n int) []time.Time {
	if sc.NextFire.IsZero() || sc.Paused || sc.Done {
		return nil
	}
	loc := s.loc
	if sc.Timezone != "" {
		if l, err := time.LoadLocation(sc.Timezone); err == nil {
			loc = l
		}
	}
	trig, _, err := trigger.Parse(sc.Trigger, sc.NextFire, loc)
	if err != nil {
		return []time.Time{sc.NextFire}
	}
	out := []time.Time{sc.NextFire}
	for t, ok := trig.Next(sc.NextFire); ok && len(out) < n; t, ok = trig.Next(t) {
		out = append(out, t)
	}
	return out
}

// scheduleAction runs a confirmed pause, resume, run or delete; an
// unconfirmed one shows the schedule's page asking to confirm it.
func (s *server) scheduleAction(w http.ResponseWriter, r *http.Request) {
	ctx := r.Context()
	id, action := r.PathValue("id"), r.PathValue("action")
	page := "/schedules/" + url.PathEscape(id)
	switch action {
	case "pause", "resume", "run", "delete":
	default:
		s.page(w, r, http.StatusNotFound, "error", errorView{Title: "Not found", Message: "no action " + action, Fix: "use pause, resume, run or delete"})
		return
	}
	if r.PostFormValue("confirm") != "yes" {
		http.Redirect(w, r, page+"?confirm="+action, http.StatusSeeOther)
		return
	}
	var err error
	done := action
	switch action {
	case "pause":
		_, err = s.b.PauseSchedule(ctx, id)
	case "resume":
		_, err = s.b.ResumeSchedule(ctx, id)
	case "run":
		var e store.Execution
		if e, err = s.b.TriggerSchedule(ctx, id, false); err == nil {
			t := api.TriggeredFrom(id, e)
			done = t.Outcome
			if t.ExecutionID != "" {
				http.Redirect(w, r, "/executions/"+url.PathEscape(t.ExecutionID)+"?done="+done, http.StatusSeeOther)
				return
			}
		}
	case "delete":
		var sc store.Schedule
		if sc, err = s.b.GetSchedule(ctx, id); err == nil && sc.Source != "" {
			err = viewError{status: http.StatusConflict, msg: fmt.Sprintf("schedule %q is managed by the file %s", id, strings.TrimPrefix(sc.Source, api.SourceFilePrefix)),
				fix: "edit or remove that file and reload the scheduler, or detach the schedule first: schedulezero schedule detach " + id}
		} else if err == nil {
			err = s.b.DeleteSchedule(ctx, id)
		}
		page = "/schedules"
	}
	if err != nil {
		status, view := errorPage(err)
		s.page(w, r, status, "error", view)
		return
	}
	s.log.Info("dashboard action", "kind", action, "schedule_id", id, "remote", r.RemoteAddr)
	http.Redirect(w, r, page+"?done="+done, http.StatusSeeOther)
}
