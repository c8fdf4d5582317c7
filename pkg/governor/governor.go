package governor

import (
	"encoding/json"
	"fmt"
	"strings"
	"time"

	"github.com/coreos/go-systemd/v22/unit"
	"github.com/schedulezero/schedulezero/pkg/field"
	"github.com/schedulezero/schedulezero/pkg/handlername"
	"github.com/schedulezero/schedulezero/pkg/secretfile"
)

// Handler states reported in HandlerInfo.State: systemd's ActiveState
// values, which the process backend uses too.
const (
	StateActive       = "active"
	StateActivating   = "activating"
	StateDeactivating = "deactivating"
	StateInactive     = "inactive"
	StateFailed       = "failed"
)

// HandlerConfig is one handler as an operator declares it.
type HandlerConfig struct {
	Name        string                     `json:"name"`
	Kind        string                     `json:"kind"`
	Methods     map[string]json.RawMessage `json:"methods,omitempty"`
	Endpoint    string                     `json:"endpoint,omitempty"`
	Scheduler   string                     `json:"scheduler,omitempty"`
	Concurrency int                        `json:"concurrency,omitempty"`
	// AutoRestart restarts the handler when it crashes or hangs; nil means
	// true.
	AutoRestart *bool `json:"auto_restart,omitempty"`
	// MaxRestarts is the restart budget; 0 means DefaultMaxRestarts.
	MaxRestarts int `json:"max_restarts,omitempty"`
	// RestartDelay is the first backoff; it doubles with each restart.
	RestartDelay handlername.Duration `json:"restart_delay,omitempty"`
	// Extra holds further keys of the handler's config file (for example
	// ping_interval, secret_file).
	Extra map[string]json.RawMessage `json:"extra,omitempty"`
}

// Defaults of the restart policy.
const (
	DefaultMaxRestarts  = 5
	DefaultRestartDelay = time.Second
	// MaxRestartDelay caps the exponential backoff.
	MaxRestartDelay = time.Minute
)

func (c HandlerConfig) autoRestart() bool { return c.AutoRestart == nil || *c.AutoRestart }

func (c HandlerConfig) maxRestarts() int {
	if c.MaxRestarts <= 0 {
		return DefaultMaxRestarts
	}
	return c.MaxRestarts
}

// Backoff returns the wait before restart number n (1-based): RestartDelay
// doubled n-1 times, capped at MaxRestartDelay.
func (c HandlerConfig) Backoff(n int) time.Duration {
	d := time.Duration(c.RestartDelay)
	if d <= 0 {
		d = DefaultRestartDelay
	}
	for i := 1; i < n && d < MaxRestartDelay; i++ {
		d *= 2
	}
	return min(d, MaxRestartDelay)
}

// Validate checks cfg and returns a *field.Error naming the bad field.
func (c HandlerConfig) Validate() error {
	if err := field.Prefix("name", handlername.Check(c.Name)); err != nil {
		return err
	}
	switch c.Kind {
	case handlername.KindDingaling:
		if len(c.Methods) > 0 {
			return field.Errorf("methods", "only the exec kind has methods").WithFix("drop methods or use kind exec")
		}
	case handlername.KindExec:
		if len(c.Methods) == 0 {
			return field.Errorf("methods", "the exec kind needs at least one method").WithFix(`give {"name":{"command":["/path/prog"]}}`)
		}
	default:
		return field.Errorf("kind", "%q is not a handler kind", c.Kind).WithFix(`use "dingaling" or "exec"`)
	}
	if c.Concurrency < 0 {
		return field.Errorf("concurrency", "is negative").WithFix("use 0 for the default or a positive number")
	}
	if c.MaxRestarts < 0 {
		return field.Errorf("max_restarts", "is negative").WithFix("use 0 for the default or a positive number")
	}
	if c.RestartDelay < 0 {
		return field.Errorf("restart_delay", "is negative").WithFix(`use a duration such as "1s"`)
	}
	for k, v := range c.Extra {
		switch k {
		case "ping_interval":
			var d handlername.Duration
			if err := json.Unmarshal(v, &d); err != nil {
				return field.Errorf("extra.ping_interval", "%v", err).WithFix(`use a duration such as "5s"`)
			}
		case "secret_file":
			var name string
			if err := json.Unmarshal(v, &name); err != nil {
				return field.Errorf("extra.secret_file", "must be a string").WithFix("give an absolute path, or the name of a credential of the handler's unit")
			}
			if err := secretfile.CheckName(name); err != nil {
				return field.Errorf("extra.secret_file", "%v", err).WithFix("give an absolute path, or the name of a credential of the handler's unit")
			}
		case "allow_non_loopback":
			var b bool
			if err := json.Unmarshal(v, &b); err != nil {
				return field.Errorf("extra."+k, "is not true or false").WithFix("use true to let the endpoint listen beyond loopback")
			}
		default:
			return field.Errorf("extra."+k, "unknown handler config key").WithFix("use ping_interval, secret_file or allow_non_loopback")
		}
	}
	if c.Endpoint != "" {
		if err := handlername.CheckBind(c.Endpoint, c.allowNonLoopback()); err != nil {
			return field.Prefix("endpoint", err)
		}
	}
	return nil
}

