package wire

import (
	"context"
	"net"
	"os"
	"path/filepath"
	"testing"

	"github.com/go-zeromq/zmq4"
)

func TestBindRemovesStaleIPCSocket(t *testing.T) {
	path := filepath.Join(t.TempDir(), "s.sock")
	// A socket file left behind by a killed process: nobody listens on it.
	l, err := net.Listen("unix", path)
	if err != nil {
		t.Fatal(err)
	}
	l.(*net.UnixListener).SetUnlinkOnClose(false)
	l.Close()
	if _, err := os.Stat(path); err != nil {
		t.Fatalf("setup: stale file missing: %v", err)
	}

	sock := zmq4.NewRouter(context.Background())
	defer sock.Close()
	if err := Bind(sock, "ipc://"+path); err != nil {
		t.Fatalf("Bind over a stale socket: %v", err)
	}

	// A live socket is not stolen.
	other := zmq4.NewRouter(context.Background())
	defer other.Close()
	if err := Bind(other, "ipc://"+path); err == nil {
		t.Fatal("Bind over a live socket succeeded; want address already in use")
	}
}

func TestBindRefusesNonSocket(t *testing.T) {
	path := filepath.Join(t.TempDir(), "file")
	if err := os.WriteFile(path, []byte("x"), 0o600); err != nil {
		t.Fatal(err)
	}
	sock := zmq4.NewRouter(context.Background())
	defer sock.Close()
	if err := Bind(sock, "ipc://"+path); err == nil {
		t.Fatal("Bind over a regular file succeeded")
	}
	if _, err := os.Stat(path); err != nil {
		t.Fatalf("regular file was removed: %v", err)
	}
}
