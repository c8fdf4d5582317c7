package scheduler_test

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"slices"
	"strings"
	"testing"
	"testing/synctest"
	"time"

	"github.com/schedulezero/schedulezero/pkg/scheduler/schedtype"
	"github.com/schedulezero/schedulezero/pkg/store"
	"github.com/schedulezero/schedulezero/pkg/wire"
)

func TestRetry_BackoffSequenceAndOutcomes(t *testing.T) {
	failing := func(ctx context.Context, _ wire.Request) (wire.Reply, error) {
		return wire.Reply{Success: false, Error: "boom", Raw: json.RawMessage(`{"success":false,"error":"boom"}`)}, nil
	}
	synctest.Test(t, func(t *testing.T) {
		h := &fakeHandler{fn: failing}
		s := newSim(t, h)
		s.add(schedtype.ScheduleRequest{ID: "r", Trigger: json.RawMessage(`{"type":"interval","days":7}`), MaxAttempts: 5,
			Policy: store.Policy{Backoff: 10 * time.Second, BackoffMax: 30 * time.Second}})
		s.advance(10 * time.Minute)
		recs := s.history("r")
		if len(recs) != 5 || countStatus(recs, store.StatusFailed) != 5 {
			t.Fatalf("attempts: %d records, %d failed; want 5 and 5", len(recs), countStatus(recs, store.StatusFailed))
		}
		// Delay before attempt n+1 lies in [d/2, d] with d = 10s·2^(n-1) capped at 30s.
		caps := []time.Duration{10 * time.Second, 20 * time.Second, 30 * time.Second, 30 * time.Second}
		for i := 1; i < len(recs); i++ {
			if recs[i].Attempt != i+1 || recs[i].ID != recs[0].ID {
				t.Fatalf("record %d is attempt %d of %s", i, recs[i].Attempt, recs[i].ID)
			}
			gap := recs[i].StartedAt.Sub(recs[i-1].CompletedAt)
			if d := caps[i-1]; gap < d/2 || gap > d {
				t.Errorf("backoff before attempt %d: %v, want within [%v, %v]", i+1, gap, d/2, d)
			}
		}
	})
	synctest.Test(t, func(t *testing.T) {
		h := &fakeHandler{fn: failing}
		s := newSim(t, h)
		s.add(schedtype.ScheduleRequest{ID: "r", Trigger: json.RawMessage(`{"type":"interval","days":7}`), MaxAttempts: 5,
			Policy: store.Policy{RetryOn: []string{store.RetryOnTimeout}}})
		s.advance(10 * time.Minute)
		if got := len(s.history("r")); got != 1 {
			t.Fatalf("an error was retried though only timeouts are: %d attempts", got)
		}
	})
}

func TestTimeout_CancelsOnHandlerAndRecords(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		h := &fakeHandler{fn: sleepFor(time.Hour)}
		s := newSim(t, h)
		s.add(schedtype.ScheduleRequest{ID: "t", Trigger: json.RawMessage(`{"type":"interval","days":7}`), MaxAttempts: 1, Timeout: time.Minute})
		s.advance(2 * time.Minute)
		recs := s.history("t")
		if len(recs) != 1 || recs[0].Status != store.StatusTimedOut {
			t.Fatalf("records: %+v", recs)
		}
		if _, cancels, _ := h.stats(); cancels != 1 {
			t.Fatalf("handler told to cancel %d times, want 1", cancels)
		}
	})
}

func TestBackfill_RunsEachOccurrenceInOrder(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		h := &fakeHandler{fn: sleepFor(time.Minute)}
		s := newSim(t, h)
		s.advance(10 * 24 * time.Hour)
		s.add(schedtype.ScheduleRequest{ID: "d", Trigger: json.RawMessage(`{"type":"cron","expr":"0 6 * * *"}`), MaxAttempts: 1})
		now := time.Now()
		res, err := s.eng.Backfill(context.Background(), "d", now.Add(-5*24*time.Hour), now)
		if err != nil {
			t.Fatal(err)
		}
		if len(res.Occurrences) != 5 {
			t.Fatalf("backfill of 5 days queued %d occurrences", len(res.Occurrences))
		}
		s.advance(time.Hour)
		recs := s.history("d")
		var got []time.Time
		for _, r := range recs {
			if r.Status == store.StatusSucceeded {
				got = append(got, r.ScheduledAt)
			}
		}
		if !slices.Equal(got, res.Occurrences) {
			t.Fatalf("ran %v, want %v in order", got, res.Occurrences)
		}
		if _, _, peak := h.stats(); peak != 1 {
			t.Fatalf("backfill ran %d at once, want one after another", peak)
		}
		if _, err := s.eng.Backfill(context.Background(), "d", now.Add(-10*365*24*time.Hour), now); err == nil {
			t.Fatal("an unbounded backfill was accepted")
		}
	})
}

