package schedulerd

import (
	"context"
	"time"

	"github.com/schedulezero/schedulezero/pkg/metric"
	"github.com/schedulezero/schedulezero/pkg/scheduler"
)

// metricSource shows the engine to a metrics scrape in the exporter's
// own types.
type metricSource struct{ engine *scheduler.Scheduler }

func (s metricSource) Schedules(now time.Time) metric.Schedules {
	c := s.engine.CountSchedules(now)
	return metric.Schedules{Active: c.Active, Paused: c.Paused, Done: c.Done, Overdue: c.Overdue}
}

func (s metricSource) Handlers(ctx context.Context) ([]metric.Handler, error) {
	hs, err := s.engine.Handlers(ctx)
	if err != nil {
		return nil, err
	}
	out := make([]metric.Handler, len(hs))
	for i, h := range hs {
		out[i] = metric.Handler{ID: h.ID, Online: h.Status == "online", Removed: h.Status == "removed",
			InFlight: h.InFlight, LatencyMS: h.LatencyMS, ErrorRate: h.ErrorRate, Instances: make([]metric.Instance, len(h.Instances))}
		for j, in := range h.Instances {
			id := in.ID
			if id == "" {
				id = in.Address // a process that sent no instance id
			}
			out[i].Instances[j] = metric.Instance{ID: id, Host: in.Host, Up: in.Status == "online" && in.Healthy,
				InFlight: in.InFlight, LatencyMS: in.LatencyMS, ErrorRate: in.ErrorRate, Errors: in.Errors}
		}
	}
	return out, nil
}
