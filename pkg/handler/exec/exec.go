// Package exec is the handler kind that runs commands: each method maps to
// a command line, so any script becomes a ScheduleZero job without writing
// Go. It exists because most jobs are scripts, and scripts need what the
// original never gave them: the job's parameters, its identity, a bounded
// capture of their output and a kill of their whole process tree when the
// deadline passes or the scheduler cancels.
//
// A job's params arrive as JSON on stdin and as environment variables:
// SZ_PARAM_<KEY> for each top-level scalar param (key upper-cased, other
// characters replaced by "_"), plus SZ_EXECUTION_ID, SZ_SCHEDULE_ID, SZ_ATTEMPT, SZ_METHOD
// and SZ_HANDLER. Exit status 0 is success. stdout and stderr are kept up
// to 64 KiB each and returned as {"exit_code","stdout","stderr"}.
package exec

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"os"
	osexec "os/exec"
	"sort"
	"strconv"
	"strings"
	"syscall"
	"time"

	"github.com/schedulezero/schedulezero/pkg/field"
	"github.com/schedulezero/schedulezero/pkg/handler"
	"github.com/schedulezero/schedulezero/pkg/handlername"
)

// Defaults.
const (
	// OutputLimit is how much of stdout and of stderr is kept.
	OutputLimit = 64 << 10
	// DefaultTimeout applies when a method sets none and the job has no
	// deadline.
	DefaultTimeout = time.Hour
	// KillGrace is the time between SIGTERM and SIGKILL.
	KillGrace = 5 * time.Second
)

// Command is the configuration of one method.
type Command struct {
	// Command is the program and its arguments; Command[0] should be an
	// absolute path.
	Command []string `json:"command"`
	// Timeout bounds one run; the job's own deadline applies when sooner.
	Timeout handlername.Duration `json:"timeout,omitempty"`
	// Env is added to the handler's environment.
	Env map[string]string `json:"env,omitempty"`
	// Dir is the working directory; empty means the handler's.
	Dir string `json:"dir,omitempty"`
}

// Runner runs the configured commands.
type Runner struct {
	methods map[string]Command
	logger  *slog.Logger
	grace   time.Duration
}

// New validates methods and returns a Runner. Errors are *field.Error
// naming methods.<name>.<key>.
func New(methods map[string]Command, logger *slog.Logger) (*Runner, error) {
	if len(methods) == 0 {
		return nil, field.Errorf("methods", "no methods configured").WithFix(`add {"methods":{"name":{"command":["/path/to/program"]}}}`)
	}
	for name, c := range methods {
		f := "methods." + name
		switch {
		case name == "" || name == "ping" || strings.HasPrefix(name, "sz."):
			return nil, field.Errorf(f, "method name %q is empty or reserved", name)
		case len(c.Command) == 0 || c.Command[0] == "":
			return nil, field.Errorf(f+".command", "is empty").WithFix(`give ["/path/to/program", "arg", ...]`)
		}
		for k := range c.Env {
			if k == "" || strings.ContainsAny(k, "=\x00") {
				return nil, field.Errorf(f+".env", "bad variable name %q", k)
			}
		}
	}
	if logger == nil {
		logger = slog.New(slog.DiscardHandler)
	}
	return &Runner{methods: methods, logger: logger, grace: KillGrace}, nil
}

// Register adds one method per configured command to m.
func (r *Runner) Register(m *handler.Mux) {
	names := make([]string, 0, len(r.methods))
	for n := range r.methods {
		names = append(names, n)
	}
	sort.Strings(names)
	for _, n := range names {
		c := r.methods[n]
		m.HandleFunc(n, func(ctx context.Context, job *handler.Job) (any, error) { return r.run(ctx, c, job) })
	}
}

// Result is what a run returns, in the reply on success and on failure.
type Result struct {
	ExitCode int    `json:"exit_code"`
	Stdout   string `json:"stdout"`
	Stderr   string `json:"stderr"`
}

// RunError is a failed run: a non-zero exit, a kill or a start failure.
type RunError struct {
	Method string
	Res    Result
	Err    error
}

func (e *RunError) Error() string {
	msg := fmt.Sprintf("command for %s: %v", e.Method, e.Err)
	if last := lastLine(e.Res.Stderr); last != "" {
		msg += ": " + last
	}
	return msg
}
func (e *RunError) Unwrap() error { return e.Err }

// Result makes RunError a handler.ResultError: the output reaches the
// scheduler on failure too.
func (e *RunError) Result() any { return e.Res }

