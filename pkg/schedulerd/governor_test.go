package schedulerd_test

import (
	"context"
	"path/filepath"
	"strings"
	"testing"

	"github.com/schedulezero/schedulezero/pkg/schedulerd"
)

func TestNew_RefusesABadGovernorAPI(t *testing.T) {
	for _, addr := range []string{"unix:", "http://"} {
		t.Run(addr, func(t *testing.T) {
			dir := t.TempDir()
			_, err := schedulerd.New(context.Background(), schedulerd.Options{DBPath: filepath.Join(dir, "sz.db"),
				ZMQBind: "ipc://" + filepath.Join(dir, "zmq.sock"), HTTPListen: []string{"unix:" + filepath.Join(dir, "api.sock")},
				GovernorAPI: addr})
			if err == nil || !strings.Contains(err.Error(), "governor-api") {
				t.Fatalf("err = %v, want one naming governor-api", err)
			}
		})
	}
}
