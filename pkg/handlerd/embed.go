package handlerd

import (
	"errors"
	"fmt"
	"io/fs"
	"log/slog"
	"path/filepath"
	"strings"

	"github.com/schedulezero/schedulezero/pkg/field"
	"github.com/schedulezero/schedulezero/pkg/handler"
	"github.com/schedulezero/schedulezero/pkg/handler/dingaling"
	"github.com/schedulezero/schedulezero/pkg/handler/exec"
	"github.com/schedulezero/schedulezero/pkg/handlername"
)

const embedFix = "use dingaling, dingaling:NAME or exec:NAME, comma-separated"

// Embedded builds the in-process handler of one --embed entry of the
// scheduler: "dingaling" (named dingaling), "dingaling:NAME" or
// "exec:NAME". The handler's config file is read as a handler process
// would read it (NAME.json in dir when dir is set, else Path's search):
// its concurrency, and the methods of the exec kind, which needs the file.
// Its socket, scheduler and secret keys are not used: an embedded handler
// has none.
func Embedded(spec, dir string, logger *slog.Logger, getenv func(string) string) (*handler.Local, error) {
	kind, name, _ := strings.Cut(spec, ":")
	if kind == handlername.KindDingaling && name == "" {
		name = handlername.KindDingaling
	}
	switch {
	case kind != handlername.KindDingaling && kind != handlername.KindExec:
		return nil, field.Errorf("--embed", "%q: %q is not a handler kind", spec, kind).WithFix("%s", embedFix)
	case name == "":
		return nil, field.Errorf("--embed", "%q names no handler", spec).WithFix("use exec:NAME, NAME the config file NAME.json of its methods")
	}
	if err := handlername.Check(name); err != nil {
		return nil, field.Prefix("--embed "+spec, err)
	}
	path := Path(name, "", getenv)
	if dir != "" {
		path = filepath.Join(dir, name+".json")
	}
	f, err := Load(path)
	switch {
	case errors.Is(err, fs.ErrNotExist) && kind == handlername.KindDingaling:
		f = handlername.File{Kind: kind}
	case errors.Is(err, fs.ErrNotExist):
		return nil, fmt.Errorf("--embed %s: %w", spec, err)
	case err != nil:
		return nil, fmt.Errorf("--embed %s: %w", spec, err)
	case f.Kind != "" && f.Kind != kind:
		return nil, fmt.Errorf("--embed %s: handler config %s: %w", spec, path,
			field.Errorf("kind", "is %q", f.Kind).WithFix("embed it as %s:%s, or fix the file's kind", f.Kind, name))
	}
	kindLogger := logger.With("handler", name)
	mux := handler.NewMux()
	switch kind {
	case handlername.KindDingaling:
		if len(f.Methods) > 0 {
			return nil, fmt.Errorf("--embed %s: handler config %s: %w", spec, path, field.Errorf("methods", "only the exec kind has methods"))
		}
		dingaling.New(kindLogger).Register(mux)
	case handlername.KindExec:
		cmds, err := commands(f)
		if err != nil {
			return nil, fmt.Errorf("--embed %s: handler config %s: %w", spec, path, err)
		}
		r, err := exec.New(cmds, kindLogger)
		if err != nil {
			return nil, fmt.Errorf("--embed %s: handler config %s: %w", spec, path, err)
		}
		r.Register(mux)
	}
	return handler.NewLocal(mux, handler.Options{Name: name, Concurrency: f.Concurrency, Logger: logger})
}