// allowNonLoopback is extra.allow_non_loopback: the handler's endpoint may
// listen on more than loopback (see handlername.CheckBind).
func (c HandlerConfig) allowNonLoopback() bool {
	var b bool
	_ = json.Unmarshal(c.Extra["allow_non_loopback"], &b)
	return b
}

// UnitPrefix and UnitSuffix frame every unit the governor may touch.
const (
	UnitPrefix = "schedulezero-handler@"
	UnitSuffix = ".service"
)

// UnitName returns the systemd unit of handler name. A valid name is used
// as the instance verbatim (so %i and %I agree); anything else is escaped
// with go-systemd's unit.UnitNameEscape.
func UnitName(name string) string {
	if handlername.Check(name) != nil {
		name = unit.UnitNameEscape(name)
	}
	return UnitPrefix + name + UnitSuffix
}

// HandlerOfUnit returns the handler name of a schedulezero-handler@ unit, or
// an error wrapping ErrNotManaged for any other unit.
func HandlerOfUnit(u string) (string, error) {
	inst, ok := strings.CutPrefix(u, UnitPrefix)
	if !ok {
		return "", fmt.Errorf("unit %q: %w", u, ErrNotManaged)
	}
	inst, ok = strings.CutSuffix(inst, UnitSuffix)
	if !ok || inst == "" {
		return "", fmt.Errorf("unit %q: %w", u, ErrNotManaged)
	}
	if strings.Contains(inst, `\x`) {
		inst = unit.UnitNameUnescape(inst)
	}
	return inst, nil
}

// HandlerInfo is the runtime view of one handler.
type HandlerInfo struct {
	Name        string    `json:"name"`
	Unit        string    `json:"unit"`
	Kind        string    `json:"kind"`
	Endpoint    string    `json:"endpoint"`
	PID         int       `json:"pid"`
	State       string    `json:"state"`
	SubState    string    `json:"sub_state"`
	Enabled     bool      `json:"enabled"`
	Restarts    int       `json:"restarts"`
	LastError   string    `json:"last_error,omitempty"`
	Since       time.Time `json:"since,omitzero"`
	MemoryBytes uint64    `json:"memory_bytes,omitempty"`
	Healthy     bool      `json:"healthy"`
	Health      Health    `json:"health"`
	// Registered is the scheduler's view: its status of the handler, or ""
	// when the scheduler does not know it or was not reachable.
	Registered string `json:"registered,omitempty"`
}

// Health is the governor's measurement of one handler over the wire.
type Health struct {
	LatencyEWMA  handlername.Duration `json:"latency_ewma"`
	P99          handlername.Duration `json:"p99"`
	ErrorRate    float64              `json:"error_rate"`
	LastSeen     time.Time            `json:"last_seen,omitzero"`
	FailedChecks int                  `json:"failed_checks"`
	Checks       int                  `json:"checks"`
}

// Metrics is the original's get_metrics.
type Metrics struct {
	Deployment      string                 `json:"deployment"`
	Backend         string                 `json:"backend"`
	Running         bool                   `json:"running"`
	TotalServices   int                    `json:"total_services"`
	HealthyServices int                    `json:"healthy_services"`
	TotalRestarts   int                    `json:"total_restarts"`
	Services        map[string]HandlerInfo `json:"services"`
}
