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
	"github.com/schedulezero/schedulezero/pkg/store"
	"github.com/schedulezero/schedulezero/pkg/trigger"
)

// Bounds of what one page reads.
const (
	maxSchedules = 5000 // schedules a list or the overview reads
	recentScan   = 5000 // execution records the overview and lists read
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
	Truncated bool
}

// listSchedules reads up to maxSchedules schedules, a page at a time.
func (s *server) listSchedules(ctx context.Context) ([]store.Schedule, bool, error) {
	var all []store.Schedule
	after := ""
	for {
		page, more, err := s.b.SchedulePage(ctx, after, 1000)
		if err != nil {
			return nil, false, err
		}
		all = append(all, page...)
		if !more || len(page) == 0 {
			return all, false, nil
		}
		if len(all) >= maxSchedules {
			return all, true, nil
		}
		after = page[len(page)-1].ID
	}
}

// lastResults maps schedule ids to their latest attempt among the recent
// records (newest first).
func lastResults(recs []store.Execution) map[string]store.Execution {
	last := map[string]store.Execution{}
	for _, e := range recs {
		if _, ok := last[e.ScheduleID]; !ok && e.ScheduleID != "" {
			last[e.ScheduleID] = e
		}
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

// handlerStates maps handler ids to their states, as the API shows them
// on a schedule (api.Schedule.HandlerState).
func (s *server) handlerStates(ctx context.Context) (map[string]string, error) {
	hs, err := s.b.Handlers(ctx)
	if err != nil {
		return nil, err
	}
	m := make(map[string]string, len(hs))
	for _, h := range hs {
		m[h.ID] = h.Status
	}
	return m, nil
}

func (s *server) row(sc store.Schedule, last map[string]store.Execution, states map[string]string) scheduleRow {
	r := scheduleRow{Schedule: api.ScheduleFromStore(sc), State: stateOf(sc), Trigger: describeTrigger(sc.Trigger, cmp.Or(sc.Timezone, s.loc.String()))}
	r.HandlerState = cmp.Or(states[sc.HandlerID], api.HandlerUnknown)
	if e, ok := last[sc.ID]; ok {
		r.LastStatus = string(e.Status)
	}
	return r
}

func (s *server) schedules(_ http.ResponseWriter, r *http.Request) (string, any, error) {
	ctx := r.Context()
	all, truncated, err := s.listSchedules(ctx)
	if err != nil {
		return "", nil, err
	}
	recent, err := s.b.Executions(ctx, store.ExecutionFilter{Limit: recentScan})
	if err != nil {
		return "", nil, err
	}
	last := lastResults(recent)
	states, err := s.handlerStates(ctx)
	if err != nil {
		return "", nil, err
	}
	v := schedulesView{Query: trimmed(r, "q"), State: trimmed(r, "state"), Total: len(all), Truncated: truncated}
	q := strings.ToLower(v.Query)
	for _, sc := range all {
		if v.State != "" && v.State != "all" && stateOf(sc) != v.State {
			continue
		}
		if q != "" && !strings.Contains(strings.ToLower(sc.ID+" "+sc.HandlerID+" "+sc.Method+" "+string(sc.Trigger)), q) {
			continue
		}
		v.Rows = append(v.Rows, s.row(sc, last, states))
	}
	// As list-timers: the next to fire first, those that never will last.
	slices.SortStableFunc(v.Rows, func(a, b scheduleRow) int {
		if a.NextFire.IsZero() != b.NextFire.IsZero() {
			if a.NextFire.IsZero() {
				return 1
			}
			return -1
		}
		return cmp.Or(a.NextFire.Compare(b.NextFire), cmp.Compare(a.ID, b.ID))
	})
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
	states, err := s.handlerStates(ctx)
	if err != nil {
		return "", nil, err
	}
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
	s.log.Info("dashboard action", "action", action, "schedule_id", id, "remote", r.RemoteAddr)
	http.Redirect(w, r, page+"?done="+done, http.StatusSeeOther)
}
