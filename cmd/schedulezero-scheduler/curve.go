package main

import (
	"fmt"
	"os"

	"github.com/urfave/cli/v2"

	"github.com/schedulezero/schedulezero/pkg/wire"
)

// curveFlags are the flags of CURVE between hosts (docs/security.md,
// "Handlers on other hosts").
func curveFlags() []cli.Flag {
	return []cli.Flag{
		&cli.StringFlag{Name: "curve-secret-key-file", EnvVars: []string{"SZ_CURVE_SECRET_KEY_FILE"},
			Usage: "`FILE` holding the scheduler's CURVE secret key (schedulezero keys generate); a relative name is a credential in $CREDENTIALS_DIRECTORY. Turns CURVE on"},
		&cli.StringFlag{Name: "curve-allow", EnvVars: []string{"SZ_CURVE_ALLOW"},
			Usage: "`PATH`: a file of handler public keys, one a line, or a directory of such files; only these handlers may connect"},
		&cli.BoolFlag{Name: "insecure", EnvVars: []string{"SZ_INSECURE"},
			Usage: "allow --zmq-bind on a non-loopback TCP address without CURVE (plaintext; logs a warning)"},
	}
}

// loadCurve reads the keys the flags name; nil without CURVE.
func loadCurve(c *cli.Context) (*wire.CurveServerKeys, error) {
	keyFile, allow := c.String("curve-secret-key-file"), c.String("curve-allow")
	switch {
	case keyFile == "" && allow == "":
		return nil, nil
	case keyFile == "":
		return nil, fmt.Errorf("--curve-allow needs --curve-secret-key-file, the scheduler's own key (schedulezero keys generate --secret-file FILE)")
	case allow == "":
		return nil, fmt.Errorf("--curve-secret-key-file needs --curve-allow, the public keys of the handlers allowed (schedulezero keys show FILE prints one)")
	}
	sec, err := wire.ReadCurveSecretKey(keyFile, os.Getenv("CREDENTIALS_DIRECTORY"))
	if err != nil {
		return nil, fmt.Errorf("--curve-secret-key-file: %w", err)
	}
	allowed, err := wire.ReadCurveAllowed(allow)
	if err != nil {
		return nil, fmt.Errorf("--curve-allow: %w", err)
	}
	return &wire.CurveServerKeys{Secret: sec, Allowed: allowed}, nil
}
