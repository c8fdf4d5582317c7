//go:build !nocluster

package schedulerd

// Cluster mode (--cluster): the daemon's life as one member of several.
// While another member leads, it is a standby: no engine, no registration
// socket, an API that answers 503 naming the leader. When it wins the
// election it rebuilds its store file from etcd and runs the daemon of
// New/Start, whose store replicates every commit under the term's fence;
// when the term ends (lease lost, write refused) it stops that daemon at
// once and is a standby again.

import (
	"cmp"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"net/http/httputil"
	"net/url"
	"os"
	"strings"
	"sync"
	"time"

	"github.com/schedulezero/schedulezero/pkg/api"
	"github.com/schedulezero/schedulezero/pkg/cluster"
	"github.com/schedulezero/schedulezero/pkg/listener"
	"github.com/schedulezero/schedulezero/pkg/sd"
	"github.com/schedulezero/schedulezero/pkg/store"
)

// deposeTimeout bounds the stop of a deposed leader's daemon: its writes are
// refused anyway, so running attempts are not waited for.
const deposeTimeout = 2 * time.Second

// runCluster is Run in cluster mode.
func runCluster(ctx context.Context, opts Options, reload, stall <-chan struct{}) error {
	opts = opts.withDefaults()
	copts := *opts.Cluster
	copts.Logger = cmp.Or(copts.Logger, opts.Logger)
	if copts.Member.Name == "" {
		copts.Member.Name, _ = os.Hostname()
	}
	if len(copts.Member.API) == 0 {
		// A TCP listener on a named address is where the others can
		// forward to; a wildcard or a unix socket says nothing to them.
		for _, l := range opts.HTTPListen {
			if strings.HasPrefix(l, "unix:") || strings.HasPrefix(l, "fd:") {
				continue
			}
			host, port, err := net.SplitHostPort(l)
			if err == nil && port != "0" && host != "" && !net.ParseIP(host).IsUnspecified() {
				copts.Member.API = append(copts.Member.API, "http://"+l)
			}
		}
	}
	copts.Member.ZMQ = cmp.Or(copts.Member.ZMQ, opts.ZMQBind)
	opts.Cluster = &copts
	cl, err := cluster.New(ctx, copts)
	if err != nil {
		return err
	}
	defer cl.Close()
	log := opts.Logger.With("component", "cluster")
	// A standby is a working service: systemd hears READY=1 now.
	_ = opts.Notifier.Ready()
	for ctx.Err() == nil {
		term, err := standby(ctx, opts, cl)
		if err != nil {
			if ctx.Err() != nil {
				break
			}
			log.Error("campaign failed; retrying", "err", err, "retry_in", time.Second)
			select {
			case <-ctx.Done():
			case <-time.After(time.Second):
			}
			continue
		}
		if err := lead(ctx, opts, term, reload, stall); err != nil {
			log.Error("leadership ended", "err", err)
		}
		_ = term.Resign(context.WithoutCancel(ctx))
	}
	_ = opts.Notifier.Stopping()
	return nil
}

// standby serves the standby API and reports the leader until this member
// wins the election.
func standby(ctx context.Context, opts Options, cl *cluster.Cluster) (*cluster.Term, error) {
	lns, err := listener.Listen(opts.HTTPListen)
	if err != nil {
		return nil, fmt.Errorf("api: %w", err)
	}
	sctx, cancel := context.WithCancel(ctx)
	srv := opts.HTTP.Server(standbyHandler(cl, opts.Cluster.Member.Name))
	var wg sync.WaitGroup
	for _, ln := range lns {
		wg.Go(func() { _ = srv.Serve(ln) })
	}
	wg.Go(func() { _ = opts.Notifier.RunWatchdog(sctx, nil) })
	wg.Go(func() {
		t := time.NewTicker(statusInterval)
		defer t.Stop()
		last := ""
		for {
			m, err := cl.Leader(sctx)
			line := "standby, leader is " + m.Name
			if err != nil {
				line = "standby, no leader: " + err.Error()
			}
			if line != last {
				_ = opts.Notifier.Status("%s", line)
				opts.Logger.Info(line, "component", "cluster", "leader", m.Name)
				last = line
			}
			select {
			case <-sctx.Done():
				return
			case <-t.C:
			}
		}
	})
	term, err := cl.Campaign(ctx)
	cancel()
	shut, done := context.WithTimeout(context.WithoutCancel(ctx), time.Second)
	_ = srv.Shutdown(shut)
	done()
	for _, ln := range lns {
		_ = ln.Close()
	}
	wg.Wait()
	return term, err
}

