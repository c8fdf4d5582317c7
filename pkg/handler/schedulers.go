package handler

import (
	"log/slog"
	"strings"
	"sync/atomic"

	"github.com/schedulezero/schedulezero/pkg/wire"
)

// schedulers are the registration endpoints a handler was given: one, or
// every member of a cluster of schedulers ("tcp://h1:4242,tcp://h2:4242"),
// of which only the leader listens. A failed registration moves on to the
// next, so a handler finds a new leader without knowing about etcd.
type schedulers struct {
	endpoints []string
	clients   []*wire.Client
	cur       atomic.Int32
}

func newSchedulers(spec string, logger *slog.Logger, opts ...wire.Option) *schedulers {
	s := &schedulers{}
	for ep := range strings.SplitSeq(spec, ",") {
		if ep = strings.TrimSpace(ep); ep != "" {
			s.endpoints = append(s.endpoints, ep)
			s.clients = append(s.clients, wire.NewClient(ep, logger, opts...))
		}
	}
	return s
}

// client is the scheduler registered with, or being tried.
func (s *schedulers) client() *wire.Client { return s.clients[s.cur.Load()] }

// endpoint is client's endpoint.
func (s *schedulers) endpoint() string { return s.endpoints[s.cur.Load()] }

// next moves on to the next endpoint after a failed registration.
func (s *schedulers) next() {
	if len(s.clients) > 1 {
		s.cur.Store((s.cur.Load() + 1) % int32(len(s.clients)))
	}
}

func (s *schedulers) close() {
	for _, c := range s.clients {
		_ = c.Close()
	}
}
