package wire

import (
	"fmt"
	"time"

	"github.com/go-zeromq/zmq4"
)

// Defaults of the limits every socket of the package enforces on its peers
// (see docs/protocol.md, "Limits").
const (
	// DefaultMaxMessageSize bounds one inbound message as it is on the
	// wire, frame headers included: the API's 1 MiB body limit, which bounds
	// a job's params, plus room for a request's envelope. A peer that
	// announces a larger frame or message is disconnected before its body
	// is read.
	DefaultMaxMessageSize = 1<<20 + 64<<10
	// DefaultHandshakeTimeout bounds the ZMTP handshake of a new
	// connection: a peer that has not completed it by then is
	// disconnected. The handshake of each connection runs on its own, so
	// a slow one delays no other.
	DefaultHandshakeTimeout = 5 * time.Second
	// MinMaxMessageSize is the smallest limit accepted: a request or reply
	// with a small payload must fit.
	MinMaxMessageSize = 4 << 10
)

// MaxBatchBytes bounds the payload of one batch frame, far below the
// smallest limit a peer should set: a batch never makes a message larger
// than its largest request or reply alone.
const MaxBatchBytes = 256 << 10

// Limits bound what a peer may make a socket of the package do. The zero
// value is the defaults.
type Limits struct {
	// MaxMessageSize is the largest inbound message in bytes; 0:
	// DefaultMaxMessageSize.
	MaxMessageSize int64
	// HandshakeTimeout bounds the handshake of a new connection; 0:
	// DefaultHandshakeTimeout.
	HandshakeTimeout time.Duration
}

// Check says what is wrong with l, naming the setting by the daemons' flag
// and the fix.
func (l Limits) Check() error {
	if l.MaxMessageSize != 0 && l.MaxMessageSize < MinMaxMessageSize {
		return fmt.Errorf("zmq-max-message-size %d: below the minimum %d bytes; set at least %d, or 0 for the default %d",
			l.MaxMessageSize, MinMaxMessageSize, MinMaxMessageSize, DefaultMaxMessageSize)
	}
	if l.HandshakeTimeout < 0 {
		return fmt.Errorf("zmq-handshake-timeout %s: negative; set a positive duration, or 0 for the default %s",
			l.HandshakeTimeout, DefaultHandshakeTimeout)
	}
	return nil
}

func (l Limits) withDefaults() Limits {
	if l.MaxMessageSize <= 0 {
		l.MaxMessageSize = DefaultMaxMessageSize
	}
	if l.HandshakeTimeout <= 0 {
		l.HandshakeTimeout = DefaultHandshakeTimeout
	}
	return l
}

// SocketOptions are the zmq4 options of every socket of the package: the
// limits, the send timeout, and zmq4's own logger silenced (errors reach
// the caller as return values). A socket opened elsewhere to speak this
// protocol (the handler's job socket) takes them too.
func (l Limits) SocketOptions() []zmq4.Option {
	l = l.withDefaults()
	return []zmq4.Option{
		zmq4.WithMaxMsgSize(l.MaxMessageSize),
		zmq4.WithHandshakeTimeout(l.HandshakeTimeout),
		zmq4.WithTimeout(socketSendTimeout),
		zmq4.WithLogger(zmqLogger()),
	}
}

// Option configures a Server, Conn or Client. Listen refuses limits that
// Check refuses; Dial and NewClient, which return no error, take the
// defaults for values that are not positive.
type Option func(*settings)

// settings is what the options set.
type settings struct {
	limits   Limits
	jobToken string
	security zmq4.Security // nil: NULL
}

// WithLimits sets the limits the socket enforces on its peers.
func WithLimits(l Limits) Option { return func(s *settings) { s.limits = l } }

// WithJobToken makes a Conn put token, the job token the handler sent
// when it registered, in every request it sends (pings and cancels
// included): a protocol 4 handler refuses the rest. The original's
// handlers send no token and get none. Listen and NewClient ignore it.
func WithJobToken(token string) Option { return func(s *settings) { s.jobToken = token } }

func settingsOf(opts []Option) settings {
	var s settings
	for _, o := range opts {
		o(&s)
	}
	return s
}
