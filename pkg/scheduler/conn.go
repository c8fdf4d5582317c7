package scheduler

import (
	"context"
	"log/slog"

	"github.com/schedulezero/schedulezero/pkg/wire"
)

// Conn is the engine's connection to one handler. *wire.Conn is the real
// one; the fake-clock tests use an in-memory one so that simulated days pass
// in milliseconds.
type Conn interface {
	Call(ctx context.Context, req wire.Request) (wire.Reply, error)
	Cancel(ctx context.Context, executionID string, attempt int) error
	Close() error
}

// DialFunc opens a Conn to a handler's address. It must not block.
type DialFunc func(address string, protocol int) Conn

func wireDial(logger *slog.Logger) DialFunc {
	return func(address string, protocol int) Conn { return wire.Dial(address, protocol, logger) }
}
