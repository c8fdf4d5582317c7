package wire

import "errors"

var (
	// ErrTimeout means the deadline passed after the request was sent (or
	// the connection was lost after sending): the outcome is unknown and the
	// request is NOT re-sent.
	ErrTimeout = errors.New("wire: no reply before the deadline (request was sent; outcome unknown)")
	// ErrUnavailable means the request never reached a handler: the dial or
	// the send failed, or the caller's deadline passed before its turn.
	ErrUnavailable = errors.New("wire: peer unavailable (request not sent)")
	// ErrClosed is returned by calls on a closed Conn, Client or Server.
	ErrClosed = errors.New("wire: closed")
	// ErrUnknownHandler is wrapped by a Registry when a handler id is not
	// registered; the server answers "Handler not registered".
	ErrUnknownHandler = errors.New("handler not registered")
	// ErrSchedulerRestarted is returned by Client.Ping when the scheduler
	// answering is not the instance that accepted the last registration:
	// the caller should register again.
	ErrSchedulerRestarted = errors.New("wire: scheduler restarted since registration")
	// ErrRefused is wrapped when the scheduler refuses a handler's
	// registration secret (HandlerSecrets.Check), and by Client calls the
	// scheduler answered with a refusal.
	ErrRefused = errors.New("refused")
	// ErrProtocol is returned when a peer sends something that is not a
	// valid message, or when an operation needs a newer protocol.
	ErrProtocol = errors.New("wire: protocol error")

	// ErrPeerClosing is wrapped, with ErrUnavailable, by the calls a peer
	// did not read before it sent Closing: the process at the address is
	// going away.
	ErrPeerClosing = errors.New("the handler closed its socket and read none of the requests still without a reply")
)
