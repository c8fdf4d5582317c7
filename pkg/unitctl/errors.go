package unitctl

import "errors"

// ErrRefused means a unit outside schedulezero-handler@*.service was named.
var ErrRefused = errors.New("refused: not a schedulezero-handler@ unit")

// ErrSystemctl means systemctl failed; the wrapped message is its stderr.
var ErrSystemctl = errors.New("systemctl failed")
