package unitctl

import (
	"context"
	"fmt"
	"os"
	"strconv"
	"sync"

	sdbus "github.com/coreos/go-systemd/v22/dbus"
	"github.com/godbus/dbus/v5"
)

// link is one go-systemd connection: two private connections to the bus,
// the first for method calls, the second for signals.
type link struct {
	sd   *sdbus.Conn
	call *dbus.Conn
	sig  *dbus.Conn
}

func (l *link) close() { l.sd.Close() }

func (l *link) alive() bool { return l.sd.Connected() }

// dropped is closed when either bus connection closed.
func (l *link) dropped() <-chan struct{} {
	ch := make(chan struct{})
	go func() {
		defer close(ch)
		select {
		case <-l.call.Context().Done():
		case <-l.sig.Context().Done():
		}
	}()
	return ch
}

// dial opens a link whose connections live until life ends or they are
// closed. ctx bounds the dial itself: on its end the half-open
// connections are closed, which fails any call still waiting on them.
func dial(ctx, life context.Context) (*link, error) {
	var (
		mu        sync.Mutex
		conns     []*dbus.Conn
		abandoned bool
	)
	track := func(c *dbus.Conn) bool {
		mu.Lock()
		defer mu.Unlock()
		conns = append(conns, c)
		return !abandoned
	}
	type result struct {
		sd  *sdbus.Conn
		err error
	}
	res := make(chan result, 1)
	go func() {
		sd, err := sdbus.NewConnection(func() (*dbus.Conn, error) { return systemBus(life, track) })
		res <- result{sd, err}
	}()
	select {
	case r := <-res:
		if r.err != nil {
			return nil, fmt.Errorf("connect to the system bus: %w: %w", ErrBus, r.err)
		}
		mu.Lock()
		defer mu.Unlock()
		return &link{sd: r.sd, call: conns[0], sig: conns[1]}, nil
	case <-ctx.Done():
		mu.Lock()
		abandoned = true
		for _, c := range conns {
			c.Close() //nolint:errcheck // abandoning the dial
		}
		mu.Unlock()
		if r := <-res; r.sd != nil { // prompt: its connections are closed
			r.sd.Close()
		}
		return nil, fmt.Errorf("connect to the system bus: %w", ctx.Err())
	}
}

// systemBus opens, authenticates and registers one private connection to
// the system bus (DBUS_SYSTEM_BUS_ADDRESS, else /run/dbus/system_bus_socket).
// track learns of it before any blocking step, so that an abandoned dial
// can close it.
func systemBus(life context.Context, track func(*dbus.Conn) bool) (*dbus.Conn, error) {
	c, err := dbus.SystemBusPrivate(dbus.WithContext(life))
	if err != nil {
		return nil, err
	}
	if !track(c) {
		c.Close() //nolint:errcheck // abandoned
		return nil, dbus.ErrClosed
	}
	// EXTERNAL with the numeric uid: no user lookup, so no cgo.
	if err := c.Auth([]dbus.Auth{dbus.AuthExternal(strconv.Itoa(os.Getuid()))}); err != nil {
		c.Close() //nolint:errcheck // the auth error wins
		return nil, err
	}
	if err := c.Hello(); err != nil {
		c.Close() //nolint:errcheck // the hello error wins
		return nil, err
	}
	return c, nil
}

// conn returns the method-call link, dialling it when there is none or
// the last one dropped. One caller dials at a time; the others wait for
// it no longer than their own context allows.
func (m *Manager) conn(ctx context.Context) (*link, error) {
	select {
	case m.dialing <- struct{}{}:
		defer func() { <-m.dialing }()
	case <-ctx.Done():
		return nil, fmt.Errorf("connect to the system bus: %w", ctx.Err())
	}
	m.mu.Lock()
	closed, l := m.closed, m.link
	m.mu.Unlock()
	if closed {
		return nil, fmt.Errorf("unitctl: %w", dbus.ErrClosed)
	}
	if l != nil && l.alive() {
		return l, nil
	}
	if l != nil {
		l.close()
		m.logger.Warn("system bus connection dropped; reconnecting")
	}
	l, err := dial(ctx, m.life)
	if err != nil {
		return nil, err
	}
	m.mu.Lock()
	defer m.mu.Unlock()
	if m.closed { // Close ran meanwhile
		l.close()
		return nil, fmt.Errorf("unitctl: %w", dbus.ErrClosed)
	}
	m.link = l
	return l, nil
}
