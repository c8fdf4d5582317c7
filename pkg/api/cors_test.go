package api_test

import (
	"slices"
	"testing"

	"github.com/schedulezero/schedulezero/pkg/api"
)

func TestParseOrigins(t *testing.T) {
	tests := []struct {
		name string
		in   []string
		want []string
		bad  bool
	}{
		{"repeated and comma-separated", []string{"https://a.example, http://localhost:3000", "https://a.example/"}, []string{"https://a.example", "http://localhost:3000"}, false},
		{"any", []string{"*"}, []string{"*"}, false},
		{"none", nil, nil, false},
		{"no scheme", []string{"a.example"}, nil, true},
		{"a path", []string{"https://a.example/app"}, nil, true},
		{"another scheme", []string{"file://x"}, nil, true},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			got, err := api.ParseOrigins(tc.in)
			if (err != nil) != tc.bad || !slices.Equal(got, tc.want) {
				t.Errorf("ParseOrigins(%q) = %q, %v; want %q, error %v", tc.in, got, err, tc.want, tc.bad)
			}
		})
	}
}
