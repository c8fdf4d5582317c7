package main

import (
	"strings"
	"testing"
)

func TestMemoryBudget(t *testing.T) {
	for _, tc := range []struct {
		name       string
		mib        int64
		embed      []string
		gomemlimit string
		want       int64
		err        string
	}{
		{"default: none", 0, nil, "", 0, ""},
		{"36 MiB", 36, nil, "", 36 << 20, ""},
		{"GOMEMLIMIT decides", 36, nil, "200MiB", 0, ""},
		{"embedded handlers", 36, []string{"dingaling"}, "", 0, ""},
		{"negative", -1, nil, "", 0, "--memory-budget -1"},
		{"bytes, not MiB", 1 << 41, nil, "", 0, "give it in MiB"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			getenv := func(k string) string {
				if k == "GOMEMLIMIT" {
					return tc.gomemlimit
				}
				return ""
			}
			got, err := memoryBudget(tc.mib, tc.embed, getenv)
			if tc.err != "" {
				if err == nil || !strings.Contains(err.Error(), tc.err) {
					t.Fatalf("memoryBudget(%d) error = %v, want one naming %q", tc.mib, err, tc.err)
				}
				return
			}
			if err != nil || got != tc.want {
				t.Errorf("memoryBudget(%d) = %d, %v; want %d", tc.mib, got, err, tc.want)
			}
		})
	}
}
