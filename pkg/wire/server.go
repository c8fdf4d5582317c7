package wire

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log"
	"log/slog"
	"strings"
	"sync"
	"time"

	"github.com/go-zeromq/zmq4"

	"github.com/schedulezero/schedulezero/pkg/field"
	"github.com/schedulezero/schedulezero/pkg/handlername"
)

// Registration is what a handler sends in a register request.
type Registration struct {
	HandlerID string
	Address   string
	Methods   []string
	// Protocol is "protocol" in the register params; 0 for the original's
	// handlers.
	Protocol int
	// Concurrency is "concurrency"; 0 means 1.
	Concurrency int
	// Secret is "secret". The Server checks it before Register when the
	// Registry is an Authenticator; Register itself may ignore it.
	Secret string
	// JobToken is "job_token" (protocol 4): the scheduler sends it back in
	// every request on the handler's job socket (WithJobToken). Like the
	// secret it is never logged or stored.
	JobToken string
	// Instance is "instance_id": which process of a pool of handlers
	// serving HandlerID this is. Empty (the original's handlers, ours
	// before pools): the registration replaces the handler's earlier one.
	Instance string
	// Host is "host", the name of the machine the instance runs on, for
	// display; Labels ("labels") are what a schedule's constraint
	// (--on KEY=VALUE) matches.
	Host   string
	Labels map[string]string
	// Heartbeat is "heartbeat_ms": how often the instance pings. The
	// scheduler routes around an instance silent for a few of them
	// (frozen); zero: it promises nothing, and is never judged so.
	Heartbeat time.Duration
}

// LogValue implements slog.LogValuer: a Registration in a log line never
// shows its secret or its job token.
func (r Registration) LogValue() slog.Value {
	return slog.GroupValue(slog.String("handler", r.HandlerID), slog.String("address", r.Address),
		slog.Int("methods", len(r.Methods)), slog.Int("protocol", r.Protocol), slog.String("instance", r.Instance),
		slog.Bool("secret", r.Secret != ""), slog.Bool("job_token", r.JobToken != ""))
}

// Registry is the scheduler side of registration, implemented by the
// engine.
type Registry interface {
	Register(ctx context.Context, r Registration) (reregistered bool, err error)
	// ReportStatus returns an error wrapping ErrUnknownHandler for an
	// unknown handler.
	ReportStatus(ctx context.Context, handlerID, status string) error
	// Seen is a liveness touch, called when a ping carries
	// params.handler_id.
	Seen(handlerID string)
}

// InstanceRegistry is a Registry that tells the instances of a pool apart:
// the Server calls these instead of Seen and ReportStatus when a ping or a
// status report names its instance ("instance_id").
type InstanceRegistry interface {
	SeenInstance(handlerID, instance string)
	ReportInstanceStatus(ctx context.Context, handlerID, instance, status string) error
}

const (
	serverWorkers     = 64
	registryTimeout   = 10 * time.Second
	socketSendTimeout = 5 * time.Second
)

// Server answers the registration channel on a ROUTER socket, so many REQ
// clients (the original's handlers and ours) are served concurrently.
type Server struct {
	reg      Registry
	logger   *slog.Logger
	sock     zmq4.Socket
	addr     string
	instance string

	closeOnce sync.Once
	closed    chan struct{}
	wg        sync.WaitGroup
}

// Listen binds endpoint now (tcp://host:port, port 0 included, or
// ipc://path), so Addr is valid before Serve. Its peers are held to the
// default Limits unless an option sets others.
func Listen(ctx context.Context, endpoint string, reg Registry, logger *slog.Logger, opts ...Option) (*Server, error) {
	if logger == nil {
		logger = slog.New(slog.DiscardHandler)
	}
	set := settingsOf(opts)
	if err := set.limits.Check(); err != nil {
		return nil, fmt.Errorf("listen %q: %w", endpoint, err)
	}
	sock := zmq4.NewRouter(context.WithoutCancel(ctx), set.socketOptions()...)
	if err := Bind(sock, endpoint); err != nil {
		sock.Close()
		return nil, fmt.Errorf("listen %q: %w", endpoint, err)
	}
	s := &Server{
		reg:      reg,
		logger:   logger.With("component", "wire"),
		sock:     sock,
		addr:     boundAddr(endpoint, sock),
		instance: newInstance(),
		closed:   make(chan struct{}),
	}
	return s, nil
}

