package store

import (
	"path/filepath"
	"testing"
	"time"
)

func TestState_RoundTrip(t *testing.T) {
	at := time.Date(2026, 11, 29, 10, 0, 0, 123456789, time.UTC)
	tests := []Schedule{
		{ID: "zero"},
		{ID: "all", NextFire: at, LastFire: at.Add(-time.Hour), PausedAt: at.Add(-time.Minute), FireCount: 7, MissedCount: 3, Done: true},
		{ID: "next only", NextFire: at, FireCount: 1},
	}
	for _, want := range tests {
		got := Schedule{ID: want.ID, FireCount: 99, NextFire: at.Add(time.Hour)} // overwritten
		if err := overlayState(&got, encodeState(&want)); err != nil {
			t.Fatal(err)
		}
		if !got.NextFire.Equal(want.NextFire) || !got.LastFire.Equal(want.LastFire) || !got.PausedAt.Equal(want.PausedAt) ||
			got.NextFire.IsZero() != want.NextFire.IsZero() || got.FireCount != want.FireCount ||
			got.MissedCount != want.MissedCount || got.Done != want.Done {
			t.Errorf("%s: overlay gave %+v, want %+v", want.ID, got, want)
		}
	}
	if err := overlayState(&Schedule{ID: "x"}, []byte{9, 0}); err == nil {
		t.Error("a short entry was accepted")
	}
}

// Fires write only the state; every reader sees it, a whole record replaces
// it, and deleting the schedule removes both.
func TestState_OverlaysRecord(t *testing.T) {
	path := filepath.Join(t.TempDir(), "sz.db")
	db, err := Open(path, Options{NoSync: true})
	if err != nil {
		t.Fatal(err)
	}
	defer func() { db.Close() }()
	ctx := t.Context()
	at := time.Date(2026, 11, 29, 10, 0, 0, 0, time.UTC)
	rec := Schedule{ID: "s", HandlerID: "h", Method: "m", Trigger: []byte(`{"type":"interval","seconds":1}`), NextFire: at, CreatedAt: at}
	if err := db.Commit(ctx, Writes{Schedules: []Schedule{rec}}); err != nil {
		t.Fatal(err)
	}
	fired := rec
	fired.NextFire, fired.LastFire, fired.FireCount, fired.MissedCount = at.Add(time.Second), at, 1, 2
	if err := db.Commit(ctx, Writes{ScheduleStates: []Schedule{fired, {ID: "gone", FireCount: 5}}}); err != nil {
		t.Fatal(err)
	}
	check := func(when string, want Schedule) {
		t.Helper()
		got, err := db.GetSchedule(ctx, "s")
		if err != nil {
			t.Fatal(err)
		}
		list, err := db.ListSchedules(ctx)
		if err != nil || len(list) != 1 {
			t.Fatalf("%s: list %+v, %v", when, list, err)
		}
		for _, g := range []Schedule{got, list[0]} {
			if !g.NextFire.Equal(want.NextFire) || !g.LastFire.Equal(want.LastFire) || g.FireCount != want.FireCount ||
				g.MissedCount != want.MissedCount || g.Method != want.Method {
				t.Fatalf("%s: got %+v, want %+v", when, g, want)
			}
		}
	}
	check("after a fire", fired)
	if _, err := db.GetSchedule(ctx, "gone"); err == nil {
		t.Fatal("a state write created a schedule")
	}

	if err := db.Close(); err != nil {
		t.Fatal(err)
	}
	if db, err = Open(path, Options{NoSync: true}); err != nil {
		t.Fatal(err)
	}
	check("after a reopen", fired)

	// UpdateSchedule starts from the overlaid state and writes it all.
	updated, err := db.UpdateSchedule(ctx, "s", func(s *Schedule) error { s.Method = "m2"; return nil })
	if err != nil || updated.FireCount != 1 {
		t.Fatalf("update: %+v, %v", updated, err)
	}
	fired.Method = "m2"
	check("after an update", fired)

	edited := fired
	edited.FireCount = 10 // a whole record write wins over the state entry
	if err := db.Commit(ctx, Writes{Schedules: []Schedule{edited}}); err != nil {
		t.Fatal(err)
	}
	check("after a whole write", edited)
	if n := keyN(t, db, bucketScheduleState); n != 0 {
		t.Fatalf("%d state entries after a whole write", n)
	}

	if err := db.Commit(ctx, Writes{ScheduleStates: []Schedule{fired}}); err != nil {
		t.Fatal(err)
	}
	if err := db.DeleteSchedule(ctx, "s"); err != nil {
		t.Fatal(err)
	}
	if n := keyN(t, db, bucketScheduleState); n != 0 {
		t.Fatalf("%d state entries after delete", n)
	}
}

// A fire's writes (its attempt's running record and its schedule's firing
// state) are prepared for the committer in a few allocations, whatever the
// schedule: the state is 42 bytes encoded into one, not the record.
func TestPrepare_AFireAllocatesAFewTimes(t *testing.T) {
	at := time.Date(2026, 11, 29, 10, 0, 0, 0, time.UTC)
	w := Writes{
		Executions: []Execution{{ID: "01JEXAMPLEEXECUTION0000001", Attempt: 1, MaxAttempts: 1, ScheduleID: "bench-0000001",
			HandlerID: "bench", Method: "quick_aling", Status: StatusRunning, ScheduledAt: at, StartedAt: at}},
		ScheduleStates: []Schedule{{ID: "bench-0000001", NextFire: at.Add(100 * time.Second), LastFire: at, FireCount: 7}},
	}
	// Nine when this was written: the request; the state, the record and
	// its key, each with its slice; the record's buffer growing once.
	const most = 9
	if n := testing.AllocsPerRun(100, func() {
		if _, err := prepare(w); err != nil {
			t.Fatal(err)
		}
	}); n > most {
		t.Errorf("prepare of a fire's writes: %v allocations, want at most %d", n, most)
	}
}
