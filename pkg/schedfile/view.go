package schedfile

import (
	"fmt"
	"time"

	"github.com/schedulezero/schedulezero/pkg/api"
	"github.com/schedulezero/schedulezero/pkg/store"
)

// FromAPI is the store form of a schedule as the API shows it, for
// planning and exporting on the client's side.
func FromAPI(v api.Schedule) (store.Schedule, error) {
	pol, err := v.Policy.Store()
	if err != nil {
		return store.Schedule{}, fmt.Errorf("schedule %q: %w", v.ID, err)
	}
	var timeout time.Duration
	if v.Timeout != "" {
		if timeout, err = time.ParseDuration(v.Timeout); err != nil {
			return store.Schedule{}, fmt.Errorf("schedule %q: timeout %q: %w", v.ID, v.Timeout, err)
		}
	}
	return store.Schedule{
		ID: v.ID, HandlerID: v.HandlerID, Method: v.Method, Params: v.Params, Trigger: v.Trigger, Timezone: v.Timezone,
		Paused: v.Paused, PausedAt: v.PausedAt, MaxAttempts: v.MaxAttempts, Timeout: timeout, Policy: pol,
		NextFire: v.NextFire, LastFire: v.LastFire, FireCount: v.FireCount, MissedCount: v.MissedCount, Done: v.Done,
		CreatedAt: v.CreatedAt, UpdatedAt: v.UpdatedAt, Source: v.Source,
	}, nil
}
