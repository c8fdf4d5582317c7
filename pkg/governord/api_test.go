package governord_test

import (
	"context"
	"encoding/json"
	"errors"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/schedulezero/schedulezero/pkg/api"
	"github.com/schedulezero/schedulezero/pkg/governor"
	"github.com/schedulezero/schedulezero/pkg/governord"
)

// failingGovernor fails every listing with an error whose text is internal.
type failingGovernor struct {
	governord.Handlers // every other method: unused, nil
}

const internalText = "open /var/lib/schedulezero/secret-path: permission denied"

func (failingGovernor) ListHandlers(context.Context) ([]governor.HandlerInfo, error) {
	return nil, errors.New(internalText)
}

// A 500 answers with the scheduler API's envelope and a generic message;
// the error's own text goes to the log only.
func TestAPI_InternalErrorDoesNotLeak(t *testing.T) {
	rec := httptest.NewRecorder()
	governord.NewAPI(failingGovernor{}, nil).ServeHTTP(rec, httptest.NewRequest(http.MethodGet, "/v1/handlers", nil))
	if rec.Code != http.StatusInternalServerError {
		t.Fatalf("status = %d, want 500", rec.Code)
	}
	body := rec.Body.String()
	if strings.Contains(body, "secret-path") || strings.Contains(body, "permission denied") {
		t.Errorf("500 body leaks the internal error: %s", body)
	}
	var eb api.ErrorBody
	if err := json.Unmarshal(rec.Body.Bytes(), &eb); err != nil || eb.Error.Code != 500 || eb.Error.Message != "internal error" {
		t.Errorf("body = %s (%v), want the API envelope with code 500 and \"internal error\"", body, err)
	}
}
