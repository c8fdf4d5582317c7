// Package notifytest is a real webhook receiver for tests of
// notifications: it checks each delivery's signature and can go down and
// come back on the same address.
package notifytest

import (
	"encoding/json"
	"io"
	"net"
	"net/http"
	"sync"
	"testing"
	"time"

	"github.com/schedulezero/schedulezero/pkg/notify"
)

// Receiver is an HTTP server on 127.0.0.1 that records the webhooks it
// gets. Create it with New.
type Receiver struct {
	URL string

	t      testing.TB
	addr   string
	secret []byte

	mu     sync.Mutex
	srv    *http.Server
	done   chan struct{}
	got    []notify.Message
	badSig int
}

// New starts a receiver that checks signatures with secret (none when
// empty); it stops when the test ends.
func New(t testing.TB, secret []byte) *Receiver {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	r := &Receiver{t: t, addr: ln.Addr().String(), secret: secret}
	r.URL = "http://" + r.addr + "/hook"
	r.serve(ln)
	t.Cleanup(r.Down)
	return r
}

func (r *Receiver) serve(ln net.Listener) {
	srv := &http.Server{Handler: http.HandlerFunc(r.hook), ReadHeaderTimeout: 5 * time.Second}
	done := make(chan struct{})
	go func() { defer close(done); _ = srv.Serve(ln) }()
	r.mu.Lock()
	r.srv, r.done = srv, done
	r.mu.Unlock()
}

func (r *Receiver) hook(w http.ResponseWriter, req *http.Request) {
	body, err := io.ReadAll(io.LimitReader(req.Body, 1<<20))
	if err != nil {
		http.Error(w, err.Error(), http.StatusBadRequest)
		return
	}
	var m notify.Message
	if err := json.Unmarshal(body, &m); err != nil {
		http.Error(w, err.Error(), http.StatusBadRequest)
		return
	}
	r.mu.Lock()
	defer r.mu.Unlock()
	if len(r.secret) > 0 && !notify.Verify(r.secret, body, req.Header.Get(notify.SignatureHeader)) {
		r.badSig++
		http.Error(w, "bad signature", http.StatusUnauthorized)
		return
	}
	if req.Header.Get(notify.DeliveryHeader) != m.ID || req.Header.Get(notify.EventHeader) != m.Event {
		r.badSig++
		http.Error(w, "headers do not match the body", http.StatusBadRequest)
		return
	}
	r.got = append(r.got, m)
	w.WriteHeader(http.StatusNoContent)
}

// Down closes the listener: deliveries fail with connection refused.
func (r *Receiver) Down() {
	r.mu.Lock()
	srv, done := r.srv, r.done
	r.srv = nil
	r.mu.Unlock()
	if srv != nil {
		_ = srv.Close()
		<-done
	}
}

// Up listens again on the same address.
func (r *Receiver) Up() {
	r.t.Helper()
	var ln net.Listener
	var err error
	for range 50 { // the port may stay busy a moment after Close
		if ln, err = net.Listen("tcp", r.addr); err == nil {
			break
		}
		time.Sleep(20 * time.Millisecond)
	}
	if err != nil {
		r.t.Fatalf("receiver up again on %s: %v", r.addr, err)
	}
	r.serve(ln)
}

// Messages returns the deliveries with a good signature, in arrival order.
func (r *Receiver) Messages() []notify.Message {
	r.mu.Lock()
	defer r.mu.Unlock()
	return append([]notify.Message(nil), r.got...)
}

// BadSignatures is how many deliveries were refused for their signature
// or headers.
func (r *Receiver) BadSignatures() int {
	r.mu.Lock()
	defer r.mu.Unlock()
	return r.badSig
}

// Count is how many good deliveries were of event for schedule.
func (r *Receiver) Count(event, schedule string) int {
	n := 0
	for _, m := range r.Messages() {
		if m.Event == event && m.ScheduleID == schedule {
			n++
		}
	}
	return n
}
