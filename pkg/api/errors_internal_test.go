package api

import (
	"fmt"
	"net/http"
	"testing"

	"github.com/schedulezero/schedulezero/pkg/field"
)

// TestStatusOfAddsRESTWording: the engine's fixes name no REST path; the
// API adds where to look, here and only here.
func TestStatusOfAddsRESTWording(t *testing.T) {
	tests := []struct {
		name    string
		err     error
		wantFix string
	}{
		{"handler_id gets the path", fmt.Errorf("add: %w", field.Errorf("handler_id", "is required").WithFix("name a registered handler")),
			"name a registered handler, see GET /api/v1/handlers"},
		{"other fields unchanged", field.Errorf("job_method", "is required").WithFix("name one of the handler's methods"),
			"name one of the handler's methods"},
		{"no fix, nothing added", field.Errorf("handler_id", "is required"), ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			status, d := statusOf(tt.err)
			if status != http.StatusBadRequest || d.Fix != tt.wantFix {
				t.Fatalf("statusOf = %d, fix %q; want 400, fix %q", status, d.Fix, tt.wantFix)
			}
			if tt.wantFix != "" && d.Message != d.Field+": is required ("+tt.wantFix+")" {
				t.Errorf("message %q does not carry the fix %q", d.Message, tt.wantFix)
			}
		})
	}
}
