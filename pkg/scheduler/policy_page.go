package scheduler

import (
	"context"

	"github.com/schedulezero/schedulezero/pkg/store"
)

// PolicyPage returns the policies of the schedules among the next limit
// by id after after that have one (a zero policy is left out), and the id
// to continue after ("" at the end). It copies no record: the notifier
// reads every schedule's targets once at start with it, which costs a
// million schedules without a policy next to nothing.
func (s *Scheduler) PolicyPage(ctx context.Context, after string, limit int) (map[string]store.Policy, string, error) {
	ids, err := s.db.ScheduleIDs(ctx, after, limit)
	if err != nil {
		return nil, "", err
	}
	out := map[string]store.Policy{}
	s.mu.Lock()
	for _, id := range ids {
		if e := s.entries.get(id); e != nil && !e.policy().IsZero() {
			out[id] = e.policy()
		}
	}
	s.mu.Unlock()
	next := ""
	if len(ids) == limit {
		next = ids[len(ids)-1]
	}
	return out, next, nil
}
