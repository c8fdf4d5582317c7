package main

import "testing"

func TestGCPercent(t *testing.T) {
	for _, tc := range []struct {
		name  string
		embed []string
		gogc  string
		want  int
	}{
		{"no embedded handler: the runtime's", nil, "", -1},
		{"embedded: the small default", []string{"dingaling"}, "", embedGCPercent},
		{"GOGC in the environment decides", []string{"dingaling"}, "100", -1},
	} {
		t.Run(tc.name, func(t *testing.T) {
			getenv := func(k string) string {
				if k == "GOGC" {
					return tc.gogc
				}
				return ""
			}
			if got := gcPercent(tc.embed, getenv); got != tc.want {
				t.Errorf("gcPercent(%v, GOGC=%q) = %d, want %d", tc.embed, tc.gogc, got, tc.want)
			}
		})
	}
}
