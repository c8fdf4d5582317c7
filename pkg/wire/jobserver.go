package wire

import (
	"bytes"
	"context"
	"fmt"
	"log/slog"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/go-zeromq/zmq4"
)

// JobServer is the handler's end of the job channel: the ROUTER socket the
// scheduler's Conn dials, the pipelining peers it has heard from, the
// Closing frame they get before it closes, and the writer that sends the
// replies to batching (protocol 3) peers as batch frames. What a request
// means is its caller's (pkg/handler).
type JobServer struct {
	sock   zmq4.Socket
	addr   string
	logger *slog.Logger
	epoch  time.Time

	// gate orders the handling of each message against SayClosing: once
	// closing is set, what is read is dropped. peers are the pipelining
	// (DEALER) peers seen, under gate.
	gate     sync.Mutex
	closing  bool
	sayClose bool                // Closing was sent; a peer first heard from later gets it too
	peers    map[string]struct{} // by identity
	lastMsg  atomic.Int64        // when the last message after Closing was read, as an offset from epoch

	// Replies to protocol 3 peers wait in outbox for the writer (Write),
	// which sends those of one peer as one batch frame.
	outMu     sync.Mutex
	outbox    []outReply
	outClosed bool
	outWake   chan struct{}
}

// Peer is the routing envelope of the peer a message came from: a reply
// sent to it reaches that peer.
type Peer [][]byte

// outReply is a reply waiting for the writer.
type outReply struct {
	peer    Peer
	payload []byte
}

// ListenJobs binds a job socket at endpoint with the socket options of l
// and of opts (WithCurveClient: the handler is the CURVE client of the
// scheduler that dials it). Its address (Addr) is the real port when the
// endpoint asked for port 0.
func ListenJobs(endpoint string, l Limits, logger *slog.Logger, opts ...Option) (*JobServer, error) {
	if logger == nil {
		logger = slog.New(slog.DiscardHandler)
	}
	sock := zmq4.NewRouter(context.Background(), settingsOf(append([]Option{WithLimits(l)}, opts...)).socketOptions()...)
	if err := Bind(sock, endpoint); err != nil {
		sock.Close()
		return nil, fmt.Errorf("bind %q: %w", endpoint, err)
	}
	addr := endpoint
	if strings.HasPrefix(addr, "tcp://") && sock.Addr() != nil {
		addr = "tcp://" + sock.Addr().String()
	}
	return &JobServer{sock: sock, addr: addr, logger: logger, epoch: time.Now(),
		peers: map[string]struct{}{}, outWake: make(chan struct{}, 1)}, nil
}

// Addr is the socket's address as registered.
func (s *JobServer) Addr() string { return s.addr }

// Close closes the socket; Recv then returns.
func (s *JobServer) Close() error { return s.sock.Close() }

// Recv reads messages until the socket is closed and hands each one's
// frame to serve, with the peer it came from, unless SayClosing was
// called: then it is dropped (and a peer first heard from after Closing
// went out is told so). serve runs one message at a time, ordered against
// SayClosing: what it replies before SayClosing returns goes out before
// Closing.
func (s *JobServer) Recv(serve func(peer Peer, frame []byte)) {
	for {
		msg, err := s.sock.Recv()
		if err != nil {
			return
		}
		if len(msg.Frames) < 2 {
			continue
		}
		peer := Peer(msg.Frames[:len(msg.Frames)-1])
		s.gate.Lock()
		if !s.closing {
			s.newPeer(peer)
			serve(peer, msg.Frames[len(msg.Frames)-1])
		} else {
			s.lastMsg.Store(int64(time.Since(s.epoch))) // for Linger
			if s.sayClose && s.newPeer(peer) {
				// First heard from after Closing went out (a scheduler
				// that dialed just now): dropped unread, and told so.
				s.Send(peer, Closing)
			}
		}
		s.gate.Unlock()
	}
}

// newPeer records peer when it pipelines (a DEALER: no empty delimiter
// frame, unlike REQ) and reports whether it was not known. The caller
// holds s.gate.
func (s *JobServer) newPeer(peer Peer) bool {
	if len(peer) != 1 {
		return false
	}
	if _, seen := s.peers[string(peer[0])]; seen {
		return false
	}
	s.peers[string(peer[0])] = struct{}{}
	return true
}

