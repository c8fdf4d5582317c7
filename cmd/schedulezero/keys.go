package main

import (
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"

	"github.com/go-zeromq/zmq4/security/curve"
	"github.com/urfave/cli/v2"

	"github.com/schedulezero/schedulezero/pkg/wire"
)

// keysCommand makes and prints CURVE key pairs for the ZeroMQ channel
// between hosts (docs/security.md): Z85 text, as libzmq's
// zmq_curve_keypair, so a pyzmq handler uses the same keys.
func keysCommand() *cli.Command {
	return &cli.Command{
		Name:  "keys",
		Usage: "make and print CURVE key pairs for handlers on other hosts",
		Subcommands: []*cli.Command{
			{
				Name:      "generate",
				Usage:     "make a key pair; print it, or write the secret key to a file and print the public key",
				UsageText: "schedulezero keys generate [--secret-file FILE]",
				Flags: []cli.Flag{
					&cli.StringFlag{Name: "secret-file", Usage: "write the secret key to FILE (mode 0600, refused if FILE exists) and print only the public key"},
				},
				Action: keysGenerate,
			},
			{
				Name:      "show",
				Usage:     "print the public key of a secret key file",
				UsageText: "schedulezero keys show FILE",
				Action:    keysShow,
			},
		},
	}
}

func keysGenerate(c *cli.Context) error {
	if c.NArg() > 0 {
		return usagef("keys generate: unexpected argument %q; the secret key file is --secret-file FILE", c.Args().First())
	}
	pub, sec, err := curve.GenerateKeyPair(nil)
	if err != nil {
		return err
	}
	w := c.App.Writer
	path := c.String("secret-file")
	if path == "" {
		_, err := fmt.Fprintf(w, "public-key: %s\nsecret-key: %s\n", pub, sec.Z85())
		return err
	}
	f, err := os.OpenFile(path, os.O_WRONLY|os.O_CREATE|os.O_EXCL, 0o600)
	if errors.Is(err, fs.ErrExist) {
		return fmt.Errorf("keys generate: --secret-file %s exists; a key is not overwritten, remove the file or name another", path)
	}
	if err != nil {
		return fmt.Errorf("keys generate: %w", err)
	}
	if _, err := fmt.Fprintf(f, "%s\n", sec.Z85()); err != nil {
		f.Close()
		return fmt.Errorf("keys generate: %s: %w", path, err)
	}
	if err := f.Close(); err != nil {
		return fmt.Errorf("keys generate: %s: %w", path, err)
	}
	_, err = fmt.Fprintln(w, pub)
	return err
}

func keysShow(c *cli.Context) error {
	if c.NArg() != 1 {
		return usagef("keys show: expected one secret key file, e.g. schedulezero keys show scheduler.key")
	}
	path, err := filepath.Abs(c.Args().First())
	if err != nil {
		return fmt.Errorf("keys show: %w", err)
	}
	sec, err := wire.ReadCurveSecretKey(path, os.Getenv("CREDENTIALS_DIRECTORY"))
	if err != nil {
		return fmt.Errorf("keys show: %w", err)
	}
	_, err = fmt.Fprintln(c.App.Writer, sec.Public())
	return err
}
