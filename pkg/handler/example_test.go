package handler_test

import (
	"context"
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"time"

	"github.com/schedulezero/schedulezero/pkg/handler"
	"github.com/schedulezero/schedulezero/pkg/wire"
	"github.com/schedulezero/schedulezero/pkg/wire/wiretest"
)

// A handler binary is a Mux and a call to Serve. Here a scheduler's
// registration server and job connection stand in for schedulezero-scheduler.
func Example() {
	dir, _ := os.MkdirTemp("", "example")
	defer os.RemoveAll(dir)
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()

	// The scheduler side (normally schedulezero-scheduler).
	reg := wiretest.NewRegistry()
	srv, _ := wire.Listen(ctx, "ipc://"+filepath.Join(dir, "sched.sock"), reg, nil)
	go srv.Serve(ctx)

	// The handler: this is all a handler binary needs.
	mux := handler.NewMux()
	mux.HandleFunc("greet", func(ctx context.Context, job *handler.Job) (any, error) {
		var p struct{ Name string }
		if err := json.Unmarshal(job.Params, &p); err != nil {
			return nil, handler.Permanent(err)
		}
		return map[string]string{"greeting": "hello " + p.Name}, nil
	})
	ready := make(chan struct{})
	done := make(chan error, 1)
	go func() {
		done <- handler.Serve(ctx, mux, handler.Options{
			Name:      "greeter",
			Endpoint:  "ipc://" + filepath.Join(dir, "greeter.sock"),
			Scheduler: srv.Addr(),
			ReadyFunc: func() { close(ready) },
		})
	}()
	<-ready

	// The scheduler calls the job at the address the handler registered.
	h, _, _ := reg.Handler("greeter")
	conn := wire.Dial(h.Address, h.Protocol, nil, wire.WithJobToken(h.JobToken))
	defer conn.Close()
	cctx, ccancel := context.WithTimeout(ctx, 5*time.Second)
	defer ccancel()
	reply, err := conn.Call(cctx, wire.Request{Method: "greet", Params: json.RawMessage(`{"name":"world"}`), ExecutionID: "ex-1", Attempt: 1})
	fmt.Println(h.Methods, reply.Success, err)
	var body struct{ Greeting string }
	json.Unmarshal(reply.Raw, &body)
	fmt.Println(body.Greeting)

	cancel()
	fmt.Println(<-done)
	// Output:
	// [greet ping] true <nil>
	// hello world
	// <nil>
}
