package schedulerd_test

import (
	"context"
	"errors"
	"net/http"
	"path/filepath"
	"testing"
	"time"

	"github.com/go-zeromq/zmq4/security/curve"

	"github.com/schedulezero/schedulezero/pkg/handler"
	"github.com/schedulezero/schedulezero/pkg/handler/dingaling"
	"github.com/schedulezero/schedulezero/pkg/schedulerd"
	"github.com/schedulezero/schedulezero/pkg/wire"
)

// A pyzmq handler (libzmq's CURVE) with the scheduler's public key
// registers over CURVE and runs a job: both channels, registration (the
// scheduler binds) and jobs (the handler binds, the scheduler dials as
// CURVE server and checks the handler's key).
func TestCurve_PythonHandler(t *testing.T) {
	serverPub, serverSec, err := curve.GenerateKeyPair(nil)
	if err != nil {
		t.Fatal(err)
	}
	clientPub, clientSec, err := curve.GenerateKeyPair(nil)
	if err != nil {
		t.Fatal(err)
	}
	r, zmq, dir := startDaemon(t, schedulerd.Options{Curve: &wire.CurveServerKeys{Secret: serverSec, Allowed: []curve.PublicKey{clientPub}}})
	startPython(t, zmq, dir, "SZ_CURVE_SERVERKEY="+serverPub.String(), "SZ_CURVE_SECRETKEY="+clientSec.Z85())
	var run struct {
		Status string `json:"status"`
		Result struct {
			Status string `json:"status"`
		} `json:"result"`
	}
	r.call(t, "POST", "/api/run_now", `{"handler_id":"py-handler","job_method":"counter_test","job_params":{"increment":2}}`, http.StatusOK, &run)
	if run.Status != "success" || run.Result.Status != "counted" {
		t.Errorf("run_now over CURVE: %+v", run)
	}
}

// A registration socket other hosts can reach needs CURVE or --insecure.
func TestCurve_ExposedBindNeedsCurveOrInsecure(t *testing.T) {
	dir := t.TempDir()
	opts := schedulerd.Options{DBPath: filepath.Join(dir, "sz.db"), ZMQBind: "tcp://0.0.0.0:0", HTTPListen: []string{"unix:" + filepath.Join(dir, "api.sock")}}
	_, err := schedulerd.New(t.Context(), opts)
	if !errors.Is(err, wire.ErrInsecureBind) {
		t.Fatalf("New on tcp://0.0.0.0:0 without CURVE: %v, want ErrInsecureBind", err)
	}
}

// The Go runner with the scheduler's public key and a key pair of its own
// registers over CURVE and runs a job: both of its sockets, registration
// (it dials) and jobs (it binds, the scheduler dials as CURVE server).
func TestCurve_GoHandler(t *testing.T) {
	serverPub, serverSec, err := curve.GenerateKeyPair(nil)
	if err != nil {
		t.Fatal(err)
	}
	clientPub, clientSec, err := curve.GenerateKeyPair(nil)
	if err != nil {
		t.Fatal(err)
	}
	r, zmq, _ := startDaemon(t, schedulerd.Options{Curve: &wire.CurveServerKeys{Secret: serverSec, Allowed: []curve.PublicKey{clientPub}}})
	mux := handler.NewMux()
	dingaling.New(nil).Register(mux)
	hctx, cancel := context.WithCancel(context.Background())
	ready, done := make(chan struct{}), make(chan error, 1)
	go func() {
		done <- handler.Serve(hctx, mux, handler.Options{Name: "dingaling", Endpoint: "tcp://127.0.0.1:0",
			Scheduler: zmq, Wire: []wire.Option{wire.WithCurveClient(clientSec, serverPub)},
			ReadyFunc: func() { close(ready) }})
	}()
	t.Cleanup(func() { cancel(); <-done })
	select {
	case <-ready:
	case err := <-done:
		t.Fatalf("handler: %v", err)
	case <-time.After(10 * time.Second):
		t.Fatal("handler did not register over CURVE within 10s")
	}
	var run struct {
		Status string `json:"status"`
	}
	r.call(t, "POST", "/api/run_now", `{"handler_id":"dingaling","job_method":"quick_aling","job_params":{}}`, http.StatusOK, &run)
	if run.Status != "success" {
		t.Errorf("run_now over CURVE: %+v", run)
	}
}
