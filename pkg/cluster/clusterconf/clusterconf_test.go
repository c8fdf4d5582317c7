package clusterconf_test

import (
	"reflect"
	"strings"
	"testing"

	"github.com/schedulezero/schedulezero/pkg/cluster/clusterconf"
)

func TestParseURL(t *testing.T) {
	for _, c := range []struct {
		in   string
		want []string
		err  bool
	}{
		{in: "etcd://h1:2379,h2:2379, h3:2379/", want: []string{"http://h1:2379", "http://h2:2379", "http://h3:2379"}},
		{in: "etcds://h1:2379", want: []string{"https://h1:2379"}},
		{in: "http://h1:2379", err: true},
		{in: "etcd://", err: true},
		{in: "etcd://h1:2379,,h2", err: true},
		{in: "etcd://user@h1:2379", err: true},
	} {
		t.Run(c.in, func(t *testing.T) {
			got, err := clusterconf.ParseURL(c.in)
			if (err != nil) != c.err || !reflect.DeepEqual(got, c.want) {
				t.Errorf("ParseURL(%q) = %q, %v; want %q, error %v", c.in, got, err, c.want, c.err)
			}
			if err != nil && !strings.Contains(err.Error(), "cluster") {
				t.Errorf("error %q does not name the --cluster field", err)
			}
		})
	}
}
