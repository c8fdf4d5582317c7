package handler

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"time"

	"github.com/schedulezero/schedulezero/pkg/wire"
)

// waiter is where one copy's reply goes.
type waiter struct {
	env     wire.Peer
	id      string
	batched bool
}

// attach answers req, a job, when its attempt ran here already (from the
// journal) or runs now (the copy waits for the same reply), or was
// disowned (refused: disowned.go), and reports whether it did; false: the
// job is new and is to be run. The caller is the recv loop.
func (r *runner) attach(env wire.Peer, req wire.Request, key string, batched bool) bool {
	r.mu.Lock()
	if r.disownedLocked(key) {
		r.mu.Unlock()
		r.logger.Warn("job refused: answered unknown to a scheduler after a failover", "method", req.Method,
			"execution_id", req.ExecutionID, "attempt", req.Attempt)
		r.js.Reply(env, notRunReply(req.ID, errDisowned), batched)
		return true
	}
	if f, ok := r.flights[key]; ok {
		f.waiters = append(f.waiters, waiter{env: env, id: req.ID, batched: batched})
		r.mu.Unlock()
		r.logger.Info("job already running; the copy waits for its reply", "method", req.Method,
			"execution_id", req.ExecutionID, "attempt", req.Attempt)
		return true
	}
	var e journalEntry
	ok := false
	if r.journal != nil {
		e, ok = r.journal.lookup(key)
	}
	r.mu.Unlock()
	if !ok {
		return false
	}
	r.logger.Info("job ran already; answered from the journal", "method", req.Method,
		"execution_id", req.ExecutionID, "attempt", req.Attempt)
	r.js.Reply(env, withID(e.Reply, req.ID), batched)
	return true
}

// runnerJournal opens the journal of opts.JournalDir; nil when none.
func runnerJournal(opts Options) (*journal, error) {
	if opts.JournalDir == "" {
		return nil, nil
	}
	j, err := openJournal(opts.JournalDir, opts.JournalEntries, opts.JournalMaxAge, time.Now)
	if err != nil {
		return nil, fmt.Errorf("handler %s: %w", opts.Name, err)
	}
	j.logger = opts.Logger.With("handler", opts.Name)
	return j, nil
}

// takeOff records the admitted job t as in flight, when it has an
// execution id, so that a copy arriving while it runs attaches to it and
// sz.cancel finds it. The caller is the recv loop, which attach ran in
// just before (or Local.Call).
func (r *runner) takeOff(t *task) {
	if t.key == "" {
		return
	}
	r.mu.Lock()
	r.flights[t.key] = t
	r.mu.Unlock()
}

// land makes the reply out of job t durable in the journal, then sends it
// to t's peer and to every copy that attached meanwhile. The flight is
// removed only once the journal holds the entry, so that a copy arriving
// at any moment finds one or the other. A job without an execution id
// (run_now of the original) is neither journaled nor attached to. hasID
// says out carries t's request id already (no journal keeps it).
func (r *runner) land(t *task, out []byte, hasID, ok bool) {
	own := out
	if !hasID {
		own = withID(out, t.id)
	}
	if t.job.ExecutionID == "" {
		r.deliver(t, own)
		return
	}
	if r.journal != nil {
		e := journalEntry{ExecutionID: t.job.ExecutionID, Attempt: t.job.Attempt, Success: ok,
			At: time.Now().UnixMilli(), Reply: out}
		if err := r.journal.append(e); err != nil {
			// The reply still goes out: the scheduler records it. Only a
			// copy sent after a lost reply would run again.
			r.logger.Error("reply not journaled; a repeat of this job would run again", "execution_id", t.job.ExecutionID,
				"attempt", t.job.Attempt, "err", err)
		}
	}
	r.mu.Lock()
	if r.flights[t.key] == t {
		delete(r.flights, t.key)
	}
	waiters := t.waiters
	t.waiters = nil
	r.mu.Unlock()
	r.deliver(t, own)
	for _, w := range waiters {
		r.js.Reply(w.env, withID(out, w.id), w.batched)
	}
}

// known answers wire.MethodKnown: whether the attempt ran here (with its
// stored reply), runs now, or is unknown; unknown, it is disowned: a
// request for it that arrives later is not run.
func (r *runner) known(req wire.Request) []byte {
	var p struct {
		ExecutionID string `json:"execution_id"`
		Attempt     int    `json:"attempt"`
	}
	if err := json.Unmarshal(req.Params, &p); err != nil || p.ExecutionID == "" {
		return failureReply(req.ID, errors.New(wire.MethodKnown+": params.execution_id is required"))
	}
	key := jobKey(p.ExecutionID, p.Attempt)
	r.mu.Lock()
	_, running := r.flights[key]
	var e journalEntry
	finished := false
	if !running && r.journal != nil {
		e, finished = r.journal.lookup(key)
	}
	if !running && !finished {
		r.disownLocked(key)
	}
	r.mu.Unlock()
	m := map[string]any{"success": true, "state": wire.KnownUnknown}
	switch {
	case running:
		m["state"] = wire.KnownRunning
	case finished:
		m["state"], m["reply"] = wire.KnownFinished, json.RawMessage(e.Reply)
	}
	return wire.EncodeReply(req.ID, m)
}

// withID is reply, a JSON object without an "id", with "id" put first
// (none when id is empty).
func withID(reply []byte, id string) []byte {
	if id == "" || len(reply) < 2 || reply[0] != '{' {
		return reply
	}
	if bytes.Contains(reply, []byte(`"id"`)) {
		// A handler's result named "id": the reply's own key must win.
		var m map[string]json.RawMessage
		if json.Unmarshal(reply, &m) != nil {
			return reply
		}
		q, _ := json.Marshal(id)
		m["id"] = q
		b, err := json.Marshal(m)
		if err != nil {
			return reply
		}
		return b
	}
	q, err := quote(id)
	if err != nil {
		return reply
	}
	out := make([]byte, 0, len(reply)+len(q)+6)
	out = append(out, `{"id":`...)
	out = append(out, q...)
	if len(reply) > 2 {
		out = append(out, ',')
	}
	return append(out, reply[1:]...)
}
