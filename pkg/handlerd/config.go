// Package handlerd is the handler daemon's assembly, as schedulerd and
// governord are the scheduler's and the governor's: it turns a handler
// instance's name, flags and JSON config file into a running handler. It
// is the logic behind cmd/schedulezero-handler, kept out of main so it can
// be tested. One binary serves every instance
// (schedulezero-handler@NAME), each reading the file named after it.
package handlerd

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"log/slog"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"time"

	"github.com/schedulezero/schedulezero/pkg/field"
	"github.com/schedulezero/schedulezero/pkg/handler"
	"github.com/schedulezero/schedulezero/pkg/handler/dingaling"
	"github.com/schedulezero/schedulezero/pkg/handler/exec"
	"github.com/schedulezero/schedulezero/pkg/handlername"
	"github.com/schedulezero/schedulezero/pkg/secretfile"
	"github.com/schedulezero/schedulezero/pkg/wire"
)

// SystemDir is the last place a config file is looked for.
const SystemDir = "/etc/schedulezero/handlers"

// Flags are the command-line overrides; zero values leave the file's.
type Flags struct {
	Name        string
	ConfigPath  string
	Kind        string
	Endpoint    string
	Scheduler   string
	Concurrency int
	// SecretFile is the registration secret's file (--secret-file); it
	// wins over the config file's secret_file.
	SecretFile string
	// ZMQLimits override the file's zmq_max_message_size and
	// zmq_handshake_timeout where set.
	ZMQLimits wire.Limits
	// Journal (--journal) overrides the file's journal_dir: a directory,
	// or "off".
	Journal string
	// CurveSecretKeyFile (--curve-secret-key-file) and CurveServerKey
	// (--curve-server-key: the scheduler's public key, Z85 text or a file
	// of it) make both sockets CURVE clients of the scheduler; both or
	// neither. A relative key file is a systemd credential's name.
	CurveSecretKeyFile, CurveServerKey string
	// Instance (--instance) tells this process apart from others serving
	// the same name (a pool); empty: HOST:NAME (handler.DefaultInstance).
	Instance string
	// Labels (--label KEY=VALUE, repeated) are what a schedule's --on
	// constraint matches.
	Labels []string
	// PingInterval (--ping-interval) overrides the file's ping_interval:
	// the heartbeat that the scheduler's health window counts.
	PingInterval time.Duration
}

// Path returns where the config file of handler name is: explicit, else
// $SZ_HANDLER_CONFIG_DIR/NAME.json, else
// $CONFIGURATION_DIRECTORY/handlers/NAME.json, else SystemDir/NAME.json.
func Path(name, explicit string, getenv func(string) string) string {
	switch {
	case explicit != "":
		return explicit
	case getenv("SZ_HANDLER_CONFIG_DIR") != "":
		return filepath.Join(getenv("SZ_HANDLER_CONFIG_DIR"), name+".json")
	case getenv("CONFIGURATION_DIRECTORY") != "":
		// systemd may list several directories separated by ':'.
		dir, _, _ := strings.Cut(getenv("CONFIGURATION_DIRECTORY"), ":")
		return filepath.Join(dir, "handlers", name+".json")
	}
	return filepath.Join(SystemDir, name+".json")
}

// Load reads and validates one config file. Errors name the file and the
// key. A missing file gives an error wrapping fs.ErrNotExist.
func Load(path string) (handlername.File, error) {
	var f handlername.File
	b, err := os.ReadFile(path)
	if err != nil {
		return f, fmt.Errorf("handler config: %w", err)
	}
	if err := decode(b, &f); err != nil {
		return handlername.File{}, fmt.Errorf("handler config %s: %w", path, err)
	}
	return f, nil
}

// commands decodes the exec kind's methods of f, strictly.
func commands(f handlername.File) (map[string]exec.Command, error) {
	if f.Methods == nil {
		return nil, nil
	}
	out := make(map[string]exec.Command, len(f.Methods))
	for name, raw := range f.Methods {
		var c exec.Command
		d := json.NewDecoder(bytes.NewReader(raw))
		d.DisallowUnknownFields()
		if err := d.Decode(&c); err != nil {
			return nil, field.Errorf("methods."+name, "%v", err).WithFix(`keys are command, timeout, env, dir`)
		}
		out[name] = c
	}
	return out, nil
}

