// exercise.go is one suite: the Backend contract, clause by clause, as
// subtests of Exercise. It is kept whole (over 400 lines) so that the
// contract is read, and changed, in one place.

package apitest

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/schedulezero/schedulezero/pkg/api"
	"github.com/schedulezero/schedulezero/pkg/field"
	"github.com/schedulezero/schedulezero/pkg/scheduler/schedtype"
	"github.com/schedulezero/schedulezero/pkg/store"
)

// AddHandlerFunc makes a handler named id with the given methods available
// to the Backend under test, online and answering every call with success,
// and returns once the Backend lists it online.
type AddHandlerFunc func(t *testing.T, id string, methods ...string)

// AddHandlerFunc returns the fake's AddHandlerFunc: it registers an online
// handler whose calls go to the RunFunc.
func (b *Backend) AddHandlerFunc() AddHandlerFunc {
	return func(_ *testing.T, id string, methods ...string) {
		b.AddHandler(schedtype.HandlerStatus{Handler: store.Handler{ID: id, Methods: methods, Status: "online"}})
	}
}

// awaitTimeout bounds every wait of Exercise for asynchronous work.
const awaitTimeout = 10 * time.Second

// farStart is the start_time of the suite's interval trigger: far after any
// test clock, so that the trigger never fires by itself during the suite,
// while Backfill still has occurrences to walk.
var farStart = time.Date(2100, 1, 1, 0, 0, 0, 0, time.UTC)

