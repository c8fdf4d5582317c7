package wire_test

import (
	"context"
	"os"
	"strings"
	"testing"

	"github.com/schedulezero/schedulezero/pkg/wire"
	"github.com/schedulezero/schedulezero/pkg/wire/wiretest"
)

// The ipc:// sockets we bind (the registration server here; a handler's
// job socket goes through the same wire.Bind) are owner-only, whatever the
// umask: connecting to a unix socket needs write permission on its file.
func TestBind_IPCSocketIsOwnerOnly(t *testing.T) {
	ep := wiretest.IPC(t, "reg.sock")
	srv, err := wire.Listen(context.Background(), ep, wiretest.NewRegistry(), nil)
	if err != nil {
		t.Fatal(err)
	}
	defer srv.Close()
	fi, err := os.Stat(strings.TrimPrefix(ep, "ipc://"))
	if err != nil {
		t.Fatal(err)
	}
	if got := fi.Mode().Perm(); got != 0o600 || got&0o077 != 0 {
		t.Errorf("socket mode = %v, want -rw-------", got)
	}
}
