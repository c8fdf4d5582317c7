package governor

import (
	"encoding/json"
	"os"
	"path/filepath"
	"reflect"
	"testing"
	"time"

	"github.com/schedulezero/schedulezero/pkg/handlerd"
	"github.com/schedulezero/schedulezero/pkg/handlername"
)

// The file the governor writes for a handler is the one the handler reads:
// one schema, handlername.File, on both sides.
func TestHandlerFile_ReadByTheHandler(t *testing.T) {
	cfg := HandlerConfig{Name: "jobs", Kind: handlername.KindExec, Endpoint: "tcp://127.0.0.1:4247",
		Scheduler: "tcp://127.0.0.1:4242", Concurrency: 3,
		Methods: map[string]json.RawMessage{"backup": json.RawMessage(`{"command":["/bin/true"],"timeout":"5m"}`)},
		Extra: map[string]json.RawMessage{"ping_interval": json.RawMessage(`"2s"`),
			"secret_file": json.RawMessage(`"handler-secret"`), "allow_non_loopback": json.RawMessage(`true`)}}
	if err := cfg.Validate(); err != nil {
		t.Fatal(err)
	}
	b, err := handlerFile(cfg)
	if err != nil {
		t.Fatal(err)
	}
	p := filepath.Join(t.TempDir(), "jobs.json")
	if err := os.WriteFile(p, b, 0o644); err != nil {
		t.Fatal(err)
	}
	f, err := handlerd.Load(p)
	if err != nil {
		t.Fatalf("the handler refuses the governor's file: %v\n%s", err, b)
	}
	want := handlername.File{Kind: cfg.Kind, Endpoint: cfg.Endpoint, Scheduler: cfg.Scheduler, Concurrency: 3,
		PingInterval: handlername.Duration(2 * time.Second), SecretFile: "handler-secret", AllowNonLoopback: true}
	got := f
	got.Methods = nil
	if !reflect.DeepEqual(got, want) || len(f.Methods) != 1 {
		t.Errorf("read back %+v, want %+v and one method", f, want)
	}
}