// Exercise runs the conformance suite of the api.Backend contract on the
// Backends that newBackend returns (a fresh one per subtest). It runs on the
// fake of this package and on the real engine, so that what the API, the
// client and the CLI are tested against cannot drift from what they get.
//
// The suite only relies on what the contract promises: sentinel errors,
// *field.Error with the field the user wrote, ids kept across edits, and
// executions that eventually finish (it polls with a deadline, so a Backend
// may run them asynchronously).
func Exercise(t *testing.T, newBackend func(t *testing.T) (api.Backend, AddHandlerFunc)) {
	t.Helper()
	type bundle struct {
		b   api.Backend
		ctx context.Context
	}
	setup := func(t *testing.T) *bundle {
		t.Helper()
		b, add := newBackend(t)
		add(t, "h1", "work", "other")
		ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
		t.Cleanup(cancel)
		return &bundle{b: b, ctx: ctx}
	}
	hourly := json.RawMessage(`{"type":"interval","hours":1,"start_time":"` + farStart.Format(time.RFC3339) + `"}`)
	req := func(id string) schedtype.ScheduleRequest {
		return schedtype.ScheduleRequest{ID: id, HandlerID: "h1", Method: "work", Params: json.RawMessage(`{"n":1}`), Trigger: hourly}
	}
	add := func(t *testing.T, tb *bundle, r schedtype.ScheduleRequest) store.Schedule {
		t.Helper()
		s, err := tb.b.AddSchedule(tb.ctx, r)
		if err != nil {
			t.Fatalf("AddSchedule(%s): %v", r.ID, err)
		}
		return s
	}

	t.Run("CreateGetListDelete", func(t *testing.T) {
		tb := setup(t)
		s := add(t, tb, req("a"))
		if s.ID != "a" || s.HandlerID != "h1" || s.Method != "work" || s.NextFire.IsZero() || s.CreatedAt.IsZero() || s.Paused || s.Done {
			t.Errorf("AddSchedule = %+v", s)
		}
		if len(s.Trigger) == 0 || !json.Valid(s.Trigger) {
			t.Errorf("stored trigger %q is not JSON", s.Trigger)
		}
		add(t, tb, req("b"))
		got, err := tb.b.GetSchedule(tb.ctx, "a")
		if err != nil || got.ID != "a" || !got.NextFire.Equal(s.NextFire) {
			t.Errorf("GetSchedule = %+v, %v", got, err)
		}
		list, err := tb.b.ListSchedules(tb.ctx)
		if err != nil || len(list) != 2 || list[0].ID != "a" || list[1].ID != "b" {
			t.Errorf("ListSchedules = %v, %v (want a, b in id order)", ids(list), err)
		}
		if err := tb.b.DeleteSchedule(tb.ctx, "a"); err != nil {
			t.Fatal(err)
		}
		if _, err := tb.b.GetSchedule(tb.ctx, "a"); !errors.Is(err, store.ErrNotFound) {
			t.Errorf("GetSchedule after delete: %v, want ErrNotFound", err)
		}
		if err := tb.b.DeleteSchedule(tb.ctx, "a"); !errors.Is(err, store.ErrNotFound) {
			t.Errorf("second DeleteSchedule: %v, want ErrNotFound", err)
		}
	})

	t.Run("DefaultID", func(t *testing.T) {
		tb := setup(t)
		s := add(t, tb, req(""))
		if !strings.HasPrefix(s.ID, "h1_work_") {
			t.Errorf("default id %q, want h1_work_<epoch>", s.ID)
		}
		if err := store.CheckScheduleID(s.ID); err != nil {
			t.Errorf("default id breaks the id rule: %v", err)
		}
		s2 := add(t, tb, req(""))
		if s2.ID == s.ID {
			t.Errorf("two default ids are both %q", s.ID)
		}
	})

	t.Run("DuplicateAndReplace", func(t *testing.T) {
		tb := setup(t)
		first := add(t, tb, req("a"))
		if _, err := tb.b.AddSchedule(tb.ctx, req("a")); !errors.Is(err, store.ErrExists) {
			t.Errorf("duplicate: %v, want ErrExists", err)
		}
		r := req("a")
		r.Method, r.Replace = "other", true
		s := add(t, tb, r)
		if s.Method != "other" || !s.CreatedAt.Equal(first.CreatedAt) {
			t.Errorf("replaced = %+v, want method other and CreatedAt %v", s, first.CreatedAt)
		}
		if list, _ := tb.b.ListSchedules(tb.ctx); len(list) != 1 {
			t.Errorf("after replace: %v, want one schedule", ids(list))
		}
	})

	t.Run("Rejections", func(t *testing.T) {
		tb := setup(t)
		tests := []struct {
			name     string
			mod      func(*schedtype.ScheduleRequest)
			notFound bool
			field    string
		}{
			{name: "unknown handler", mod: func(r *schedtype.ScheduleRequest) { r.HandlerID = "ghost" }, notFound: true},
			{name: "no handler", mod: func(r *schedtype.ScheduleRequest) { r.HandlerID = "" }, field: "handler_id"},
			{name: "no method", mod: func(r *schedtype.ScheduleRequest) { r.Method = "" }, field: "job_method"},
			{name: "unknown method", mod: func(r *schedtype.ScheduleRequest) { r.Method = "nope" }, field: "job_method"},
			{name: "bad trigger type", mod: func(r *schedtype.ScheduleRequest) { r.Trigger = json.RawMessage(`{"type":"weekly"}`) }, field: "trigger.type"},
			{name: "no trigger", mod: func(r *schedtype.ScheduleRequest) { r.Trigger = nil }, field: "trigger"},
			{name: "bad cron", mod: func(r *schedtype.ScheduleRequest) { r.Trigger = json.RawMessage(`{"type":"cron","expr":"61 * * * *"}`) }, field: "trigger.expr"},
			{name: "bad timezone", mod: func(r *schedtype.ScheduleRequest) { r.Timezone = "Mars/Olympus" }, field: "timezone"},
			{name: "too many attempts", mod: func(r *schedtype.ScheduleRequest) { r.MaxAttempts = 1000 }, field: "max_attempts"},
			{name: "negative timeout", mod: func(r *schedtype.ScheduleRequest) { r.Timeout = -time.Second }, field: "timeout"},
			{name: "bad misfire", mod: func(r *schedtype.ScheduleRequest) { r.Policy.Misfire = "sometimes" }, field: "misfire"},
			{name: "bad overlap", mod: func(r *schedtype.ScheduleRequest) { r.Policy.Overlap = "never" }, field: "overlap"},
			{name: "bad retry_on", mod: func(r *schedtype.ScheduleRequest) { r.Policy.RetryOn = []string{"error", "always"} }, field: "retry_on"},
			{name: "negative grace", mod: func(r *schedtype.ScheduleRequest) { r.Policy.GraceTime = -time.Second }, field: "grace_time"},
			{name: "negative max_runs", mod: func(r *schedtype.ScheduleRequest) { r.Policy.MaxRuns = -1 }, field: "max_runs"},
			{name: "huge queue", mod: func(r *schedtype.ScheduleRequest) { r.Policy.QueueLimit = 1 << 20 }, field: "queue_limit"},
			{name: "id with a control character", mod: func(r *schedtype.ScheduleRequest) { r.ID = "a\x1b[2Jb" }, field: "job_id"},
			{name: "id with a path", mod: func(r *schedtype.ScheduleRequest) { r.ID = "a/../../b c?d#e" }, field: "job_id"},
			{name: "id dot dot", mod: func(r *schedtype.ScheduleRequest) { r.ID = ".." }, field: "job_id"},
			{name: "id too long", mod: func(r *schedtype.ScheduleRequest) { r.ID = strings.Repeat("x", store.MaxScheduleIDLen+1) }, field: "job_id"},
			{name: "interval of 1ns", mod: func(r *schedtype.ScheduleRequest) { r.Trigger = json.RawMessage(`{"type":"interval","seconds":1e-9}`) }, field: "trigger.seconds"},
			{name: "every 1ns", mod: func(r *schedtype.ScheduleRequest) { r.Trigger = json.RawMessage(`{"type":"cron","expr":"@every 1ns"}`) }, field: "trigger.expr"},
			{name: "calendar every microsecond", mod: func(r *schedtype.ScheduleRequest) {
				r.Trigger = json.RawMessage(`{"type":"calendar","expr":"*:*:0/0.000001"}`)
			}, field: "trigger.expr"},
		}
		for _, tc := range tests {
			t.Run(tc.name, func(t *testing.T) {
				r := req("bad")
				tc.mod(&r)
				_, err := tb.b.AddSchedule(tb.ctx, r)
				checkErr(t, err, tc.notFound, tc.field)
			})
		}
		if list, _ := tb.b.ListSchedules(tb.ctx); len(list) != 0 {
			t.Errorf("rejected requests left schedules: %v", ids(list))
		}
	})

	t.Run("Policy", func(t *testing.T) {
		tb := setup(t)
		r := req("p")
		r.Policy = store.Policy{Misfire: store.MisfireAll, MisfireLimit: 5, GraceTime: 30 * time.Second, Overlap: store.OverlapQueue,
			QueueLimit: 3, MaxRuns: 10, Backoff: time.Second, BackoffMax: time.Minute, RetryOn: []string{store.RetryOnError}}
		s := add(t, tb, r)
		got, err := tb.b.GetSchedule(tb.ctx, "p")
		if err != nil || !samePolicy(got.Policy, r.Policy) || !samePolicy(s.Policy, r.Policy) {
			t.Errorf("policy = %+v / %+v (%v), want %+v", s.Policy, got.Policy, err, r.Policy)
		}
	})

	t.Run("PauseResume", func(t *testing.T) {
		tb := setup(t)
		add(t, tb, req("a"))
		s, err := tb.b.PauseSchedule(tb.ctx, "a")
		if err != nil || !s.Paused || s.PausedAt.IsZero() {
			t.Fatalf("PauseSchedule = %+v, %v", s, err)
		}
		if g, _ := tb.b.GetSchedule(tb.ctx, "a"); !g.Paused {
			t.Errorf("GetSchedule after pause: not paused")
		}
		s, err = tb.b.ResumeSchedule(tb.ctx, "a")
		if err != nil || s.Paused {
			t.Fatalf("ResumeSchedule = %+v, %v", s, err)
		}
		for name, op := range map[string]func(context.Context, string) (store.Schedule, error){
			"pause": tb.b.PauseSchedule, "resume": tb.b.ResumeSchedule, "get": tb.b.GetSchedule,
		} {
			if _, err := op(tb.ctx, "ghost"); !errors.Is(err, store.ErrNotFound) {
				t.Errorf("%s ghost: %v, want ErrNotFound", name, err)
			}
		}
	})

	t.Run("Update", func(t *testing.T) {
		tb := setup(t)
		before := add(t, tb, req("a"))
		attempts, timeout, tz := 4, 90*time.Second, "Europe/Berlin"
		pol := store.Policy{Misfire: store.MisfireSkip, Overlap: store.OverlapAllow}
		s, err := tb.b.UpdateSchedule(tb.ctx, "a", schedtype.ScheduleUpdate{
			MaxAttempts: &attempts, Timeout: &timeout, Timezone: &tz, Policy: &pol, Params: json.RawMessage(`{"n":2}`),
			Trigger: json.RawMessage(`{"type":"cron","expr":"0 3 * * *"}`),
		})
		if err != nil {
			t.Fatal(err)
		}
		if s.ID != "a" || s.MaxAttempts != 4 || s.Timeout != timeout || s.Timezone != tz || !samePolicy(s.Policy, pol) ||
			string(s.Params) != `{"n":2}` || !s.CreatedAt.Equal(before.CreatedAt) || s.FireCount != before.FireCount {
			t.Errorf("UpdateSchedule = %+v", s)
		}
		berlin, _ := time.LoadLocation(tz)
		if nf := s.NextFire.In(berlin); nf.Hour() != 3 || nf.Minute() != 0 {
			t.Errorf("next fire %v, want 03:00 Berlin after the trigger edit", s.NextFire)
		}
		if g, _ := tb.b.GetSchedule(tb.ctx, "a"); g.MaxAttempts != 4 || !g.NextFire.Equal(s.NextFire) {
			t.Errorf("GetSchedule after update = %+v", g)
		}
		method := "other"
		s2, err := tb.b.UpdateSchedule(tb.ctx, "a", schedtype.ScheduleUpdate{Method: &method})
		if err != nil || s2.Method != "other" || s2.MaxAttempts != 4 || !samePolicy(s2.Policy, pol) || !s2.NextFire.Equal(s.NextFire) {
			t.Errorf("partial update = %+v, %v: other fields or the next fire changed", s2, err)
		}
		bad := store.Policy{Overlap: "never"}
		badTZ := "Mars/Olympus"
		tooMany := 1000
		for _, tc := range []struct {
			name     string
			id       string
			u        schedtype.ScheduleUpdate
			notFound bool
			field    string
		}{
			{name: "unknown", id: "ghost", u: schedtype.ScheduleUpdate{MaxAttempts: &attempts}, notFound: true},
			{name: "bad policy", id: "a", u: schedtype.ScheduleUpdate{Policy: &bad}, field: "overlap"},
			{name: "bad trigger", id: "a", u: schedtype.ScheduleUpdate{Trigger: json.RawMessage(`{"type":"weekly"}`)}, field: "trigger.type"},
			{name: "bad timezone", id: "a", u: schedtype.ScheduleUpdate{Timezone: &badTZ}, field: "timezone"},
			{name: "too many attempts", id: "a", u: schedtype.ScheduleUpdate{MaxAttempts: &tooMany}, field: "max_attempts"},
			{name: "too fast", id: "a", u: schedtype.ScheduleUpdate{Trigger: json.RawMessage(`{"type":"interval","seconds":0.001}`)}, field: "trigger.seconds"},
		} {
			t.Run(tc.name, func(t *testing.T) {
				_, err := tb.b.UpdateSchedule(tb.ctx, tc.id, tc.u)
				checkErr(t, err, tc.notFound, tc.field)
			})
		}
		if g, _ := tb.b.GetSchedule(tb.ctx, "a"); g.Method != "other" || g.MaxAttempts != 4 || g.Policy.Overlap != store.OverlapAllow {
			t.Errorf("a rejected update changed the schedule: %+v", g)
		}
	})

	t.Run("TriggerRunsAndRecords", func(t *testing.T) {
		tb := setup(t)
		add(t, tb, req("a"))
		run, err := tb.b.TriggerSchedule(tb.ctx, "a", false)
		eid := run.ID
		if err != nil || eid == "" || run.Status.Finished() && run.Status != store.StatusSucceeded {
			t.Fatalf("TriggerSchedule = %+v, %v", run, err)
		}
		e := awaitStatus(t, tb.b, store.ExecutionFilter{ExecutionID: eid}, store.StatusSucceeded, 1)[0]
		if e.ScheduleID != "a" || e.HandlerID != "h1" || e.Method != "work" || e.Attempt != 1 {
			t.Errorf("execution = %+v", e)
		}
		forced, err := tb.b.TriggerSchedule(tb.ctx, "a", true)
		if err != nil || forced.ID == "" || forced.ID == eid {
			t.Fatalf("TriggerSchedule force = %+v, %v", forced, err)
		}
		awaitStatus(t, tb.b, store.ExecutionFilter{ScheduleID: "a"}, store.StatusSucceeded, 2)
		if _, err := tb.b.TriggerSchedule(tb.ctx, "ghost", false); !errors.Is(err, store.ErrNotFound) {
			t.Errorf("TriggerSchedule ghost: %v, want ErrNotFound", err)
		}
	})

	t.Run("RunNow", func(t *testing.T) {
		tb := setup(t)
		e, err := tb.b.RunNow(tb.ctx, schedtype.RunRequest{HandlerID: "h1", Method: "work", Params: json.RawMessage(`{}`)})
		if err != nil || e.Status != store.StatusSucceeded || e.ID == "" || e.ScheduleID != "" {
			t.Fatalf("RunNow = %+v, %v", e, err)
		}
		if _, err := tb.b.RunNow(tb.ctx, schedtype.RunRequest{HandlerID: "ghost", Method: "work"}); !errors.Is(err, store.ErrNotFound) {
			t.Errorf("RunNow ghost: %v, want ErrNotFound", err)
		}
		// A method the handler does not offer is refused before any call.
		_, err = tb.b.RunNow(tb.ctx, schedtype.RunRequest{HandlerID: "h1", Method: "nope"})
		checkErr(t, err, false, "job_method")
	})

	t.Run("Backfill", func(t *testing.T) {
		tb := setup(t)
		add(t, tb, req("a"))
		from, to := farStart.Add(2*time.Hour), farStart.Add(5*time.Hour)
		res, err := tb.b.Backfill(tb.ctx, "a", from, to)
		if err != nil {
			t.Fatal(err)
		}
		want := []time.Time{from, from.Add(time.Hour), from.Add(2 * time.Hour), to}
		if res.ScheduleID != "a" || !slices.EqualFunc(res.Occurrences, want, time.Time.Equal) {
			t.Errorf("Backfill = %+v, want occurrences %v", res, want)
		}
		recs := awaitStatus(t, tb.b, store.ExecutionFilter{ScheduleID: "a"}, store.StatusSucceeded, len(want))
		var got []time.Time
		for _, e := range recs {
			got = append(got, e.ScheduledAt)
		}
		slices.SortFunc(got, time.Time.Compare)
		if !slices.EqualFunc(got, want, time.Time.Equal) {
			t.Errorf("backfilled runs scheduled at %v, want %v", got, want)
		}
		for _, tc := range []struct {
			name     string
			id       string
			from, to time.Time
			notFound bool
			field    string
		}{
			{name: "unknown", id: "ghost", from: from, to: to, notFound: true},
			{name: "reversed", id: "a", from: to, to: from, field: "to"},
			{name: "more than 1000", id: "a", from: from, to: from.Add(2000 * time.Hour), field: "to"},
		} {
			t.Run(tc.name, func(t *testing.T) {
				_, err := tb.b.Backfill(tb.ctx, tc.id, tc.from, tc.to)
				checkErr(t, err, tc.notFound, tc.field)
			})
		}
	})

	t.Run("Pages", func(t *testing.T) {
		tb := setup(t)
		for _, id := range []string{"e", "a", "d", "b", "c"} {
			add(t, tb, req(id))
		}
		if err := tb.b.DeleteSchedule(tb.ctx, "d"); err != nil {
			t.Fatal(err)
		}
		var got []string
		after, pages := "", 0
		for ; ; pages++ {
			page, more, err := tb.b.SchedulePage(tb.ctx, after, 2)
			if err != nil || len(page) > 2 || (more && len(page) != 2) {
				t.Fatalf("SchedulePage(%q, 2) = %v, %v, %v", after, ids(page), more, err)
			}
			for _, sc := range page {
				got = append(got, sc.ID)
			}
			if !more {
				break
			}
			after = page[len(page)-1].ID
		}
		if !slices.Equal(got, []string{"a", "b", "c", "e"}) || pages != 1 {
			t.Errorf("paged %v in %d pages, want a b c e in 2", got, pages+1)
		}
		for range 3 {
			if _, err := tb.b.TriggerSchedule(tb.ctx, "a", true); err != nil {
				t.Fatal(err)
			}
		}
		want := awaitStatus(t, tb.b, store.ExecutionFilter{ScheduleID: "a"}, store.StatusSucceeded, 3)
		f := store.ExecutionFilter{ScheduleID: "a", Limit: 2}
		var recs []store.Execution
		for range 3 {
			p, err := tb.b.ExecutionPage(tb.ctx, f)
			if err != nil || len(p.Executions) > 2 {
				t.Fatalf("ExecutionPage(%+v) = %d records, %v", f, len(p.Executions), err)
			}
			recs = append(recs, p.Executions...)
			if p.Next == "" {
				break
			}
			f.Cursor = p.Next
		}
		if len(recs) != 3 || recs[0].ID != want[0].ID || recs[2].ID != want[2].ID {
			t.Errorf("paged history of a %+v, want %+v", recs, want)
		}
	})

	t.Run("HistoryStatsClear", func(t *testing.T) {
		tb := setup(t)
		add(t, tb, req("a"))
		add(t, tb, req("b"))
		for _, id := range []string{"a", "b", "a"} {
			if _, err := tb.b.TriggerSchedule(tb.ctx, id, true); err != nil {
				t.Fatal(err)
			}
			awaitStatus(t, tb.b, store.ExecutionFilter{ScheduleID: id}, store.StatusSucceeded, map[string]int{"a": 1, "b": 1}[id])
		}
		recs := awaitStatus(t, tb.b, store.ExecutionFilter{ScheduleID: "a"}, store.StatusSucceeded, 2)
		if len(recs) != 2 || recs[0].ID == recs[1].ID {
			t.Errorf("history of a = %v", recs)
		}
		if lim, err := tb.b.Executions(tb.ctx, store.ExecutionFilter{Limit: 1}); err != nil || len(lim) != 1 {
			t.Errorf("Limit 1: %d records, %v", len(lim), err)
		}
		if hs, err := tb.b.Handlers(tb.ctx); err != nil || len(hs) != 1 || hs[0].ID != "h1" || !slices.Contains(hs[0].Methods, "work") {
			t.Errorf("Handlers = %+v, %v", hs, err)
		}
		st, err := tb.b.Stats(tb.ctx)
		if err != nil || st.Total != 3 || st.ByStatus[store.StatusSucceeded] != 3 || st.ByHandler["h1"].Succeeded != 3 {
			t.Errorf("Stats = %+v, %v, want 3 successes", st, err)
		}
		if err := tb.b.ClearExecutions(tb.ctx); err != nil {
			t.Fatal(err)
		}
		if recs, err := tb.b.Executions(tb.ctx, store.ExecutionFilter{}); err != nil || len(recs) != 0 {
			t.Errorf("after clear: %d records, %v", len(recs), err)
		}
		if st, err := tb.b.Stats(tb.ctx); err != nil || st.Total != 0 {
			t.Errorf("Stats after clear = %+v, %v", st, err)
		}
		if list, _ := tb.b.ListSchedules(tb.ctx); len(list) != 2 {
			t.Errorf("clear removed schedules: %v", ids(list))
		}
	})
}

