package store_test

import (
	"errors"
	"testing"
	"time"

	"github.com/schedulezero/schedulezero/pkg/field"
	"github.com/schedulezero/schedulezero/pkg/store"
)

// A notification target is a webhook URL or a handler's method; a bad one
// is an error naming the key.
func TestPolicy_Validate_NotifyTargets(t *testing.T) {
	for _, tc := range []struct {
		name  string
		p     store.Policy
		field string // "" valid
	}{
		{"webhook", store.Policy{OnFailure: "https://hooks.example.org/sz?x=1"}, ""},
		{"handler default method", store.Policy{OnMissed: "handler:mailer"}, ""},
		{"handler method", store.Policy{OnRecovery: "handler:slack/post"}, ""},
		{"none", store.Policy{OnFailure: store.TargetNone}, ""},
		{"dead man", store.Policy{OnDeadMan: "http://127.0.0.1:9/x", DeadManAfter: time.Hour}, ""},
		{"no scheme", store.Policy{OnFailure: "hooks.example.org"}, "on_failure"},
		{"ftp", store.Policy{OnMissed: "ftp://x/y"}, "on_missed"},
		{"empty handler", store.Policy{OnRecovery: "handler:"}, "on_recovery"},
		{"negative threshold", store.Policy{DeadManAfter: -time.Second}, "dead_man_after"},
		{"threshold without target", store.Policy{OnDeadMan: store.TargetNone, DeadManAfter: time.Hour}, "dead_man_after"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			err := tc.p.Validate()
			var fe *field.Error
			switch {
			case tc.field == "" && err != nil:
				t.Fatalf("Validate: %v", err)
			case tc.field != "" && (!errors.As(err, &fe) || fe.Field != tc.field):
				t.Fatalf("Validate = %v, want an error on %s", err, tc.field)
			}
		})
	}
	tg, err := store.ParseTarget("t", "handler:mailer")
	if err != nil || tg.Handler != "mailer" || tg.Method != store.DefaultNotifyMethod || tg.String() != "handler:mailer/notify.send" {
		t.Fatalf("ParseTarget(handler:mailer) = %+v, %v", tg, err)
	}
}
