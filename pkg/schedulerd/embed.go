package schedulerd

import (
	"context"
	"fmt"
	"os"
	"strings"
	"sync"

	"github.com/schedulezero/schedulezero/pkg/event"
	"github.com/schedulezero/schedulezero/pkg/handler"
	"github.com/schedulezero/schedulezero/pkg/handlerd"
	"github.com/schedulezero/schedulezero/pkg/handlername"
	"github.com/schedulezero/schedulezero/pkg/scheduler"
	"github.com/schedulezero/schedulezero/pkg/wire"
)

// embedded are the handlers that run inside the daemon (Options.Embed), by
// name.
type embedded map[string]*handler.Local

// newEmbedded builds the handlers of opts.Embed; none is registered yet.
func newEmbedded(opts Options) (embedded, error) {
	getenv := opts.Getenv
	if getenv == nil {
		getenv = os.Getenv
	}
	out := embedded{}
	for _, spec := range opts.Embed {
		spec = strings.TrimSpace(spec)
		if spec == "" {
			continue
		}
		l, err := handlerd.Embedded(spec, opts.HandlerConfigDir, opts.Logger, getenv)
		if err != nil {
			return nil, err
		}
		if _, dup := out[l.Name()]; dup {
			return nil, fmt.Errorf("--embed %s: handler %q is embedded twice", spec, l.Name())
		}
		out[l.Name()] = l
	}
	return out, nil
}

// dial routes the address of an embedded handler to it, and every other
// one to the wire. An embedded address whose handler this process does not
// embed (a store written by a run with --embed) reaches nothing: its calls
// are not run, and the handler is reported offline at start.
func (e embedded) dial(wireDial scheduler.DialFunc) scheduler.DialFunc {
	return func(address string, protocol int, jobToken string) scheduler.Conn {
		name, ok := strings.CutPrefix(address, handlername.EmbeddedScheme)
		if !ok {
			return wireDial(address, protocol, jobToken)
		}
		if l, ok := e[name]; ok {
			return scheduler.LockStep(l)
		}
		return scheduler.LockStep(goneConn(address))
	}
}

// start registers every embedded handler with the engine, and reports
// offline a handler the store has online at an embedded address that this
// run does not embed.
func (e embedded) start(ctx context.Context, engine *scheduler.Scheduler) error {
	hs, err := engine.Handlers(ctx)
	if err != nil {
		return err
	}
	for _, h := range hs {
		if _, ours := e[h.ID]; !ours && handlername.IsEmbedded(h.Address) && h.Status == "online" {
			if err := engine.Registry().ReportStatus(ctx, h.ID, handler.StatusOffline); err != nil {
				return fmt.Errorf("embedded handler %s of an earlier run: %w", h.ID, err)
			}
		}
	}
	for _, l := range e {
		if err := l.Start(ctx, engine.Registry()); err != nil {
			return err
		}
	}
	return nil
}

// stop stops every embedded handler at once (each drains its jobs).
func (e embedded) stop(ctx context.Context) error {
	var wg sync.WaitGroup
	for _, l := range e {
		wg.Add(1)
		go func() { defer wg.Done(); _ = l.Stop(ctx) }()
	}
	wg.Wait()
	return nil
}

// guard is the registry the registration server serves when handlers are
// embedded: a handler process that registers, pings or reports under an
// embedded handler's name is refused (wire.ErrRefused: it exits saying
// why) instead of taking its jobs.
type guard struct {
	wire.Registry
	embedded embedded
}

func (g guard) Authenticate(handlerID, secret string) error {
	if _, ok := g.embedded[handlerID]; ok {
		return fmt.Errorf("%w handler %q: it runs inside the scheduler (--embed); stop this process, or take it out of --embed",
			wire.ErrRefused, handlerID)
	}
	if a, ok := g.Registry.(wire.Authenticator); ok {
		return a.Authenticate(handlerID, secret)
	}
	return nil
}

// goneConn is the connection to an embedded address that nothing serves.
type goneConn string

func (c goneConn) Call(_ context.Context, req wire.Request) (wire.Reply, error) {
	return wire.Reply{}, fmt.Errorf("call %s %q: no such handler is embedded in this scheduler: %w: %w",
		string(c), req.Method, wire.ErrUnavailable, wire.ErrPeerClosing)
}

func (c goneConn) Cancel(ctx context.Context, executionID string, _ int) error {
	_, err := c.Call(ctx, wire.Request{Method: wire.MethodCancel, ExecutionID: executionID})
	return err
}

func (goneConn) Close() error { return nil }

// embedEventRing is the event hub's replay ring when handlers are
// embedded, the smallest deployment: a quarter of event.DefaultRing,
// 200 kB instead of 800 (resident once a steady stream has filled it), a
// second of history at 1,000 executions a second for a stream client
// that reconnects (one that misses more is told so: the stream's gap).
const embedEventRing = event.DefaultRing / 4

// eventRing is the engine's EventRing for opts; zero: the default.
func eventRing(opts Options) int {
	if len(opts.Embed) > 0 {
		return embedEventRing
	}
	return 0
}
