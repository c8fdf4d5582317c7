package unitctl

import "errors"

// Sentinel errors; match them with errors.Is.
var (
	// ErrRefused means a unit outside schedulezero-handler@*.service was
	// named; the Manager never asks systemd about it.
	ErrRefused = errors.New("refused: not a schedulezero-handler@ unit")
	// ErrAccessDenied means systemd (polkit) refused the call: the caller's
	// user lacks the rule in packaging/polkit.
	ErrAccessDenied = errors.New("access denied by systemd (polkit)")
	// ErrNotInstalled means systemd has no schedulezero-handler@.service.
	ErrNotInstalled = errors.New("schedulezero-handler@.service is not installed")
	// ErrJob means a systemd job ended other than "done".
	ErrJob = errors.New("systemd job did not complete")
	// ErrBus means the system bus or systemd did not answer.
	ErrBus = errors.New("systemd D-Bus call failed")
)