// Addr returns the bound endpoint with the real port.
func (s *Server) Addr() string { return s.addr }

// Serve answers requests until ctx is done or Close is called, and closes
// the server before it returns. Requests are handled concurrently.
func (s *Server) Serve(ctx context.Context) error {
	stop := context.AfterFunc(ctx, func() { s.Close() })
	defer stop()
	sem := make(chan struct{}, serverWorkers)
	defer s.wg.Wait()
	// Close waits for a concurrent Close (sync.Once), so the endpoint is
	// released when Serve returns.
	defer s.Close()
	for {
		msg, err := s.sock.Recv()
		if err != nil {
			select {
			case <-s.closed:
				if ctx.Err() != nil {
					return nil
				}
				return ErrClosed
			default:
			}
			return fmt.Errorf("serve %s: %w", s.addr, err)
		}
		if len(msg.Frames) < 2 {
			continue // no routing identity: nothing to answer
		}
		select {
		case sem <- struct{}{}:
		case <-s.closed:
			continue
		}
		s.wg.Add(1)
		go func() {
			defer s.wg.Done()
			defer func() { <-sem }()
			rctx, cancel := context.WithTimeout(ctx, registryTimeout)
			defer cancel()
			out := respond(rctx, s.reg, s.instance, lastFrame(msg.Frames))
			frames := make([][]byte, 0, len(msg.Frames))
			frames = append(frames, msg.Frames[:len(msg.Frames)-1]...)
			frames = append(frames, out)
			if err := s.sock.Send(zmq4.NewMsgFrom(frames...)); err != nil {
				s.logger.Warn("reply not sent", "err", err)
			}
		}()
	}
}

// Close stops the server and releases its socket. It is idempotent.
func (s *Server) Close() error {
	var err error
	s.closeOnce.Do(func() {
		close(s.closed)
		err = s.sock.Close()
	})
	return err
}

// Reply shapes of the original. Structs keep the key order stable.
type (
	errorReply struct {
		Success bool   `json:"success"`
		Error   string `json:"error"`
		// Refused marks a refused secret (an extension: the original's
		// requests are never refused).
		Refused bool `json:"refused,omitempty"`
	}
	pongReply struct {
		Success  bool   `json:"success"`
		Message  string `json:"message"`
		Instance string `json:"instance,omitempty"`
	}
	registerReply struct {
		Success   bool     `json:"success"`
		HandlerID string   `json:"handler_id"`
		Address   string   `json:"address"`
		Status    string   `json:"status"`
		Methods   []string `json:"methods"`
		Message   string   `json:"message"`
		Instance  string   `json:"instance,omitempty"`
		// Protocol is the version the scheduler speaks with this handler
		// (for a handler that announced 2 or more).
		Protocol int `json:"protocol,omitempty"`
	}
	statusReply struct {
		Success   bool   `json:"success"`
		HandlerID string `json:"handler_id"`
		Status    string `json:"status"`
	}
)

type registerParams struct {
	HandlerID   *string  `json:"handler_id"`
	Address     *string  `json:"address"`
	Methods     []string `json:"methods"`
	Protocol    int      `json:"protocol"`
	Concurrency int      `json:"concurrency"`
	Secret      string   `json:"secret"`
	JobToken    string   `json:"job_token"`

	Instance    string            `json:"instance_id"`
	Host        string            `json:"host"`
	Labels      map[string]string `json:"labels"`
	HeartbeatMS int64             `json:"heartbeat_ms"`
}