func TestJitter_DelayBoundedOffsetStable(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		s := newSim(t, &fakeHandler{})
		sch := s.add(schedtype.ScheduleRequest{ID: "j", Trigger: json.RawMessage(`{"type":"cron","expr":"0 * * * *"}`),
			Policy: store.Policy{RandomDelay: 5 * time.Minute, RandomOffset: 20 * time.Minute}})
		s.advance(6 * time.Hour)
		recs := s.history("j")
		if len(recs) < 5 {
			t.Fatalf("%d runs in 6 hours", len(recs))
		}
		var offset time.Duration = -1
		for _, r := range recs {
			late := r.StartedAt.Sub(r.ScheduledAt)
			if late < 0 || late > 25*time.Minute {
				t.Fatalf("run %v started %v after its occurrence", r.ScheduledAt, late)
			}
			if r.ScheduledAt.Minute() != 0 {
				t.Fatalf("occurrence %v is not the trigger's", r.ScheduledAt)
			}
			_ = offset
		}
		// The offset survives a restart: the next fire time is the same.
		next := sch.NextFire
		s.stop()
		s.start()
		got, _ := s.eng.GetSchedule(context.Background(), "j")
		if got.Policy.RandomOffset != 20*time.Minute || got.NextFire.IsZero() || next.IsZero() {
			t.Fatalf("policy lost across restart: %+v", got.Policy)
		}
	})
}

func TestMaxRuns_EndsSchedule(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		h := &fakeHandler{}
		s := newSim(t, h)
		s.add(schedtype.ScheduleRequest{ID: "m", Trigger: json.RawMessage(`{"type":"interval","minutes":1}`), Policy: store.Policy{MaxRuns: 3}})
		s.advance(10 * time.Minute)
		if calls, _, _ := h.stats(); calls != 3 {
			t.Fatalf("%d runs, want 3", calls)
		}
		sch, _ := s.eng.GetSchedule(context.Background(), "m")
		if !sch.Done || !sch.NextFire.IsZero() {
			t.Fatalf("schedule not done after max runs: %+v", sch)
		}
	})
}

func TestPolicy_Validation(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		s := newSim(t, &fakeHandler{})
		for _, pol := range []store.Policy{{Misfire: "sometimes"}, {Overlap: "merge"}, {RetryOn: []string{"panic"}}, {GraceTime: -1}, {MaxRuns: -2}} {
			_, err := s.eng.AddSchedule(context.Background(), schedtype.ScheduleRequest{HandlerID: "h", Method: "work",
				Trigger: json.RawMessage(`{"type":"interval","minutes":1}`), Policy: pol})
			if err == nil {
				t.Fatalf("policy %+v accepted", pol)
			}
			if !strings.Contains(err.Error(), "use") {
				t.Errorf("error %q gives no fix", err)
			}
			var target interface{ Error() string }
			if !errors.As(err, &target) {
				t.Fatal(err)
			}
		}
		_ = fmt.Sprint()
	})
}

func TestCalendarSchedule_FiresOnSystemdCalendar(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		h := &fakeHandler{}
		s := newSim(t, h) // Saturday 2000-01-01 00:00:30 UTC
		s.add(schedtype.ScheduleRequest{ID: "cal", Trigger: json.RawMessage(`{"type":"calendar","expr":"Mon..Fri *-*-* 09:00"}`)})
		s.advance(7 * 24 * time.Hour)
		recs := s.history("cal")
		if len(recs) != 5 {
			t.Fatalf("%d runs in a week of weekdays at 09:00, want 5", len(recs))
		}
		for _, r := range recs {
			if wd := r.ScheduledAt.Weekday(); wd == time.Saturday || wd == time.Sunday || r.ScheduledAt.Hour() != 9 {
				t.Fatalf("ran at %v", r.ScheduledAt)
			}
		}
	})
}

// Editing a schedule keeps its history and validates like a new one; a
// new time zone alone moves a wall-clock trigger to that zone.
func TestUpdateSchedule(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		s := newSim(t, &fakeHandler{}) // 2000-01-01 00:00:30 UTC
		s.add(schedtype.ScheduleRequest{ID: "nine", Trigger: json.RawMessage(`{"type":"cron","expr":"0 9 * * *"}`), Timezone: "UTC"})
		s.advance(24 * time.Hour)
		if n := len(s.history("nine")); n != 1 {
			t.Fatalf("%d runs in the first day, want 1", n)
		}

		ctx := context.Background()
		zone := "America/New_York"
		sch, err := s.eng.UpdateSchedule(ctx, "nine", schedtype.ScheduleUpdate{Timezone: &zone})
		if err != nil {
			t.Fatal(err)
		}
		ny, _ := time.LoadLocation(zone)
		if got := sch.NextFire.In(ny); got.Hour() != 9 || got.Minute() != 0 {
			t.Fatalf("after moving to %s the next fire is %v, want 09:00 there", zone, got)
		}
		if n := len(s.history("nine")); n != 1 {
			t.Fatalf("the edit lost history: %d records, want 1", n)
		}

		bad := "nosuch"
		neg := -time.Second
		for _, tc := range []struct {
			name  string
			u     schedtype.ScheduleUpdate
			field string
		}{
			{"unknown method", schedtype.ScheduleUpdate{Method: &bad}, "job_method"},
			{"negative timeout", schedtype.ScheduleUpdate{Timeout: &neg}, "timeout"},
			{"unknown zone", schedtype.ScheduleUpdate{Timezone: &bad}, "timezone"},
		} {
			_, err := s.eng.UpdateSchedule(ctx, "nine", tc.u)
			if err == nil || !strings.Contains(err.Error(), tc.field) {
				t.Errorf("%s: UpdateSchedule error = %v, want one naming %q", tc.name, err, tc.field)
			}
		}
		got, err := s.eng.GetSchedule(ctx, "nine")
		if err != nil {
			t.Fatal(err)
		}
		if got.Method != "work" || got.Timeout != 0 || got.Timezone != zone {
			t.Errorf("a refused edit changed the schedule: %+v", got)
		}
	})
}