func (r *Runner) run(ctx context.Context, c Command, job *handler.Job) (any, error) {
	timeout := time.Duration(c.Timeout)
	if timeout == 0 {
		timeout = DefaultTimeout
	}
	// Which deadline ends the run, to say so when it does.
	limit := fmt.Sprintf("killed after the method's %s timeout", timeout)
	if d, ok := ctx.Deadline(); ok && time.Until(d) < timeout {
		limit = "killed at the job's deadline"
	}
	ctx, cancel := context.WithTimeout(ctx, timeout)
	defer cancel()

	env, err := jobEnv(c.Env, job)
	if err != nil {
		return nil, handler.Permanent(err)
	}
	cmd := osexec.Command(c.Command[0], c.Command[1:]...)
	cmd.Dir = c.Dir
	cmd.Env = env
	cmd.Stdin = bytes.NewReader(stdinParams(job.Params))
	stdout, stderr := &capped{limit: OutputLimit}, &capped{limit: OutputLimit}
	cmd.Stdout, cmd.Stderr = stdout, stderr
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
	// If the leader exits while children keep the pipes open, stop waiting
	// for them after the grace.
	cmd.WaitDelay = r.grace + time.Second
	if err := cmd.Start(); err != nil {
		return nil, handler.Permanent(&RunError{Method: job.Method, Res: Result{ExitCode: -1}, Err: err})
	}
	pgid := cmd.Process.Pid
	waited := make(chan struct{})
	killed := make(chan struct{})
	go func() {
		defer close(killed)
		select {
		case <-waited:
			return
		case <-ctx.Done():
		}
		_ = syscall.Kill(-pgid, syscall.SIGTERM)
		t := time.NewTimer(r.grace)
		defer t.Stop()
		select {
		case <-waited:
		case <-t.C:
		}
		_ = syscall.Kill(-pgid, syscall.SIGKILL)
	}()
	werr := cmd.Wait()
	close(waited)
	<-killed
	// Whatever is left of the job's process group dies with the job.
	_ = syscall.Kill(-pgid, syscall.SIGKILL)

	res := Result{ExitCode: cmd.ProcessState.ExitCode(), Stdout: stdout.String(), Stderr: stderr.String()}
	log := r.logger.With("method", job.Method, "execution_id", job.ExecutionID, "attempt", job.Attempt, "exit_code", res.ExitCode)
	if stdout.Len() > 0 {
		log.Info("command stdout", "output", res.Stdout)
	}
	if stderr.Len() > 0 {
		log.Info("command stderr", "output", res.Stderr)
	}
	switch {
	case errors.Is(ctx.Err(), context.DeadlineExceeded):
		// The method's timeout or the job's deadline: the scheduler
		// records "timeout".
		return nil, handler.Timeout(&RunError{Method: job.Method, Res: res, Err: fmt.Errorf("%s: %w", limit, context.Cause(ctx))})
	case ctx.Err() != nil:
		return nil, &RunError{Method: job.Method, Res: res, Err: fmt.Errorf("killed: %w", context.Cause(ctx))}
	case werr != nil:
		var ee *osexec.ExitError
		if errors.As(werr, &ee) {
			return nil, &RunError{Method: job.Method, Res: res, Err: fmt.Errorf("exit status %d", res.ExitCode)}
		}
		return nil, &RunError{Method: job.Method, Res: res, Err: werr}
	}
	return res, nil
}

func stdinParams(p json.RawMessage) []byte {
	if len(p) == 0 {
		return []byte("{}\n")
	}
	return append(append([]byte(nil), p...), '\n')
}

// jobEnv builds the environment: the handler's, the method's Env, then the
// SZ_* job variables.
func jobEnv(extra map[string]string, job *handler.Job) ([]string, error) {
	env := os.Environ()
	keys := make([]string, 0, len(extra))
	for k := range extra {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	for _, k := range keys {
		env = append(env, k+"="+extra[k])
	}
	env = append(env,
		"SZ_EXECUTION_ID="+job.ExecutionID,
		"SZ_SCHEDULE_ID="+job.ScheduleID,
		"SZ_ATTEMPT="+strconv.Itoa(job.Attempt),
		"SZ_METHOD="+job.Method,
		"SZ_HANDLER="+job.Handler)
	if len(job.Params) == 0 {
		return env, nil
	}
	var params map[string]json.RawMessage
	if err := json.Unmarshal(job.Params, &params); err != nil {
		return nil, field.Errorf("params", "not a JSON object: %v", err)
	}
	pk := make([]string, 0, len(params))
	for k := range params {
		pk = append(pk, k)
	}
	sort.Strings(pk)
	for _, k := range pk {
		if v, ok := scalar(params[k]); ok {
			env = append(env, "SZ_PARAM_"+envName(k)+"="+v)
		}
	}
	return env, nil
}

func scalar(raw json.RawMessage) (string, bool) {
	var v any
	if json.Unmarshal(raw, &v) != nil {
		return "", false
	}
	switch t := v.(type) {
	case string:
		if strings.ContainsRune(t, 0) {
			return "", false
		}
		return t, true
	case float64, bool:
		return string(bytes.TrimSpace(raw)), true
	}
	return "", false
}

func envName(k string) string {
	var b strings.Builder
	for _, r := range strings.ToUpper(k) {
		if r >= 'A' && r <= 'Z' || r >= '0' && r <= '9' {
			b.WriteRune(r)
		} else {
			b.WriteByte('_')
		}
	}
	return b.String()
}

// capped keeps the first limit bytes written and counts the rest.
type capped struct {
	limit   int
	buf     bytes.Buffer
	dropped int
}

func (c *capped) Write(p []byte) (int, error) {
	room := c.limit - c.buf.Len()
	if room >= len(p) {
		c.buf.Write(p)
	} else {
		if room > 0 {
			c.buf.Write(p[:room])
		}
		c.dropped += len(p) - max(room, 0)
	}
	return len(p), nil
}

func (c *capped) Len() int { return c.buf.Len() }

func (c *capped) String() string {
	if c.dropped == 0 {
		return c.buf.String()
	}
	return c.buf.String() + fmt.Sprintf("\n[truncated: %d more bytes]", c.dropped)
}

func lastLine(s string) string {
	s = strings.TrimSpace(s)
	if i := strings.LastIndexByte(s, '\n'); i >= 0 {
		s = s[i+1:]
	}
	if len(s) > 200 {
		s = s[:200]
	}
	return s
}