// SayClosing makes Recv drop whatever it reads from now on and, when
// answeredAll (every job admitted was answered), sends Closing to each
// pipelining peer: a request of theirs still without a reply was not read,
// so the scheduler may send it elsewhere instead of recording its outcome
// unknown. A job that ignored its cancellation may still answer, so then
// nothing is said.
func (s *JobServer) SayClosing(answeredAll bool) (said bool) {
	s.gate.Lock()
	defer s.gate.Unlock()
	s.closing = true
	s.sayClose = answeredAll
	if !answeredAll {
		return false
	}
	for id := range s.peers {
		s.Send(Peer{[]byte(id)}, Closing)
	}
	return true
}

// After Closing, the socket stays open closeQuiet, and then until no
// message came for closeQuiet (at most closeLinger in all): a scheduler
// that dials in the meantime (one that restarted just now) gets Closing
// in answer to its first message instead of losing it unread with the
// socket, which it could only record as an unknown outcome.
const (
	closeQuiet  = 25 * time.Millisecond
	closeLinger = 250 * time.Millisecond
)

// Linger waits, after SayClosing, as the constants above say.
func (s *JobServer) Linger() { s.linger(closeQuiet, closeLinger) }

func (s *JobServer) linger(quiet, limit time.Duration) {
	start := time.Since(s.epoch)
	for {
		now := time.Since(s.epoch)
		wait := max(start+quiet, time.Duration(s.lastMsg.Load())+quiet) - now
		if wait <= 0 || now-start >= limit {
			return
		}
		t := time.NewTimer(min(wait, start+limit-now))
		<-t.C
	}
}

// Reply sends out to peer: at once, or, to a peer that reads batch frames
// (batched), through the writer.
func (s *JobServer) Reply(peer Peer, out []byte, batched bool) {
	if batched {
		s.outMu.Lock()
		if !s.outClosed {
			s.outbox = append(s.outbox, outReply{peer: peer, payload: out})
			s.outMu.Unlock()
			select {
			case s.outWake <- struct{}{}:
			default: // the writer is awake already
			}
			return
		}
		s.outMu.Unlock()
	}
	s.Send(peer, out)
}

// Send sends frame to peer at once.
func (s *JobServer) Send(peer Peer, frame []byte) {
	frames := make([][]byte, 0, len(peer)+1)
	frames = append(frames, peer...)
	frames = append(frames, frame)
	if err := s.sock.Send(zmq4.NewMsgFrom(frames...)); err != nil {
		s.logger.Warn("reply not sent", "err", err)
	}
}

// Write sends the queued replies until stop is closed, then sends what is
// left and makes later replies go out directly. Replies queued while a
// send is in the kernel go out together, in batches as fitsBatch bounds
// them, so a busy handler makes a write per batch, not per job.
func (s *JobServer) Write(stop <-chan struct{}) {
	var taken []outReply
	var msgs [][]byte
	var frame []byte // reused: Send returns once the frame is written
	flush := func() {
		for {
			s.outMu.Lock()
			taken, s.outbox = s.outbox, taken[:0]
			s.outMu.Unlock()
			if len(taken) == 0 {
				return
			}
			for len(taken) > 0 {
				// The first reply's peer, and every queued reply to it.
				peer := taken[0].peer
				msgs = msgs[:0]
				rest := taken[:0]
				size := 0
				for _, o := range taken {
					if fitsBatch(len(msgs), size, len(o.payload)) && slices.EqualFunc(o.peer, peer, bytes.Equal) {
						size += len(o.payload)
						msgs = append(msgs, o.payload)
					} else {
						rest = append(rest, o)
					}
				}
				frame = AppendBatch(frame[:0], msgs)
				s.Send(peer, frame)
				clear(taken[len(rest):])
				taken = rest
			}
		}
	}
	for {
		select {
		case <-s.outWake:
			flush()
		case <-stop:
			s.outMu.Lock()
			s.outClosed = true
			s.outMu.Unlock()
			flush()
			return
		}
	}
}
