package wire_test

import (
	"bytes"
	"context"
	"errors"
	"net"
	"os"
	"path/filepath"
	"sync"
	"testing"
	"time"

	"github.com/go-zeromq/zmq4/security/curve"

	"github.com/schedulezero/schedulezero/pkg/wire"
	"github.com/schedulezero/schedulezero/pkg/wire/wiretest"
)

// relay is a TCP relay to target that keeps every byte it carries, both
// ways: what a capture of the wire would see.
type relay struct {
	ln  net.Listener
	mu  sync.Mutex
	got bytes.Buffer
	wg  sync.WaitGroup
}

func newRelay(t *testing.T, target string) *relay {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	r := &relay{ln: ln}
	r.wg.Add(1)
	go func() {
		defer r.wg.Done()
		for {
			in, err := ln.Accept()
			if err != nil {
				return
			}
			out, err := net.DialTimeout("tcp", target, 5*time.Second)
			if err != nil {
				in.Close()
				continue
			}
			r.wg.Add(2)
			go r.pipe(in, out)
			go r.pipe(out, in)
		}
	}()
	t.Cleanup(func() { ln.Close(); r.wg.Wait() })
	return r
}

func (r *relay) pipe(dst, src net.Conn) {
	defer r.wg.Done()
	defer dst.Close()
	defer src.Close()
	buf := make([]byte, 32<<10)
	for {
		n, err := src.Read(buf)
		if n > 0 {
			r.mu.Lock()
			r.got.Write(buf[:n])
			r.mu.Unlock()
			if _, werr := dst.Write(buf[:n]); werr != nil {
				return
			}
		}
		if err != nil {
			return
		}
	}
}

func (r *relay) bytes() []byte {
	r.mu.Lock()
	defer r.mu.Unlock()
	return bytes.Clone(r.got.Bytes())
}

func keyPair(t *testing.T) (curve.PublicKey, curve.SecretKey) {
	t.Helper()
	pub, sec, err := curve.GenerateKeyPair(nil)
	if err != nil {
		t.Fatal(err)
	}
	return pub, sec
}

// A handler registers over CURVE through a relay that records the bytes:
// the registration arrives, and neither its secret nor its method names
// are on the wire. With NULL the same capture shows them (the check can
// fail).
func TestCurve_RegistrationIsEncrypted(t *testing.T) {
	serverPub, serverSec := keyPair(t)
	clientPub, clientSec := keyPair(t)
	const secret, method = "s3cret-params-in-the-clear", "nightly_backup_params"
	for _, tc := range []struct {
		name      string
		srv, cli  []wire.Option
		plaintext bool
	}{
		{"null", nil, nil, true},
		{"curve", []wire.Option{wire.WithCurveServer(serverSec, []curve.PublicKey{clientPub})},
			[]wire.Option{wire.WithCurveClient(clientSec, serverPub)}, false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			reg := wiretest.NewRegistry()
			srv := wiretest.ServeOn(t, reg, "tcp://127.0.0.1:0", tc.srv...)
			r := newRelay(t, srv.Addr()[len("tcp://"):])
			c := wire.NewClient("tcp://"+r.ln.Addr().String(), nil, tc.cli...)
			defer c.Close()
			ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
			defer cancel()
			if _, err := c.Register(ctx, wire.Registration{HandlerID: "h", Address: "tcp://127.0.0.1:4247", Methods: []string{method}, Secret: secret}); err != nil {
				t.Fatal(err)
			}
			if got, _, ok := reg.Handler("h"); !ok || len(got.Methods) != 1 || got.Methods[0] != method {
				t.Fatalf("registry has %+v, %v", got, ok)
			}
			captured := r.bytes()
			for _, s := range []string{secret, method} {
				if bytes.Contains(captured, []byte(s)) != tc.plaintext {
					t.Errorf("capture of %d bytes holds %q: %v, want %v", len(captured), s, !tc.plaintext, tc.plaintext)
				}
			}
		})
	}
}

// A handler whose public key is not allowed is refused in the handshake:
// its Register fails and the registry never hears of it.
func TestCurve_KeyNotAllowedIsRefused(t *testing.T) {
	serverPub, serverSec := keyPair(t)
	allowed, _ := keyPair(t)
	_, otherSec := keyPair(t)
	reg := wiretest.NewRegistry()
	srv := wiretest.ServeOn(t, reg, "tcp://127.0.0.1:0", wire.WithCurveServer(serverSec, []curve.PublicKey{allowed}))
	c := wire.NewClient(srv.Addr(), nil, wire.WithCurveClient(otherSec, serverPub))
	defer c.Close()
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Second)
	defer cancel()
	if _, err := c.Register(ctx, wire.Registration{HandlerID: "h", Address: "tcp://127.0.0.1:4247", Methods: []string{"m"}}); err == nil {
		t.Fatal("Register with a key not allowed succeeded")
	}
	if n := reg.Registrations(); n != 0 {
		t.Errorf("%d registrations reached the registry, want 0", n)
	}
}

func TestCheckExposure(t *testing.T) {
	for _, tc := range []struct {
		endpoint         string
		curve, insecure  bool
		exposed, wantErr bool
	}{
		{"tcp://127.0.0.1:4242", false, false, false, false},
		{"tcp://localhost:4242", false, false, false, false},
		{"tcp://[::1]:4242", false, false, false, false},
		{"ipc:///run/schedulezero/sched.sock", false, false, false, false},
		{"tcp://0.0.0.0:4242", false, false, true, true},
		{"tcp://*:4242", false, false, true, true},
		{"tcp://192.0.2.7:4242", false, true, true, false},
		{"tcp://0.0.0.0:4242", true, false, false, false},
	} {
		exposed, err := wire.CheckExposure(tc.endpoint, tc.curve, tc.insecure)
		if exposed != tc.exposed || (err != nil) != tc.wantErr || err != nil && !errors.Is(err, wire.ErrInsecureBind) {
			t.Errorf("CheckExposure(%q, curve=%v, insecure=%v) = %v, %v; want exposed=%v err=%v", tc.endpoint, tc.curve, tc.insecure, exposed, err, tc.exposed, tc.wantErr)
		}
	}
}

func TestReadCurveAllowed(t *testing.T) {
	dir := t.TempDir()
	pub, _ := keyPair(t)
	good := filepath.Join(dir, "good")
	os.WriteFile(good, []byte("# handler a\n"+pub.String()+"\n\n"), 0o644)
	if keys, err := wire.ReadCurveAllowed(good); err != nil || len(keys) != 1 || keys[0] != pub {
		t.Errorf("ReadCurveAllowed(good) = %v, %v", keys, err)
	}
	bad := filepath.Join(dir, "bad")
	os.WriteFile(bad, []byte("not-a-key\n"), 0o644)
	if _, err := wire.ReadCurveAllowed(bad); err == nil || !bytes.Contains([]byte(err.Error()), []byte(bad+":1")) {
		t.Errorf("ReadCurveAllowed(bad) = %v, want the file and line", err)
	}
	empty := filepath.Join(dir, "empty")
	os.WriteFile(empty, []byte("# nobody\n"), 0o644)
	if _, err := wire.ReadCurveAllowed(empty); err == nil {
		t.Error("ReadCurveAllowed(no key) succeeded")
	}
}