// lead rebuilds the store from etcd and runs the daemon until the term
// or ctx ends.
func lead(ctx context.Context, opts Options, term *cluster.Term, reload, stall <-chan struct{}) error {
	log := opts.Logger.With("component", "cluster")
	start := time.Now()
	n, err := rebuild(ctx, opts.DBPath, term)
	if err != nil {
		return err
	}
	log.Info("leading: store rebuilt from etcd", "records", n, "duration_ms", time.Since(start).Milliseconds())
	o := opts
	o.Cluster = nil
	o.replicator = term
	o.member = true
	d, err := New(ctx, o)
	if err != nil {
		return err
	}
	if err := d.Start(ctx); err != nil {
		_ = d.Stop(context.WithoutCancel(ctx))
		return err
	}
	for {
		select {
		case <-reload:
			_ = d.Reload(ctx)
		case <-stall:
			d.Stall()
		case <-term.Done():
			log.Error("deposed: stopping the engine", "err", term.Err())
			sctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), deposeTimeout)
			defer cancel()
			_ = d.Stop(sctx)
			return nil
		case <-ctx.Done():
			log.Info("stopping; resigning the leadership")
			return d.Stop(context.WithoutCancel(ctx))
		}
	}
}

// rebuild replaces the file at path with the state in etcd. The old file
// may hold writes the cluster refused (this member was deposed after
// writing them locally); etcd is the truth.
func rebuild(ctx context.Context, path string, term *cluster.Term) (int, error) {
	if err := os.Remove(path); err != nil && !errors.Is(err, os.ErrNotExist) {
		return 0, fmt.Errorf("rebuild %s: %w", path, err)
	}
	db, err := store.Open(path, store.Options{})
	if err != nil {
		return 0, fmt.Errorf("rebuild: %w", err)
	}
	n, err := term.Restore(ctx, db)
	if cerr := db.Close(); err == nil {
		err = cerr
	}
	if err != nil {
		return n, fmt.Errorf("rebuild %s: %w", path, err)
	}
	return n, nil
}

// forwardedHeader marks a request a standby forwarded, so that a standby
// that is sent one (the leader changed meanwhile) answers 503 instead of
// forwarding it again.
const forwardedHeader = "X-Schedulezero-Forwarded-By"

// standbyHandler forwards every API request to the leader's API (read
// from etcd at each request) when the leader publishes a TCP address: a
// standby has no engine, and its file may lag (it is rebuilt when it
// leads). Otherwise, or when the leader cannot be reached, it answers 503
// naming the leader. Either answer carries X-Schedulezero-Leader, the
// leader's API, for clients that would rather go there.
func standbyHandler(cl *cluster.Cluster, self string) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		m, err := cl.Leader(r.Context())
		if err == nil && len(m.API) > 0 && m.Name != self && r.Header.Get(forwardedHeader) == "" {
			if target, perr := url.Parse(m.API[0]); perr == nil {
				proxy := &httputil.ReverseProxy{
					Rewrite: func(pr *httputil.ProxyRequest) {
						pr.SetURL(target)
						pr.Out.Host = pr.In.Host
						pr.Out.Header.Set(forwardedHeader, self)
					},
					ModifyResponse: func(resp *http.Response) error {
						resp.Header.Set("X-Schedulezero-Leader", m.API[0])
						return nil
					},
					ErrorHandler: func(w http.ResponseWriter, _ *http.Request, _ error) { unavailable(w, m, nil) },
				}
				proxy.ServeHTTP(w, r)
				return
			}
		}
		unavailable(w, m, err)
	})
}

// unavailable answers 503 naming the leader m (none when err is set).
func unavailable(w http.ResponseWriter, m cluster.Member, err error) {
	msg := "this scheduler is a standby"
	if err == nil {
		msg += "; the leader is " + m.Name
		if len(m.API) > 0 {
			w.Header().Set("X-Schedulezero-Leader", m.API[0])
			msg += " at " + m.API[0]
		}
	} else {
		msg += "; no leader at the moment"
	}
	w.Header().Set("Content-Type", "application/json")
	w.Header().Set("Retry-After", "1")
	w.WriteHeader(http.StatusServiceUnavailable)
	_ = json.NewEncoder(w).Encode(api.ErrorBody{Error: api.ErrorDetail{
		Code: http.StatusServiceUnavailable, Message: msg, Fix: "send the request to the leader"}})
}

// withDefaults fills what runCluster uses before New would.
func (o Options) withDefaults() Options {
	if o.Logger == nil {
		o.Logger = slog.New(slog.DiscardHandler)
	}
	if o.Notifier == nil {
		o.Notifier = sd.NewNotifier(o.Logger)
	}
	if len(o.HTTPListen) == 0 {
		o.HTTPListen = []string{DefaultHTTPListen}
	}
	o.ZMQBind = cmp.Or(o.ZMQBind, DefaultZMQBind)
	return o
}
