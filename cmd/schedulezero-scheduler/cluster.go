package main

import (
	"crypto/tls"
	"crypto/x509"
	"errors"
	"fmt"
	"os"
	"strings"

	"github.com/urfave/cli/v2"

	"github.com/schedulezero/schedulezero/pkg/cluster/clusterconf"
	"github.com/schedulezero/schedulezero/pkg/secretfile"
)

// clusterFlags are the flags of cluster mode (docs/operations.md,
// "A cluster of schedulers").
func clusterFlags() []cli.Flag {
	return []cli.Flag{
		&cli.StringFlag{Name: "cluster", EnvVars: []string{"SZ_CLUSTER"},
			Usage: "run as one member of a cluster on etcd: `URL` etcd://HOST:PORT[,HOST:PORT...] (etcds:// for TLS); the leader fires, the others stand by (default: alone)"},
		&cli.StringFlag{Name: "cluster-name", EnvVars: []string{"SZ_CLUSTER_NAME"},
			Usage: "this member's `NAME` in STATUS= and in the standbys' answers (default: the host name)"},
		&cli.StringFlag{Name: "cluster-advertise-api", EnvVars: []string{"SZ_CLUSTER_ADVERTISE_API"},
			Usage: "`URL` (http://host:port) of this member's API where standbys forward requests while it leads (default: its --http-listen TCP address, unless a wildcard)"},
		&cli.IntFlag{Name: "cluster-ttl", Value: clusterconf.DefaultTTL, EnvVars: []string{"SZ_CLUSTER_TTL"},
			Usage: "`SECONDS` a leader may fail to renew its etcd lease before a standby takes over"},
		&cli.IntFlag{Name: "cluster-max-txn-ops", Value: clusterconf.DefaultMaxTxnOps, EnvVars: []string{"SZ_CLUSTER_MAX_TXN_OPS"},
			Usage: "records per etcd transaction: etcd's --max-txn-ops (raise both together for fewer transactions under load)"},
		&cli.StringFlag{Name: "cluster-ca", EnvVars: []string{"SZ_CLUSTER_CA"}, Usage: "CA certificate `FILE` that signed the etcd members' certificates"},
		&cli.StringFlag{Name: "cluster-cert", EnvVars: []string{"SZ_CLUSTER_CERT"}, Usage: "client certificate `FILE` for etcd (with --cluster-key)"},
		&cli.StringFlag{Name: "cluster-key", EnvVars: []string{"SZ_CLUSTER_KEY"}, Usage: "client key `FILE` for etcd; a relative name is a systemd credential"},
		&cli.StringFlag{Name: "cluster-user", EnvVars: []string{"SZ_CLUSTER_USER"}, Usage: "etcd `USER` (with its password from --cluster-password-file)"},
		&cli.StringFlag{Name: "cluster-password-file", EnvVars: []string{"SZ_CLUSTER_PASSWORD_FILE"},
			Usage: "`FILE` holding the etcd user's password (default: the credential etcd-password when --cluster-user is set)"},
	}
}

// clusterOptions reads the cluster flags; nil when --cluster is not set.
func clusterOptions(c *cli.Context) (*clusterconf.Options, error) {
	if c.String("cluster") == "" {
		return nil, nil
	}
	eps, err := clusterconf.ParseURL(c.String("cluster"))
	if err != nil {
		return nil, fmt.Errorf("--%w", err)
	}
	if c.Int("cluster-ttl") < 1 {
		return nil, fmt.Errorf("--cluster-ttl %d: must be at least 1 second (the default is %d)", c.Int("cluster-ttl"), clusterconf.DefaultTTL)
	}
	o := &clusterconf.Options{Endpoints: eps, TTL: c.Int("cluster-ttl"), MaxTxnOps: c.Int("cluster-max-txn-ops"),
		Member: clusterconf.Member{Name: c.String("cluster-name")}}
	if u := c.String("cluster-advertise-api"); u != "" {
		if !strings.HasPrefix(u, "http://") && !strings.HasPrefix(u, "https://") {
			return nil, fmt.Errorf("--cluster-advertise-api %q: use http://HOST:PORT", u)
		}
		o.Member.API = []string{u}
	}
	creds := os.Getenv("CREDENTIALS_DIRECTORY")
	if o.TLS, err = clusterTLS(c, creds); err != nil {
		return nil, err
	}
	if o.TLS == nil && strings.HasPrefix(eps[0], "https://") {
		o.TLS = &tls.Config{MinVersion: tls.VersionTLS12} // etcds:// with the system's CAs
	}
	if o.Username = c.String("cluster-user"); o.Username != "" {
		name := c.String("cluster-password-file")
		if name == "" {
			name = "etcd-password"
		}
		path, err := secretfile.Resolve(name, creds)
		if err != nil {
			return nil, fmt.Errorf("--cluster-password-file: %w", err)
		}
		if o.Password, err = secretfile.Read(path, creds, 4096); err != nil {
			return nil, fmt.Errorf("--cluster-password-file: %w", err)
		}
	}
	return o, nil
}

// clusterTLS builds the client's TLS configuration from the flags; nil
// when none is set and the URL is etcd://.
func clusterTLS(c *cli.Context, creds string) (*tls.Config, error) {
	ca, cert, key := c.String("cluster-ca"), c.String("cluster-cert"), c.String("cluster-key")
	if ca == "" && cert == "" && key == "" {
		return nil, nil
	}
	cfg := &tls.Config{MinVersion: tls.VersionTLS12}
	if ca != "" {
		pem, err := os.ReadFile(ca)
		if err != nil {
			return nil, fmt.Errorf("--cluster-ca: %w", err)
		}
		cfg.RootCAs = x509.NewCertPool()
		if !cfg.RootCAs.AppendCertsFromPEM(pem) {
			return nil, fmt.Errorf("--cluster-ca %s: no PEM certificate in it", ca)
		}
	}
	if (cert == "") != (key == "") {
		return nil, errors.New("--cluster-cert and --cluster-key: give both or neither")
	}
	if cert != "" {
		keyPath, err := secretfile.Resolve(key, creds)
		if err != nil {
			return nil, fmt.Errorf("--cluster-key: %w", err)
		}
		keyPEM, err := secretfile.Read(keyPath, creds, 1<<16)
		if err != nil {
			return nil, fmt.Errorf("--cluster-key: %w", err)
		}
		certPEM, err := os.ReadFile(cert)
		if err != nil {
			return nil, fmt.Errorf("--cluster-cert: %w", err)
		}
		pair, err := tls.X509KeyPair(certPEM, []byte(keyPEM))
		if err != nil {
			return nil, fmt.Errorf("--cluster-cert/--cluster-key: %w", err)
		}
		cfg.Certificates = []tls.Certificate{pair}
	}
	return cfg, nil
}
