package wire

import (
	"context"
	"errors"
	"fmt"
	"syscall"
	"testing"

	"github.com/go-zeromq/zmq4"
)

// What a failed send says of its request: zmq4 returns its context's
// cancellation also when the bytes went out, so only that, on a link that
// broke meanwhile, is "maybe sent"; a write error left no complete frame.
func TestSendFailed_SaysWhetherTheRequestMayHaveLeft(t *testing.T) {
	writeErr := fmt.Errorf("zmq4: error sending frame 1/1: %w", syscall.EPIPE)
	for _, tc := range []struct {
		name           string
		err            error
		broken, unread bool
		want           error
	}{
		{"write error on a whole link", writeErr, false, false, ErrUnavailable},
		{"write error on a broken link", writeErr, true, false, ErrUnavailable},
		{"cancelled on a whole link", context.Canceled, false, false, ErrUnavailable},
		{"cancelled on a broken link", context.Canceled, true, false, ErrTimeout},
		{"cancelled after the peer said Closing", context.Canceled, true, true, ErrUnavailable},
		{"send timeout", context.DeadlineExceeded, false, false, ErrUnavailable},
	} {
		t.Run(tc.name, func(t *testing.T) {
			ctx, cancel := context.WithCancel(context.Background())
			l := &link{sock: zmq4.NewDealer(ctx), cancel: cancel, pending: map[string]*Pending{}, broken: make(chan struct{}),
				wake: make(chan struct{}, 1), unread: tc.unread}
			if tc.broken {
				close(l.broken)
			}
			c := Dial("ipc:///nowhere", ProtocolBatched, nil)
			defer c.Close()
			if got := c.sendFailed(l, tc.err); !errors.Is(got, tc.want) {
				t.Errorf("sendFailed(%v) = %v, want %v", tc.err, got, tc.want)
			}
			cancel()
			l.sock.Close()
		})
	}
}
