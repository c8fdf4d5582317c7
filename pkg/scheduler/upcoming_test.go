package scheduler_test

import (
	"context"
	"encoding/json"
	"fmt"
	"slices"
	"sync/atomic"
	"testing"
	"time"

	"github.com/schedulezero/schedulezero/pkg/scheduler"
	"github.com/schedulezero/schedulezero/pkg/scheduler/schedtype"
)

func TestUpcoming_TheNextFiresInOrderFromTheHeap(t *testing.T) {
	b := setup(t, scheduler.Options{})
	var calls atomic.Int64
	b.serveHandler(t, "h", 1, okMux(&calls))
	s := b.engine
	ctx := context.Background()
	base := time.Now().Add(time.Hour).UTC()
	// Created out of order, so that the heap's array is not sorted.
	order := []int{7, 2, 9, 0, 5, 3, 8, 1, 6, 4, 11, 10}
	for _, i := range order {
		trig := fmt.Sprintf(`{"type":"date","run_date":%q}`, base.Add(time.Duration(i)*time.Minute).Format(time.RFC3339))
		if _, err := s.AddSchedule(ctx, schedtype.ScheduleRequest{ID: fmt.Sprintf("s%02d", i), HandlerID: "h", Method: "work", Trigger: json.RawMessage(trig)}); err != nil {
			t.Fatal(err)
		}
	}
	if _, err := s.PauseSchedule(ctx, "s03"); err != nil {
		t.Fatal(err)
	}
	for _, tt := range []struct {
		n    int
		want []string
	}{
		{0, nil},
		{1, []string{"s00"}},
		{5, []string{"s00", "s01", "s02", "s04", "s05"}},
		{50, []string{"s00", "s01", "s02", "s04", "s05", "s06", "s07", "s08", "s09", "s10", "s11"}},
	} {
		total, waiting, next, err := s.Upcoming(ctx, tt.n)
		if err != nil || total != 12 || waiting != 11 {
			t.Fatalf("Upcoming(%d): total %d, waiting %d, %v; want 12, 11 (one paused)", tt.n, total, waiting, err)
		}
		var ids []string
		for _, sc := range next {
			ids = append(ids, sc.ID)
		}
		if !slices.Equal(ids, tt.want) {
			t.Errorf("Upcoming(%d) = %v, want %v", tt.n, ids, tt.want)
		}
		ftotal, fwaiting, fires, err := s.UpcomingFires(ctx, tt.n)
		if err != nil || ftotal != total || fwaiting != waiting || len(fires) != len(next) {
			t.Fatalf("UpcomingFires(%d): total %d, waiting %d, %d fires, %v; Upcoming: %d, %d, %d", tt.n, ftotal, fwaiting, len(fires), err, total, waiting, len(next))
		}
		for i, f := range fires {
			if f.ScheduleID != next[i].ID || !f.At.Equal(next[i].NextFire) {
				t.Errorf("UpcomingFires(%d)[%d] = %+v, Upcoming has %s at %s", tt.n, i, f, next[i].ID, next[i].NextFire)
			}
		}
	}
}