func decode(b []byte, f *handlername.File) error {
	var top map[string]json.RawMessage
	if err := json.Unmarshal(b, &top); err != nil {
		return field.Errorf("", "not a JSON object: %v", err)
	}
	known := map[string]any{"kind": &f.Kind, "endpoint": &f.Endpoint, "scheduler": &f.Scheduler,
		"concurrency": &f.Concurrency, "ping_interval": &f.PingInterval, "secret_file": &f.SecretFile,
		"allow_non_loopback":   &f.AllowNonLoopback,
		"zmq_max_message_size": &f.ZMQMaxMessageSize, "zmq_handshake_timeout": &f.ZMQHandshakeTimeout,
		"journal_dir": &f.JournalDir}
	keys := make([]string, 0, len(top))
	for k := range top {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	for _, k := range keys {
		if k == "methods" {
			continue
		}
		dst, ok := known[k]
		if !ok {
			return field.Errorf(k, "unknown key").WithFix("use kind, endpoint, scheduler, concurrency, ping_interval, secret_file, allow_non_loopback, zmq_max_message_size, zmq_handshake_timeout, journal_dir or methods")
		}
		if err := json.Unmarshal(top[k], dst); err != nil {
			return field.Errorf(k, "%v", err)
		}
	}
	if raw, ok := top["methods"]; ok {
		if err := json.Unmarshal(raw, &f.Methods); err != nil {
			return field.Errorf("methods", "want an object of method name to command: %v", err)
		}
		if _, err := commands(*f); err != nil {
			return err
		}
	}
	if f.Concurrency < 0 {
		return field.Errorf("concurrency", "is negative")
	}
	if err := (wire.Limits{MaxMessageSize: f.ZMQMaxMessageSize}).Check(); err != nil {
		return field.Errorf("zmq_max_message_size", "%v", err)
	}
	if err := (wire.Limits{HandshakeTimeout: time.Duration(f.ZMQHandshakeTimeout)}).Check(); err != nil {
		return field.Errorf("zmq_handshake_timeout", "%v", err)
	}
	return nil
}

// Options builds the handler's Mux and Options from flags, the config file
// and the environment.
func Options(fl Flags, logger *slog.Logger, getenv func(string) string) (*handler.Mux, handler.Options, error) {
	if err := handlername.Check(fl.Name); err != nil {
		return nil, handler.Options{}, field.Prefix("name", err)
	}
	path := Path(fl.Name, fl.ConfigPath, getenv)
	f, err := Load(path)
	if err != nil {
		if !errors.Is(err, fs.ErrNotExist) || fl.Kind == "" || fl.ConfigPath != "" {
			return nil, handler.Options{}, err
		}
		f = handlername.File{}
	}
	if fl.Kind != "" {
		f.Kind = fl.Kind
	}
	if fl.Endpoint != "" {
		f.Endpoint = fl.Endpoint
	}
	if fl.Scheduler != "" {
		f.Scheduler = fl.Scheduler
	}
	if fl.Concurrency != 0 {
		f.Concurrency = fl.Concurrency
	}
	limits := wire.Limits{MaxMessageSize: f.ZMQMaxMessageSize, HandshakeTimeout: time.Duration(f.ZMQHandshakeTimeout)}
	if fl.ZMQLimits.MaxMessageSize != 0 {
		limits.MaxMessageSize = fl.ZMQLimits.MaxMessageSize
	}
	if fl.ZMQLimits.HandshakeTimeout != 0 {
		limits.HandshakeTimeout = fl.ZMQLimits.HandshakeTimeout
	}
	// Under systemd (RuntimeDirectory=) local traffic defaults to ipc://
	// sockets in the runtime directory, which only the service's user and
	// group can reach; the scheduler unit binds SchedulerSocket there.
	if dir, _, _ := strings.Cut(getenv("RUNTIME_DIRECTORY"), ":"); dir != "" {
		if f.Endpoint == "" {
			f.Endpoint = handlername.RuntimeEndpoint(dir, fl.Name)
		}
		if f.Scheduler == "" {
			f.Scheduler = "ipc://" + filepath.Join(dir, handlername.SchedulerSocket)
		}
	}
	if f.Endpoint != "" {
		if err := handlername.CheckBind(f.Endpoint, f.AllowNonLoopback); err != nil {
			if fl.Endpoint != "" {
				return nil, handler.Options{}, field.Prefix("--endpoint", err)
			}
			return nil, handler.Options{}, fmt.Errorf("handler config %s: %w", path, field.Prefix("endpoint", err))
		}
	}
	kindLogger := logger.With("handler", fl.Name) // Serve adds the key to its own lines
	mux := handler.NewMux()
	switch f.Kind {
	case handlername.KindDingaling:
		if len(f.Methods) > 0 {
			return nil, handler.Options{}, fmt.Errorf("handler config %s: %w", path, field.Errorf("methods", "only the exec kind has methods"))
		}
		dingaling.New(kindLogger).Register(mux)
	case handlername.KindExec:
		cmds, err := commands(f)
		if err != nil {
			return nil, handler.Options{}, fmt.Errorf("handler config %s: %w", path, err)
		}
		r, err := exec.New(cmds, kindLogger)
		if err != nil {
			return nil, handler.Options{}, fmt.Errorf("handler config %s: %w", path, err)
		}
		r.Register(mux)
	default:
		return nil, handler.Options{}, fmt.Errorf("handler config %s: %w", path,
			field.Errorf("kind", "%q is not a handler kind", f.Kind).WithFix(`use "dingaling" or "exec"`))
	}
	opts := handler.Options{Name: fl.Name, Endpoint: f.Endpoint, Scheduler: f.Scheduler,
		Concurrency: f.Concurrency, PingInterval: time.Duration(f.PingInterval), Limits: limits, Logger: logger}
	if fl.PingInterval < 0 {
		return nil, handler.Options{}, field.Errorf("--ping-interval", "is negative").WithFix("use a positive duration such as 5s")
	}
	if fl.PingInterval > 0 {
		opts.PingInterval = fl.PingInterval
	}
	if fl.Instance != "" {
		if err := handlername.CheckInstance(fl.Instance); err != nil {
			return nil, handler.Options{}, field.Prefix("--instance", err)
		}
		opts.Instance = fl.Instance
	}
	if opts.Labels, err = handlername.ParseLabels(fl.Labels); err != nil {
		return nil, handler.Options{}, field.Prefix("--label", err)
	}
	opts.JournalDir = journalDir(fl.Name, fl.Journal, f.JournalDir, getenv)
	opts.Secret, err = secret(fl.SecretFile, f.SecretFile, getenv)
	if err != nil {
		if fl.SecretFile == "" {
			err = fmt.Errorf("handler config %s: %w", path, err)
		}
		return nil, handler.Options{}, err
	}
	if opts.Wire, err = curveClient(fl.CurveSecretKeyFile, fl.CurveServerKey, getenv); err != nil {
		return nil, handler.Options{}, err
	}
	return mux, opts, nil
}

// curveClient is the CURVE client option of the two flags: none when
// neither is given.
func curveClient(secretFile, serverKey string, getenv func(string) string) ([]wire.Option, error) {
	switch {
	case secretFile == "" && serverKey == "":
		return nil, nil
	case secretFile == "":
		return nil, field.Errorf("--curve-secret-key-file", "is required with --curve-server-key").WithFix("make a key pair with `schedulezero keys generate --secret-file FILE`")
	case serverKey == "":
		return nil, field.Errorf("--curve-server-key", "is required with --curve-secret-key-file").WithFix("give the scheduler's public key (`schedulezero keys show` on its key file)")
	}
	server, err := wire.ParseCurvePublicKey(serverKey)
	if err != nil { // not the key itself: a file holding it
		keys, ferr := wire.ReadCurveAllowed(serverKey)
		if ferr != nil || len(keys) != 1 {
			return nil, field.Errorf("--curve-server-key", "%q is neither a 40-character Z85 public key nor a file of one", serverKey).WithFix("give the scheduler's public key (`schedulezero keys show` on its key file)")
		}
		server = keys[0]
	}
	secret, err := wire.ReadCurveSecretKey(secretFile, getenv("CREDENTIALS_DIRECTORY"))
	if err != nil {
		return nil, field.Prefix("--curve-secret-key-file", err)
	}
	return []wire.Option{wire.WithCurveClient(secret, server)}, nil
}

// JournalOff is the --journal (journal_dir) value that keeps no journal.
const JournalOff = "off"

// journalDir decides where the journal of handler name goes: --journal,
// else the file's journal_dir, else journal/NAME in the unit's state
// directory (StateDirectory=, the first when systemd lists several; NAME
// because processes a governor starts inherit its one directory); "off"
// at either level, or no state directory outside systemd, keeps none.
func journalDir(name, flag, file string, getenv func(string) string) string {
	v := flag
	if v == "" {
		v = file
	}
	if v == "" {
		if state, _, _ := strings.Cut(getenv("STATE_DIRECTORY"), ":"); state != "" {
			v = filepath.Join(state, "journal", name)
		}
	}
	if v == JournalOff {
		return ""
	}
	return v
}

// maxSecretFile bounds what is read from a secret file.
const maxSecretFile = 4096

// secret finds the handler's registration secret: the file of --secret-file
// (flag), else the config file's secret_file (file: an absolute path, or a
// name inside $CREDENTIALS_DIRECTORY; never relative to the working
// directory, and no ".."), else the credential handler-secret when systemd
// passed one (LoadCredential=handler-secret:...). No secret at all is fine:
// the scheduler decides whether this handler needs one. A file outside the
// credentials directory must not be accessible to its group or others
// (secretfile). The secret itself is never logged.
func secret(flag, file string, getenv func(string) string) (string, error) {
	creds := getenv("CREDENTIALS_DIRECTORY")
	var key, p string
	switch {
	case flag != "":
		key, p = "--secret-file", flag
	case file != "":
		key = "secret_file"
		var err error
		if p, err = secretfile.Resolve(file, creds); err != nil {
			return "", field.Errorf(key, "%v", err).WithFix("give an absolute path, or the name of a credential of the handler's unit")
		}
	case creds != "":
		p = filepath.Join(creds, wire.HandlerSecretCredential)
		if _, err := os.Stat(p); errors.Is(err, fs.ErrNotExist) {
			return "", nil
		}
		key = "$CREDENTIALS_DIRECTORY/" + wire.HandlerSecretCredential
	default:
		return "", nil
	}
	s, err := secretfile.Read(p, creds, maxSecretFile)
	if err != nil {
		return "", field.Errorf(key, "%v", err).WithFix("create the file with the handler's secret (chmod 600), or leave %s out", key)
	}
	if s == "" {
		return "", field.Errorf(key, "%s is empty", p).WithFix("write the handler's registration secret into it")
	}
	return s, nil
}
