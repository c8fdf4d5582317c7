package handler_test

import (
	"context"
	"testing"
	"time"

	"github.com/schedulezero/schedulezero/pkg/handler"
	"github.com/schedulezero/schedulezero/pkg/wire"
	"github.com/schedulezero/schedulezero/pkg/wire/wiretest"
)

// Given every scheduler of a cluster, a handler registers with the one
// that listens (the leader), and with the next one when that one goes.
func TestServe_SeveralSchedulers_RegistersWithWhicheverListens(t *testing.T) {
	ep1, ep2 := wiretest.IPC(t, "s1.sock"), wiretest.IPC(t, "s2.sock")
	serve := func(ep string, reg wire.Registry) func() {
		ctx, cancel := context.WithCancel(context.Background())
		srv, err := wire.Listen(ctx, ep, reg, nil)
		if err != nil {
			t.Fatal(err)
		}
		done := make(chan struct{})
		go func() { srv.Serve(ctx); close(done) }()
		return func() { cancel(); <-done }
	}
	// The first address names a standby (nothing listens), the second the leader.
	reg2 := wiretest.NewRegistry()
	stop2 := serve(ep2, reg2)
	mux := handler.NewMux()
	mux.HandleFunc("x", func(context.Context, *handler.Job) (any, error) { return nil, nil })
	startHandler(t, mux, handler.Options{Name: "follower", Scheduler: ep1 + "," + ep2, PingInterval: 100 * time.Millisecond})
	if _, _, ok := reg2.Handler("follower"); !ok {
		t.Fatal("not registered with the listening scheduler")
	}
	// The leader goes; the first address takes over.
	stop2()
	reg1 := wiretest.NewRegistry()
	defer serve(ep1, reg1)()
	err := reg1.Await(ctxT(t, 10*time.Second), func(r *wiretest.Registry) bool {
		_, _, ok := r.Handler("follower")
		return ok
	})
	if err != nil {
		t.Fatalf("not registered with the new leader: %v", err)
	}
}