// maxHeartbeatMS bounds heartbeat_ms: a day.
const maxHeartbeatMS = 24 * 3600 * 1000

// checkPool checks the pool fields of a registration; an error names the
// field.
func (p registerParams) checkPool() error {
	if p.Instance != "" {
		if err := handlername.CheckInstance(p.Instance); err != nil {
			return field.Prefix("params.instance_id", err)
		}
	}
	if len(p.Host) > handlername.MaxInstanceLen {
		return field.Errorf("params.host", "has %d characters", len(p.Host)).WithFix("use at most %d", handlername.MaxInstanceLen)
	}
	if err := handlername.CheckLabels(p.Labels); err != nil {
		return field.Prefix("params.labels", err)
	}
	if p.HeartbeatMS < 0 || p.HeartbeatMS > maxHeartbeatMS {
		return field.Errorf("params.heartbeat_ms", "is %d", p.HeartbeatMS).WithFix("use 0 (none) up to %d", maxHeartbeatMS)
	}
	return nil
}

type statusParams struct {
	HandlerID string `json:"handler_id"`
	Instance  string `json:"instance_id"`
	Status    string `json:"status"`
	Secret    string `json:"secret"`
}

// seen and reportStatus pass a ping or a status report to reg, naming the
// instance when it said one and reg tells instances apart.
func seen(reg Registry, handlerID, instance string) {
	if ir, ok := reg.(InstanceRegistry); ok && instance != "" {
		ir.SeenInstance(handlerID, instance)
		return
	}
	reg.Seen(handlerID)
}

func reportStatus(ctx context.Context, reg Registry, p statusParams) error {
	if ir, ok := reg.(InstanceRegistry); ok && p.Instance != "" {
		return ir.ReportInstanceStatus(ctx, p.HandlerID, p.Instance, p.Status)
	}
	return reg.ReportStatus(ctx, p.HandlerID, p.Status)
}

// refusal answers a request whose secret the Registry refused, or returns
// nil when reg checks no secrets or accepts this one.
func refusal(reg Registry, method, handlerID, secret string) []byte {
	auth, ok := reg.(Authenticator)
	if !ok {
		return nil
	}
	if err := auth.Authenticate(handlerID, secret); err != nil {
		return mustJSON(errorReply{Error: method + ": " + err.Error(), Refused: true})
	}
	return nil
}

