package scheduler

import (
	"context"
	"fmt"
	"slices"
	"strings"
	"time"

	"github.com/schedulezero/schedulezero/pkg/store"
)

// GetSchedule returns one schedule.
func (s *Scheduler) GetSchedule(_ context.Context, id string) (store.Schedule, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	e, err := s.entryLocked(id)
	if err != nil {
		return store.Schedule{}, err
	}
	return e.record(), nil
}

// ListSchedules returns every schedule, by id.
func (s *Scheduler) ListSchedules(context.Context) ([]store.Schedule, error) {
	s.mu.Lock()
	out := make([]store.Schedule, 0, s.entries.len())
	for e := range s.entries.all() {
		out = append(out, e.record())
	}
	s.mu.Unlock()
	slices.SortFunc(out, func(a, b store.Schedule) int { return strings.Compare(a.ID, b.ID) })
	return out, nil
}

// SchedulePage returns up to limit schedules by id after after, and
// whether more follow. The order is the store's keys; each is then read
// from the engine, which holds the newest state: a schedule deleted here
// and not yet in the store is skipped, one being added and not yet durable
// is not listed. It costs the page, whatever the number of schedules.
func (s *Scheduler) SchedulePage(ctx context.Context, after string, limit int) ([]store.Schedule, bool, error) {
	out := make([]store.Schedule, 0, limit)
	for {
		want := limit + 1 - len(out) // one more says whether more follow
		ids, err := s.db.ScheduleIDs(ctx, after, want)
		if err != nil {
			return nil, false, err
		}
		s.mu.Lock()
		for _, id := range ids {
			if e := s.entries.get(id); e != nil {
				out = append(out, e.record())
			}
		}
		s.mu.Unlock()
		if len(out) > limit {
			return out[:limit], true, nil
		}
		if len(ids) < want {
			return out, false, nil
		}
		after = ids[len(ids)-1]
	}
}

// MissedCount sums the schedules' missed counts. It reads each entry's
// count and copies no record (listing every schedule for it took seconds
// at a million).
func (s *Scheduler) MissedCount(context.Context) (int64, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	var n int64
	for e := range s.entries.all() {
		n += e.rec.MissedCount
	}
	return n, nil
}

// ScheduleCounts are the schedules by state, for a metrics scrape.
type ScheduleCounts struct {
	Active, Paused, Done int
	// Overdue counts the active schedules whose next fire is more than
	// a minute past: the engine is not keeping up, or not turning.
	Overdue int
}

// CountSchedules counts the schedules by state at now, without copying
// them: a metrics scrape calls it.
func (s *Scheduler) CountSchedules(now time.Time) ScheduleCounts {
	var c ScheduleCounts
	s.mu.Lock()
	defer s.mu.Unlock()
	for e := range s.entries.all() {
		switch {
		case e.rec.Done:
			c.Done++
		case e.rec.Paused:
			c.Paused++
		default:
			c.Active++
			if !e.rec.NextFire().IsZero() && now.Sub(e.due()) > time.Minute {
				c.Overdue++
			}
		}
	}
	return c
}

// entryLocked is schedule id's entry, or store.ErrNotFound naming id. The
// caller holds s.mu.
func (s *Scheduler) entryLocked(id string) (*entry, error) {
	if e := s.entries.get(id); e != nil {
		return e, nil
	}
	return nil, fmt.Errorf("schedule %q: %w", id, store.ErrNotFound)
}
