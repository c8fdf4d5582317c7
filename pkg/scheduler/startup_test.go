package scheduler_test

import (
	"context"
	"encoding/json"
	"fmt"
	"path/filepath"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/schedulezero/schedulezero/pkg/scheduler"
	"github.com/schedulezero/schedulezero/pkg/store"
	"github.com/schedulezero/schedulezero/pkg/store/storetest"
)

// visitCounter counts the records the store's cursors step onto, by bucket.
type visitCounter struct {
	mu sync.Mutex
	n  map[string]int
}

func (v *visitCounter) visit(bucket string) {
	v.mu.Lock()
	v.n[bucket]++
	v.mu.Unlock()
}

func (v *visitCounter) take() map[string]int {
	v.mu.Lock()
	defer v.mu.Unlock()
	n := v.n
	v.n = map[string]int{}
	return n
}

// TestScheduler_Start_ReadsEachScheduleOnceAndNoHistory: starting over a
// store of 300 schedules and 2,000 finished attempts reads each schedule
// record once and walks no history; a page of schedules then reads its page.
func TestScheduler_Start_ReadsEachScheduleOnceAndNoHistory(t *testing.T) {
	ctx := context.Background()
	v := &visitCounter{n: map[string]int{}}
	db := storetest.NewWithOptions(t, store.Options{NoSync: true, VisitFunc: v.visit})
	const n = 300
	now := time.Now()
	var w store.Writes
	for i := range n {
		s := store.Schedule{ID: fmt.Sprintf("s%03d", i), HandlerID: "h", Method: "work",
			Trigger:  json.RawMessage(`{"type":"interval","seconds":3600}`),
			NextFire: now.Add(time.Hour), CreatedAt: now, UpdatedAt: now}
		w.Schedules = append(w.Schedules, s)
	}
	for i := range 2000 {
		w.Executions = append(w.Executions, store.Execution{ID: fmt.Sprintf("%026d", i), Attempt: 1, ScheduleID: "s001",
			HandlerID: "h", Method: "work", Status: store.StatusSucceeded, StartedAt: now, CompletedAt: now})
	}
	if err := db.Commit(ctx, w); err != nil {
		t.Fatal(err)
	}
	// Half the schedules have fired since: their state is apart.
	if err := db.Commit(ctx, store.Writes{ScheduleStates: w.Schedules[:n/2]}); err != nil {
		t.Fatal(err)
	}
	v.take()
	eng, err := scheduler.New(ctx, scheduler.Options{Store: db})
	if err != nil {
		t.Fatal(err)
	}
	if err := eng.Start(ctx); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		sctx, cancel := context.WithTimeout(ctx, 5*time.Second)
		defer cancel()
		if err := eng.Stop(sctx); err != nil {
			t.Error(err)
		}
	})
	if got := v.take(); got["schedules"] != n || len(got) != 1 {
		t.Errorf("start-up visited %v, want %d schedules and nothing else", got, n)
	}
	page, more, err := eng.SchedulePage(ctx, "s100", 10)
	if err != nil || len(page) != 10 || !more || page[0].ID != "s101" || page[9].ID != "s110" {
		t.Fatalf("SchedulePage(s100, 10) = %d schedules from %v, more %v, %v", len(page), page, more, err)
	}
	if got := v.take(); got["schedules"] > 11 || len(got) != 1 {
		t.Errorf("a page of 10 visited %v, want at most 11 schedules", got)
	}
	last, more, err := eng.SchedulePage(ctx, "s295", 10)
	if err != nil || len(last) != 4 || more {
		t.Errorf("last page = %d schedules, more %v, %v; want 4, no more", len(last), more, err)
	}
}

// TestScheduler_Start_TriggerThatDoesNotCompileNeverFires: triggers are
// compiled at their first fire, not at start-up; one that does not compile
// (its time zone is unknown) is kept and listed but never fires, and the
// schedules due after it still do.
func TestScheduler_Start_TriggerThatDoesNotCompileNeverFires(t *testing.T) {
	ctx := context.Background()
	db := storetest.New(t)
	now := time.Now()
	trig := json.RawMessage(`{"type":"interval","seconds":3600}`)
	if err := db.Commit(ctx, store.Writes{Schedules: []store.Schedule{
		{ID: "bad", HandlerID: "h", Method: "work", Trigger: trig, Timezone: "Nowhere/Bogus", NextFire: now.Add(-2 * time.Second), CreatedAt: now, UpdatedAt: now},
		{ID: "good", HandlerID: "h", Method: "work", Trigger: trig, NextFire: now.Add(-time.Second), CreatedAt: now, UpdatedAt: now},
	}}); err != nil {
		t.Fatal(err)
	}
	b := setup(t, scheduler.Options{Store: db})
	var calls atomic.Int64
	b.serveHandler(t, "h", 2, okMux(&calls))
	await(t, "good fired", func() bool {
		return countStatus(b.executions(t, store.ExecutionFilter{ScheduleID: "good"}), store.StatusSucceeded) == 1
	})
	bad, err := b.engine.GetSchedule(ctx, "bad")
	if err != nil || bad.FireCount != 0 || bad.Done {
		t.Errorf("bad = %+v, %v; want listed, never fired", bad, err)
	}
	if recs := b.executions(t, store.ExecutionFilter{ScheduleID: "bad"}); len(recs) != 0 {
		t.Errorf("bad has %d executions, want none", len(recs))
	}
}

// TestScheduler_Start_KeepsNoViewOfTheFile: the engine loads views of the
// store's pages (store.DB.EachScheduleView) and must copy what it keeps:
// with the file closed (its pages unmapped) the engine still lists every
// schedule as it was.
func TestScheduler_Start_KeepsNoViewOfTheFile(t *testing.T) {
	ctx := context.Background()
	db, err := store.Open(filepath.Join(t.TempDir(), "s.db"), store.Options{NoSync: true})
	if err != nil {
		t.Fatal(err)
	}
	now := time.Now().UTC().Truncate(time.Second)
	var w store.Writes
	for i := range 50 {
		s := store.Schedule{ID: fmt.Sprintf("s%03d", i), HandlerID: fmt.Sprintf("h%d", i%3), Method: "work",
			Trigger:  json.RawMessage(`{"type":"interval","seconds":3600}`),
			NextFire: now.Add(time.Hour), CreatedAt: now, UpdatedAt: now}
		if i%2 == 0 {
			s.Params = json.RawMessage(fmt.Sprintf(`{"n":%d}`, i))
		}
		if i%5 == 0 {
			s.Source, s.Policy = "file:s.schedule", store.Policy{Overlap: store.OverlapQueue, QueueLimit: 2}
		}
		w.Schedules = append(w.Schedules, s)
	}
	if err := db.Commit(ctx, w); err != nil {
		t.Fatal(err)
	}
	want, err := db.ListSchedules(ctx)
	if err != nil {
		t.Fatal(err)
	}
	eng, err := scheduler.New(ctx, scheduler.Options{Store: db})
	if err != nil {
		t.Fatal(err)
	}
	if err := eng.Stop(ctx); err != nil {
		t.Fatal(err)
	}
	if err := db.Close(); err != nil {
		t.Fatal(err)
	}
	got, err := eng.ListSchedules(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if len(got) != len(want) {
		t.Fatalf("engine lists %d schedules, the store had %d", len(got), len(want))
	}
	for i := range want {
		g, _ := json.Marshal(got[i])
		w, _ := json.Marshal(want[i])
		if string(g) != string(w) {
			t.Errorf("engine holds %s\nthe store had %s", g, w)
		}
	}
}
