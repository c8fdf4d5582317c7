package governor

import (
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"sort"
	"strings"

	"github.com/schedulezero/schedulezero/pkg/handlername"
)

// sidecarExt names the governor's own record of a handler, next to the
// handler's NAME.json. It is not *.json so the handler's loader and any
// glob for handler configs never mistake it for one.
const sidecarExt = ".governor"

// record is what the governor keeps about a handler between runs.
type record struct {
	Config HandlerConfig `json:"config"`
	// Stopped is true when an operator stopped the handler: Start leaves
	// it stopped.
	Stopped bool `json:"stopped,omitempty"`
}

// handlerFile renders cfg as the handler's config file, handlername.File
// (what schedulezero-handler reads): kind, endpoint, scheduler,
// concurrency, methods, and the Extra keys, which Validate allows only
// where File has a field.
func handlerFile(cfg HandlerConfig) ([]byte, error) {
	f := handlername.File{Kind: cfg.Kind, Endpoint: cfg.Endpoint, Scheduler: cfg.Scheduler, Methods: cfg.Methods}
	if cfg.Concurrency > 0 {
		f.Concurrency = cfg.Concurrency
	}
	if len(cfg.Extra) > 0 {
		b, err := json.Marshal(cfg.Extra)
		if err != nil {
			return nil, err
		}
		if err := json.Unmarshal(b, &f); err != nil {
			return nil, fmt.Errorf("extra: %w", err)
		}
		f.Kind, f.Endpoint, f.Scheduler, f.Methods = cfg.Kind, cfg.Endpoint, cfg.Scheduler, cfg.Methods
	}
	b, err := json.MarshalIndent(f, "", "  ")
	return append(b, '\n'), err
}

// writeFile replaces path atomically.
func writeFile(path string, b []byte) error {
	tmp, err := os.CreateTemp(filepath.Dir(path), "."+filepath.Base(path)+".*")
	if err != nil {
		return err
	}
	defer os.Remove(tmp.Name()) //nolint:errcheck // gone after the rename
	if _, err := tmp.Write(b); err != nil {
		tmp.Close() //nolint:errcheck // the write error wins
		return err
	}
	if err := tmp.Chmod(0o644); err != nil {
		tmp.Close() //nolint:errcheck // the chmod error wins
		return err
	}
	if err := tmp.Close(); err != nil {
		return err
	}
	return os.Rename(tmp.Name(), path)
}

// saveRecord writes the handler's config file and the governor's record.
func saveRecord(dir string, r record) error {
	b, err := handlerFile(r.Config)
	if err != nil {
		return fmt.Errorf("handler %q: config: %w", r.Config.Name, err)
	}
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return fmt.Errorf("config dir: %w", err)
	}
	if err := writeFile(filepath.Join(dir, r.Config.Name+".json"), b); err != nil {
		return fmt.Errorf("handler %q: write config: %w", r.Config.Name, err)
	}
	rb, err := json.MarshalIndent(r, "", "  ")
	if err != nil {
		return fmt.Errorf("handler %q: record: %w", r.Config.Name, err)
	}
	if err := writeFile(filepath.Join(dir, r.Config.Name+sidecarExt), append(rb, '\n')); err != nil {
		return fmt.Errorf("handler %q: write record: %w", r.Config.Name, err)
	}
	return nil
}

// deleteRecord removes both files of handler name.
func deleteRecord(dir, name string) error {
	var errs []error
	for _, p := range []string{filepath.Join(dir, name+".json"), filepath.Join(dir, name+sidecarExt)} {
		if err := os.Remove(p); err != nil && !errors.Is(err, fs.ErrNotExist) {
			errs = append(errs, fmt.Errorf("handler %q: %w", name, err))
		}
	}
	return errors.Join(errs...)
}

// loadRecords reads every handler in dir: its governor record, or for a
// NAME.json written by hand, a record with the default policy and the
// kind, endpoint and scheduler of the file.
func loadRecords(dir string) ([]record, error) {
	ents, err := os.ReadDir(dir)
	if errors.Is(err, fs.ErrNotExist) {
		return nil, nil
	}
	if err != nil {
		return nil, fmt.Errorf("config dir: %w", err)
	}
	byName := map[string]record{}
	for _, e := range ents {
		n := e.Name()
		if e.IsDir() || strings.HasPrefix(n, ".") {
			continue
		}
		switch {
		case strings.HasSuffix(n, sidecarExt):
			b, err := os.ReadFile(filepath.Join(dir, n))
			if err != nil {
				return nil, fmt.Errorf("handler record %s: %w", n, err)
			}
			var r record
			if err := json.Unmarshal(b, &r); err != nil {
				return nil, fmt.Errorf("handler record %s: %w", n, err)
			}
			r.Config.Name = strings.TrimSuffix(n, sidecarExt)
			byName[r.Config.Name] = r
		case strings.HasSuffix(n, ".json"):
			name := strings.TrimSuffix(n, ".json")
			if _, ok := byName[name]; ok || handlername.Check(name) != nil {
				continue
			}
			if _, err := os.Stat(filepath.Join(dir, name+sidecarExt)); err == nil {
				continue // its record comes later in the listing
			}
			b, err := os.ReadFile(filepath.Join(dir, n))
			if err != nil {
				return nil, fmt.Errorf("handler config %s: %w", n, err)
			}
			var f handlername.File
			if err := json.Unmarshal(b, &f); err != nil {
				return nil, fmt.Errorf("handler config %s: %w", n, err)
			}
			byName[name] = record{Config: HandlerConfig{Name: name, Kind: f.Kind, Endpoint: f.Endpoint,
				Scheduler: f.Scheduler, Concurrency: f.Concurrency}}
		}
	}
	out := make([]record, 0, len(byName))
	for _, r := range byName {
		out = append(out, r)
	}
	sort.Slice(out, func(i, j int) bool { return out[i].Config.Name < out[j].Config.Name })
	return out, nil
}
