// Package config turns a handler instance's name, flags and JSON config file
// into a running handler: it is the logic behind cmd/schedulezero-handler,
// kept out of main so it can be tested. One binary serves every instance
// (schedulezero-handler@NAME), each reading the file named after it.
package config

import (
	"bytes"
	"context"
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
)

// Kinds of handler the binary can serve.
const (
	KindDingaling = "dingaling"
	KindExec      = "exec"
)

// SystemDir is the last place a config file is looked for.
const SystemDir = "/etc/schedulezero/handlers"

// File is the JSON config file of one handler instance.
type File struct {
	Kind         string                  `json:"kind"`
	Endpoint     string                  `json:"endpoint"`
	Scheduler    string                  `json:"scheduler"`
	Concurrency  int                     `json:"concurrency"`
	PingInterval exec.Duration           `json:"ping_interval"`
	SecretFile   string                  `json:"secret_file"`
	Methods      map[string]exec.Command `json:"methods"`
}

// Flags are the command-line overrides; zero values leave the file's.
type Flags struct {
	Name        string
	ConfigPath  string
	Kind        string
	Endpoint    string
	Scheduler   string
	Concurrency int
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
func Load(path string) (File, error) {
	var f File
	b, err := os.ReadFile(path)
	if err != nil {
		return f, fmt.Errorf("handler config: %w", err)
	}
	if err := decode(b, &f); err != nil {
		return File{}, fmt.Errorf("handler config %s: %w", path, err)
	}
	return f, nil
}

func decode(b []byte, f *File) error {
	var top map[string]json.RawMessage
	if err := json.Unmarshal(b, &top); err != nil {
		return field.Errorf("", "not a JSON object: %v", err)
	}
	known := map[string]any{"kind": &f.Kind, "endpoint": &f.Endpoint, "scheduler": &f.Scheduler,
		"concurrency": &f.Concurrency, "ping_interval": &f.PingInterval, "secret_file": &f.SecretFile}
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
			return field.Errorf(k, "unknown key").WithFix("use kind, endpoint, scheduler, concurrency, ping_interval, secret_file or methods")
		}
		if err := json.Unmarshal(top[k], dst); err != nil {
			return field.Errorf(k, "%v", err)
		}
	}
	if raw, ok := top["methods"]; ok {
		var ms map[string]json.RawMessage
		if err := json.Unmarshal(raw, &ms); err != nil {
			return field.Errorf("methods", "want an object of method name to command: %v", err)
		}
		f.Methods = map[string]exec.Command{}
		for name, mraw := range ms {
			var c exec.Command
			d := json.NewDecoder(bytes.NewReader(mraw))
			d.DisallowUnknownFields()
			if err := d.Decode(&c); err != nil {
				return field.Errorf("methods."+name, "%v", err).WithFix(`keys are command, timeout, env, dir`)
			}
			f.Methods[name] = c
		}
	}
	if f.Concurrency < 0 {
		return field.Errorf("concurrency", "is negative")
	}
	return nil
}

// validName allows what a systemd instance name allows.
func validName(s string) bool {
	if s == "" || s == "." || s == ".." {
		return false
	}
	for _, r := range s {
		if !(r >= 'a' && r <= 'z' || r >= 'A' && r <= 'Z' || r >= '0' && r <= '9' || strings.ContainsRune(":_.@-", r)) {
			return false
		}
	}
	return true
}

// Options builds the handler's Mux and Options from flags, the config file
// and the environment.
func Options(fl Flags, logger *slog.Logger, getenv func(string) string) (*handler.Mux, handler.Options, error) {
	if !validName(fl.Name) {
		return nil, handler.Options{}, field.Errorf("name", "%q is not a valid handler name", fl.Name).WithFix("use letters, digits and :_.@-")
	}
	path := Path(fl.Name, fl.ConfigPath, getenv)
	f, err := Load(path)
	if err != nil {
		if !errors.Is(err, fs.ErrNotExist) || fl.Kind == "" || fl.ConfigPath != "" {
			return nil, handler.Options{}, err
		}
		f = File{}
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
	kindLogger := logger.With("handler", fl.Name) // Serve adds the key to its own lines
	mux := handler.NewMux()
	switch f.Kind {
	case KindDingaling:
		if len(f.Methods) > 0 {
			return nil, handler.Options{}, fmt.Errorf("handler config %s: %w", path, field.Errorf("methods", "only the exec kind has methods"))
		}
		dingaling.New(kindLogger).Register(mux)
	case KindExec:
		r, err := exec.New(f.Methods, kindLogger)
		if err != nil {
			return nil, handler.Options{}, fmt.Errorf("handler config %s: %w", path, err)
		}
		r.Register(mux)
	default:
		return nil, handler.Options{}, fmt.Errorf("handler config %s: %w", path,
			field.Errorf("kind", "%q is not a handler kind", f.Kind).WithFix(`use "dingaling" or "exec"`))
	}
	opts := handler.Options{Name: fl.Name, Endpoint: f.Endpoint, Scheduler: f.Scheduler,
		Concurrency: f.Concurrency, PingInterval: time.Duration(f.PingInterval), Logger: logger}
	if f.SecretFile != "" {
		p := f.SecretFile
		if !filepath.IsAbs(p) && getenv("CREDENTIALS_DIRECTORY") != "" {
			p = filepath.Join(getenv("CREDENTIALS_DIRECTORY"), p)
		}
		b, err := os.ReadFile(p)
		if err != nil {
			return nil, handler.Options{}, fmt.Errorf("handler config %s: %w", path, field.Errorf("secret_file", "%v", err))
		}
		opts.Secret = strings.TrimSpace(string(b))
	}
	return mux, opts, nil
}

// Run serves handler fl.Name until ctx is done.
func Run(ctx context.Context, fl Flags, logger *slog.Logger, getenv func(string) string) error {
	mux, opts, err := Options(fl, logger, getenv)
	if err != nil {
		return err
	}
	return handler.Serve(ctx, mux, opts)
}
