package scheduler_test

import (
	"testing"
	"testing/synctest"
	"time"

	"github.com/schedulezero/schedulezero/pkg/store"
)

// Misfire all: the scheduler stops in the middle of a catch-up (each
// catch-up run takes ten minutes) and starts again. The occurrences of
// the outage that had not run yet still run, once each, one at a time,
// after the restart: none is lost with the stopped engine's memory.
func TestMisfire_All_AStopDuringTheCatchUpLosesNoneOfIt(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		h := &fakeHandler{fn: sleepFor(10 * time.Minute)}
		s := newSim(t, h)
		s.add(hourly(store.Policy{Misfire: store.MisfireAll, MisfireLimit: 10}))
		s.advance(2*time.Hour + 30*time.Minute) // fires at 01:00 and 02:00
		before := len(s.history("hourly"))
		s.stop()
		time.Sleep(72 * time.Hour) // 72 occurrences pass: 03:00 day 0 to 02:00 day 3
		s.start()
		s.advance(25 * time.Minute) // two catch-up runs done, the third running
		if n := countStatus(s.history("hourly")[before:], store.StatusSucceeded); n != 2 {
			t.Fatalf("%d catch-up runs before the second stop, want 2", n)
		}
		s.stop()
		s.start()
		s.advance(3 * time.Hour) // the rest of the catch-up, and later fires

		gapStart := time.Date(2000, 1, 1, 3, 0, 0, 0, time.UTC)
		gapEnd := gapStart.Add(71 * time.Hour)
		seen := map[time.Time][]store.Status{}
		for _, r := range s.history("hourly")[before:] {
			if !r.ScheduledAt.Before(gapStart) && !r.ScheduledAt.After(gapEnd) {
				seen[r.ScheduledAt] = append(seen[r.ScheduledAt], r.Status)
			}
		}
		ran := 0
		for occ := gapStart; !occ.After(gapEnd); occ = occ.Add(time.Hour) {
			switch st := seen[occ]; {
			case len(st) != 1:
				t.Errorf("occurrence %v of the outage: %d records %v, want 1", occ.Format("Jan 2 15:04"), len(st), st)
			case st[0] != store.StatusMissed:
				ran++
			}
		}
		if ran != 10 {
			t.Errorf("%d occurrences of the outage ran, want the catch-up limit, 10", ran)
		}
		if _, _, peak := h.stats(); peak != 1 {
			t.Errorf("%d runs at once, want the catch-up's one at a time", peak)
		}
	})
}
