package api_test

import (
	"testing"

	"github.com/schedulezero/schedulezero/pkg/api"
	"github.com/schedulezero/schedulezero/pkg/api/apitest"
)

// TestFake_Conformance runs the Backend contract suite on the fake that the
// API, client and CLI tests use; conformance_test.go runs it on the engine.
func TestFake_Conformance(t *testing.T) {
	apitest.Exercise(t, func(t *testing.T) (api.Backend, apitest.AddHandlerFunc) {
		b := apitest.NewBackend()
		return b, b.AddHandlerFunc()
	})
}
