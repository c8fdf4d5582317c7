package main

import (
	"log/slog"
	"os"

	"github.com/urfave/cli/v2"

	"github.com/schedulezero/schedulezero/pkg/wire"
)

// secretFlags are the flags of handler registration secrets
// (docs/protocol.md, "Handler secrets").
func secretFlags() []cli.Flag {
	return []cli.Flag{
		&cli.StringFlag{Name: "handler-secrets-dir", EnvVars: []string{"SZ_HANDLER_SECRETS_DIR"},
			Usage: "`DIR` whose file NAME holds the registration secret of handler NAME (default: the credentials handler-secret.NAME or handler-secret_NAME in $CREDENTIALS_DIRECTORY)"},
		&cli.BoolFlag{Name: "require-handler-secrets", EnvVars: []string{"SZ_REQUIRE_HANDLER_SECRETS"},
			Usage: "refuse handlers that have no registration secret (the original's Python handlers send none)"},
	}
}

// loadHandlerSecrets reads the secrets the flags name; nil when there are
// none to check.
func loadHandlerSecrets(c *cli.Context, logger *slog.Logger) (*wire.HandlerSecrets, error) {
	s, err := wire.LoadHandlerSecrets(c.String("handler-secrets-dir"), os.Getenv("CREDENTIALS_DIRECTORY"), c.Bool("require-handler-secrets"))
	if err != nil {
		return nil, err
	}
	if s != nil {
		logger.Info("handler registration secrets loaded", "secrets", s)
	}
	return s, nil
}
