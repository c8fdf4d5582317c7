package governor

import (
	"context"
	"fmt"
	"log/slog"
	"net"
	"time"
)

// Defaults of Options.
const (
	DefaultCheckInterval = 5 * time.Second
	DefaultFailedChecks  = 3
	DefaultStopTimeout   = 10 * time.Second
	// DefaultScheduler is the registration endpoint written into a handler's
	// config when neither the handler nor Options name one.
	DefaultScheduler = "tcp://127.0.0.1:4242"
)

// Options configure a Supervisor.
type Options struct {
	// Units is the backend. Required.
	Units UnitManager
	// Backend names it in Metrics ("systemd", "process").
	Backend string
	// ConfigDir holds NAME.json (read by the handler) and NAME.governor
	// (the governor's record). Required.
	ConfigDir string
	// Scheduler is the registration endpoint given to handlers that name
	// none.
	Scheduler string
	// Deployment names this deployment in Metrics.
	Deployment string
	// CheckInterval is how often every handler is pinged.
	CheckInterval time.Duration
	// PingTimeout bounds one ping; default half the CheckInterval, at
	// most 2s.
	PingTimeout time.Duration
	// FailedChecks consecutive failed pings make a handler hung.
	FailedChecks int
	// StopTimeout is the SIGTERM-to-SIGKILL wait of restarts.
	StopTimeout time.Duration
	// OwnsHandlers stops every handler when the Supervisor stops: true
	// for the process backend, whose handlers are its children; false for
	// systemd, whose units outlive the governor.
	OwnsHandlers bool
	// PingFunc pings a handler's job socket; default: a wire "ping".
	PingFunc func(ctx context.Context, name, endpoint string) error
	// SchedulerViewFunc returns the scheduler's status of each registered
	// handler by id; nil or an error skips that view.
	SchedulerViewFunc func(ctx context.Context) (map[string]string, error)
	// SchedulerRemoveFunc tells the scheduler that a handler was removed
	// (RemoveHandler), so that it stops listing it and records the fires
	// of its schedules as missed; nil tells nobody. Its error is logged:
	// the removal stands either way.
	SchedulerRemoveFunc func(ctx context.Context, name string) error
	// EndpointFunc picks a job endpoint for a handler added without one;
	// default: a free TCP port on 127.0.0.1.
	EndpointFunc func(name string) (string, error)
	// ImplicitEndpoint is the job endpoint a handler binds when its config
	// file names none (under systemd: handlername.RuntimeEndpoint), so that a
	// hand-written NAME.json is pinged too; nil: such a handler is judged
	// by its unit state alone.
	ImplicitEndpoint func(name string) string
	// NowFunc is the clock of health checks, restart delays and the
	// heartbeat; default time.Now. Tests give a fake one.
	NowFunc func() time.Time
	Logger  *slog.Logger
}

func (o *Options) setDefaults() {
	if o.CheckInterval <= 0 {
		o.CheckInterval = DefaultCheckInterval
	}
	if o.PingTimeout <= 0 {
		o.PingTimeout = min(o.CheckInterval/2, 2*time.Second)
	}
	if o.FailedChecks <= 0 {
		o.FailedChecks = DefaultFailedChecks
	}
	if o.StopTimeout <= 0 {
		o.StopTimeout = DefaultStopTimeout
	}
	if o.Scheduler == "" {
		o.Scheduler = DefaultScheduler
	}
	if o.Deployment == "" {
		o.Deployment = "default"
	}
	if o.EndpointFunc == nil {
		o.EndpointFunc = freeTCPEndpoint
	}
	if o.NowFunc == nil {
		o.NowFunc = time.Now
	}
	if o.Logger == nil {
		o.Logger = slog.New(slog.DiscardHandler)
	}
}

// freeTCPEndpoint asks the kernel for a free loopback port.
func freeTCPEndpoint(string) (string, error) {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return "", fmt.Errorf("pick an endpoint: %w", err)
	}
	defer l.Close() //nolint:errcheck // only the port number was wanted
	return "tcp://" + l.Addr().String(), nil
}