// checkErr asserts that err is ErrNotFound (notFound) or a *field.Error
// naming fieldName.
func checkErr(t *testing.T, err error, notFound bool, fieldName string) {
	t.Helper()
	if notFound {
		if !errors.Is(err, store.ErrNotFound) {
			t.Errorf("err = %v, want store.ErrNotFound", err)
		}
		return
	}
	var fe *field.Error
	if !errors.As(err, &fe) {
		t.Errorf("err = %v, want *field.Error on %q", err, fieldName)
		return
	}
	if fe.Field != fieldName || fe.Problem == "" {
		t.Errorf("field error %+v, want field %q with a problem", fe, fieldName)
	}
}

// awaitStatus polls b until the records matching f include n in status st
// (or awaitTimeout passes) and returns them, newest first.
func awaitStatus(t *testing.T, b api.Backend, f store.ExecutionFilter, st store.Status, n int) []store.Execution {
	t.Helper()
	deadline := time.Now().Add(awaitTimeout)
	for {
		ctx, cancel := context.WithTimeout(context.Background(), time.Second)
		recs, err := b.Executions(ctx, f)
		cancel()
		var match []store.Execution
		for _, e := range recs {
			if e.Status == st {
				match = append(match, e)
			}
		}
		if err == nil && len(match) >= n {
			return match
		}
		if time.Now().After(deadline) {
			t.Fatalf("after %v: %d of %d records %+v in status %s (%v): %+v", awaitTimeout, len(match), n, f, st, err, recs)
		}
		time.Sleep(5 * time.Millisecond) // polling a condition with a deadline
	}
}

func samePolicy(a, b store.Policy) bool {
	return a.Misfire == b.Misfire && a.MisfireLimit == b.MisfireLimit && a.GraceTime == b.GraceTime && a.Overlap == b.Overlap &&
		a.QueueLimit == b.QueueLimit && a.RandomDelay == b.RandomDelay && a.RandomOffset == b.RandomOffset && a.MaxRuns == b.MaxRuns &&
		a.Backoff == b.Backoff && a.BackoffMax == b.BackoffMax && slices.Equal(a.RetryOn, b.RetryOn)
}

func ids(list []store.Schedule) string {
	var out []string
	for _, s := range list {
		out = append(out, s.ID)
	}
	return fmt.Sprint(out)
}
