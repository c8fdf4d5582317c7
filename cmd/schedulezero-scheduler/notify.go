package main

import (
	"fmt"
	"os"

	"github.com/urfave/cli/v2"

	"github.com/schedulezero/schedulezero/pkg/notify"
	"github.com/schedulezero/schedulezero/pkg/schedulerd"
	"github.com/schedulezero/schedulezero/pkg/secretfile"
)

// notifySecretCredential is the systemd credential that signs webhooks
// when --notify-secret-file names none.
const notifySecretCredential = "notify-secret"

// notifyFlags are the notification defaults and delivery settings
// (docs/notifications.md).
func notifyFlags() []cli.Flag {
	target := "`TARGET` (an https:// URL or handler:NAME[/METHOD]) of every schedule that names none"
	return []cli.Flag{
		&cli.StringFlag{Name: "notify-on-failure", EnvVars: []string{"SZ_NOTIFY_ON_FAILURE"}, Usage: "notify a final failed attempt to " + target},
		&cli.StringFlag{Name: "notify-on-missed", EnvVars: []string{"SZ_NOTIFY_ON_MISSED"}, Usage: "notify a missed occurrence to " + target},
		&cli.StringFlag{Name: "notify-on-recovery", EnvVars: []string{"SZ_NOTIFY_ON_RECOVERY"}, Usage: "notify the first success after a failure to " + target},
		&cli.StringFlag{Name: "notify-on-dead-man", EnvVars: []string{"SZ_NOTIFY_ON_DEAD_MAN"}, Usage: "notify a schedule without a success for --notify-dead-man-after to " + target},
		&cli.DurationFlag{Name: "notify-dead-man-after", EnvVars: []string{"SZ_NOTIFY_DEAD_MAN_AFTER"}, Usage: "default dead man's threshold (0: only schedules that set dead_man_after)"},
		&cli.StringFlag{Name: "notify-secret-file", EnvVars: []string{"SZ_NOTIFY_SECRET_FILE"}, Usage: "`FILE` of the secret that signs webhooks (HMAC-SHA256; default: the credential notify-secret when present, else unsigned)"},
		&cli.IntFlag{Name: "notify-attempts", EnvVars: []string{"SZ_NOTIFY_ATTEMPTS"}, Usage: "deliveries of a notification before it is recorded failed (default 20)"},
		&cli.DurationFlag{Name: "notify-backoff-max", EnvVars: []string{"SZ_NOTIFY_BACKOFF_MAX"}, Usage: "cap of the delay between deliveries, which starts at 1s and doubles (default 5m)"},
		&cli.DurationFlag{Name: "notify-check-every", EnvVars: []string{"SZ_NOTIFY_CHECK_EVERY"}, Usage: "how often the dead man's switches are checked (default 1m)"},
	}
}

// notifyOptions reads the notification flags.
func notifyOptions(c *cli.Context) (schedulerd.NotifyOptions, error) {
	o := schedulerd.NotifyOptions{
		Defaults: notify.Defaults{
			OnFailure: c.String("notify-on-failure"), OnMissed: c.String("notify-on-missed"),
			OnRecovery: c.String("notify-on-recovery"), OnDeadMan: c.String("notify-on-dead-man"),
			DeadManAfter: c.Duration("notify-dead-man-after"),
		},
		Attempts: c.Int("notify-attempts"), BackoffMax: c.Duration("notify-backoff-max"), CheckEvery: c.Duration("notify-check-every"),
	}
	if o.Defaults.DeadManAfter < 0 || o.BackoffMax < 0 || o.CheckEvery < 0 || o.Attempts < 0 {
		return o, fmt.Errorf("--notify-dead-man-after, --notify-backoff-max, --notify-check-every and --notify-attempts must not be negative")
	}
	creds := os.Getenv("CREDENTIALS_DIRECTORY")
	name := c.String("notify-secret-file")
	if name == "" {
		if creds == "" {
			return o, nil
		}
		if _, err := os.Stat(creds + "/" + notifySecretCredential); err != nil {
			return o, nil
		}
		name = notifySecretCredential
	}
	path, err := secretfile.Resolve(name, creds)
	if err != nil {
		return o, fmt.Errorf("--notify-secret-file: %w", err)
	}
	s, err := secretfile.Read(path, creds, 4096)
	if err != nil {
		return o, fmt.Errorf("--notify-secret-file: %w", err)
	}
	if s == "" {
		return o, fmt.Errorf("--notify-secret-file %s: the file is empty; write a long random secret into it", path)
	}
	o.Secret = []byte(s)
	return o, nil
}
