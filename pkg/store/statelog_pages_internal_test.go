package store

import "testing"

// TestGroupCommit_PagesWrittenPerFire holds the pages one saturated group
// commit writes to what its records need: 300 fires (running attempt and
// firing state) and the successes of 300 earlier ones, over 10,000
// schedules fired in no relation to their IDs. A fire's firing state
// used to be put into schedule_state by schedule ID, so each landed on a
// different page of it and a commit rewrote most of its pages: 301 pages
// a commit, 64 of them for everything but the states. Appended to
// schedule_state_log, the states of a commit fill a few pages: 73 in all.
func TestGroupCommit_PagesWrittenPerFire(t *testing.T) {
	db, g := openGroupLoad(t, 10_000, 7919)
	const fires = 300
	for range 40 { // every schedule fired at least once, history on many pages
		g.commit(t, db, g.writes(fires))
	}
	before := db.bolt.Stats().TxStats
	const rounds = 10
	for range rounds {
		g.commit(t, db, g.writes(fires))
	}
	after := db.bolt.Stats().TxStats
	d := after.Sub(&before)
	pages := float64(d.GetWrite()) / rounds
	t.Logf("%.1f pages written per group commit of %d fires and %d successes (%.0f KB)", pages, fires, fires, pages*4)
	if pages > 100 {
		t.Errorf("%.1f pages written per group commit, want at most 100", pages)
	}
}
