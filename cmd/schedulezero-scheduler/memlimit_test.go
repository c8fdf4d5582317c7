package main

import (
	"testing"

	"github.com/schedulezero/schedulezero/pkg/schedulerd"
)

func TestMemoryBudget(t *testing.T) {
	for _, tc := range []struct {
		name       string
		embed      []string
		gomemlimit string
		want       int64
	}{
		{"default", nil, "", schedulerd.DefaultMemoryBudget},
		{"GOMEMLIMIT decides", nil, "200MiB", 0},
		{"embedded handlers", []string{"dingaling"}, "", 0},
	} {
		t.Run(tc.name, func(t *testing.T) {
			getenv := func(k string) string {
				if k == "GOMEMLIMIT" {
					return tc.gomemlimit
				}
				return ""
			}
			if got := memoryBudget(tc.embed, getenv); got != tc.want {
				t.Errorf("memoryBudget = %d, want %d", got, tc.want)
			}
		})
	}
}