// respond turns one request frame into one reply frame. It never panics
// and always returns a JSON object with "success".
func respond(ctx context.Context, reg Registry, instance string, b []byte) []byte {
	req, err := DecodeRequest(b)
	if err != nil {
		if !json.Valid(b) {
			return mustJSON(errorReply{Error: "Invalid JSON: " + err.Error()})
		}
		return mustJSON(errorReply{Error: err.Error()})
	}
	switch req.Method {
	case "ping":
		var p struct {
			HandlerID string `json:"handler_id"`
			Instance  string `json:"instance_id"`
			Secret    string `json:"secret"`
		}
		_ = json.Unmarshal(req.Params, &p)
		if p.HandlerID != "" {
			if out := refusal(reg, "ping", p.HandlerID, p.Secret); out != nil {
				return out
			}
			seen(reg, p.HandlerID, p.Instance)
			return mustJSON(pongReply{Success: true, Message: "pong", Instance: instance})
		}
		return mustJSON(pongReply{Success: true, Message: "pong"})
	case "register":
		var p registerParams
		if len(req.Params) > 0 {
			if err := json.Unmarshal(req.Params, &p); err != nil {
				return mustJSON(errorReply{Error: "register: params: " + err.Error()})
			}
		}
		switch {
		case p.HandlerID == nil || *p.HandlerID == "":
			return mustJSON(errorReply{Error: "register: params.handler_id is required"})
		case p.Address == nil || *p.Address == "":
			return mustJSON(errorReply{Error: "register: params.address is required"})
		}
		if err := handlername.Check(*p.HandlerID); err != nil {
			return mustJSON(errorReply{Error: "register: " + field.Prefix("params.handler_id", err).Error()})
		}
		if err := handlername.CheckEndpoint(*p.Address); err != nil {
			return mustJSON(errorReply{Error: "register " + *p.HandlerID + ": " + field.Prefix("params.address", err).Error()})
		}
		if err := checkJobToken(p.JobToken); err != nil {
			return mustJSON(errorReply{Error: "register " + *p.HandlerID + ": " + err.Error()})
		}
		if err := p.checkPool(); err != nil {
			return mustJSON(errorReply{Error: "register " + *p.HandlerID + ": " + err.Error()})
		}
		if p.Methods == nil {
			p.Methods = []string{}
		}
		if out := refusal(reg, "register", *p.HandlerID, p.Secret); out != nil {
			return out
		}
		r := Registration{HandlerID: *p.HandlerID, Address: *p.Address, Methods: p.Methods,
			Protocol: p.Protocol, Concurrency: p.Concurrency, Secret: p.Secret, JobToken: p.JobToken,
			Instance: p.Instance, Host: p.Host, Labels: p.Labels, Heartbeat: time.Duration(p.HeartbeatMS) * time.Millisecond}
		again, err := reg.Register(ctx, r)
		if err != nil {
			return mustJSON(errorReply{Error: "register " + r.HandlerID + ": " + err.Error()})
		}
		out := registerReply{Success: true, HandlerID: r.HandlerID, Address: r.Address,
			Status: "registered", Methods: r.Methods,
			Message: fmt.Sprintf("Handler %s registered successfully", r.HandlerID)}
		if again {
			out.Status = "re-registered"
			out.Message = fmt.Sprintf("Handler %s re-registered successfully", r.HandlerID)
		}
		if r.Protocol >= ProtocolPipelined {
			out.Instance = instance
			out.Protocol = min(r.Protocol, ProtocolLatest)
		}
		return mustJSON(out)
	case "report_status":
		var p statusParams
		if len(req.Params) > 0 {
			if err := json.Unmarshal(req.Params, &p); err != nil {
				return mustJSON(errorReply{Error: "report_status: params: " + err.Error()})
			}
		}
		if p.HandlerID == "" || p.Status == "" {
			return mustJSON(errorReply{Error: "report_status: params.handler_id and params.status are required"})
		}
		if out := refusal(reg, "report_status", p.HandlerID, p.Secret); out != nil {
			return out
		}
		if err := reportStatus(ctx, reg, p); err != nil {
			if errors.Is(err, ErrUnknownHandler) {
				return mustJSON(errorReply{Error: "Handler not registered"})
			}
			return mustJSON(errorReply{Error: "report_status " + p.HandlerID + ": " + err.Error()})
		}
		return mustJSON(statusReply{Success: true, HandlerID: p.HandlerID, Status: p.Status})
	default:
		return mustJSON(errorReply{Error: "Unknown method: " + req.Method})
	}
}

func mustJSON(v any) []byte {
	b, err := json.Marshal(v)
	if err != nil {
		// Only possible for values we never build; keep the contract.
		return []byte(`{"success":false,"error":"internal encoding error"}`)
	}
	return b
}

func boundAddr(endpoint string, sock zmq4.Socket) string {
	if strings.HasPrefix(endpoint, "tcp://") && sock.Addr() != nil {
		return "tcp://" + sock.Addr().String()
	}
	return endpoint
}

func newInstance() string {
	var b [8]byte
	_, _ = rand.Read(b[:])
	return hex.EncodeToString(b[:])
}

// zmqLogger silences zmq4's own logger: errors reach us as return values.
func zmqLogger() *log.Logger { return log.New(io.Discard, "", 0) }
