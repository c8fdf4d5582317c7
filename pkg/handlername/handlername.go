// Package handlername owns what every part of ScheduleZero agrees on about
// a handler instance: what its name may be, where its job socket may be,
// and the schema of its config file (File, Duration). The registration
// server, the governor and the handler's own config all use them here, so
// that a name the governor accepts is one the scheduler registers and one
// systemd can start, an address the scheduler lists is one it can dial,
// and a file the governor writes is one the handler reads. It imports
// nothing but the standard library and package field.
package handlername

import (
	"net"
	"strconv"
	"strings"

	"github.com/schedulezero/schedulezero/pkg/field"
)

// MaxLen bounds a handler name: the unit name
// schedulezero-handler@NAME.service must stay within systemd's 255
// characters, and the name is also a file name (NAME.json, the secret
// NAME).
const MaxLen = 200

// nameFix is the rule, said once for every error.
const nameFix = "use 1 to 200 letters, digits and :_.- starting with a letter or a digit, such as ding-aling"

// Check reports whether name can name a handler: 1 to MaxLen characters
// from [A-Za-z0-9:_.-], the first a letter or a digit. That is a systemd
// instance name used verbatim (no escaping, so %i and %I agree), a file
// name that is neither hidden nor a path, and a word no command line takes
// for a flag. The error is a *field.Error without a field name; callers
// name it with field.Prefix.
func Check(name string) error {
	if name == "" {
		return field.Errorf("", "is empty").WithFix("%s", nameFix)
	}
	if len(name) > MaxLen {
		return field.Errorf("", "has %d characters, more than %d", len(name), MaxLen).WithFix("%s", nameFix)
	}
	if !alnum(name[0]) {
		return field.Errorf("", "%q starts with %q", name, name[0]).WithFix("%s", nameFix)
	}
	for i := 0; i < len(name); i++ {
		if c := name[i]; !alnum(c) && c != ':' && c != '_' && c != '.' && c != '-' {
			return field.Errorf("", "%q holds %q", name, rune(c)).WithFix("%s", nameFix)
		}
	}
	return nil
}

func alnum(c byte) bool {
	return c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9'
}

// maxIPCPath is the longest socket path the kernel takes (sun_path holds
// 108 bytes with the terminating NUL).
const maxIPCPath = 107

const endpointFix = "use tcp://HOST:PORT (HOST an IP address or a host name, PORT 1-65535) or ipc:///absolute/path"

// CheckEndpoint reports whether endpoint is an address a scheduler can
// dial: tcp://HOST:PORT with HOST an IP address (IPv6 in brackets) or a
// host name and PORT 1 to 65535, or ipc:// and an absolute path. Nothing
// else: no other transport, no port 0, no wildcard, no relative or
// abstract socket (an abstract socket has no file permissions).
func CheckEndpoint(endpoint string) error {
	return check(endpoint, false)
}

// CheckBind reports whether endpoint is where a handler may bind its job
// socket: what CheckEndpoint accepts, and port 0 (the kernel picks one).
// Unless nonLoopback is set, a TCP host must be a loopback address or
// "localhost": a wildcard (0.0.0.0, ::, *) or any other interface would
// let other hosts reach the job socket, whose traffic is not encrypted.
func CheckBind(endpoint string, nonLoopback bool) error {
	if err := check(endpoint, true); err != nil {
		return err
	}
	host, ok := tcpHost(endpoint)
	if !ok || nonLoopback || loopback(host) {
		return nil
	}
	return field.Errorf("", "%q listens beyond this host (%s is not a loopback address)", endpoint, host).
		WithFix("bind tcp://127.0.0.1:PORT or an ipc:// path; to reach the handler from another host, tunnel it (see docs/security.md), or set allow_non_loopback to true in the handler config (extra.allow_non_loopback for the governor)")
}

// Exposed reports whether binding endpoint lets other hosts connect: a
// tcp:// endpoint whose host is not loopback (a wildcard or another
// interface). The rule of CheckBind, for sockets other than a handler's.
func Exposed(endpoint string) bool {
	host, ok := tcpHost(endpoint)
	return ok && !loopback(host)
}

// EmbeddedScheme is the scheme of the address of a handler that runs inside
// the scheduler's process (schedulezero-scheduler --embed). The scheduler
// registers such a handler itself; CheckEndpoint and CheckBind refuse it,
// so no registration from the network can claim one.
const EmbeddedScheme = "inproc://"

// EmbeddedAddress is the address of the embedded handler named name.
func EmbeddedAddress(name string) string { return EmbeddedScheme + name }

// IsEmbedded reports whether address is an embedded handler's.
func IsEmbedded(address string) bool { return strings.HasPrefix(address, EmbeddedScheme) }

func check(endpoint string, bind bool) error {
	if IsEmbedded(endpoint) {
		return field.Errorf("", "%q is the address of a handler embedded in the scheduler, which only the scheduler registers", endpoint).
			WithFix("%s; to run a handler inside the scheduler, use schedulezero-scheduler --embed", endpointFix)
	}
	if path, ok := strings.CutPrefix(endpoint, "ipc://"); ok {
		switch {
		case !strings.HasPrefix(path, "/"):
			return field.Errorf("", "%q is not an absolute socket path", endpoint).WithFix("%s", endpointFix)
		case len(path) > maxIPCPath:
			return field.Errorf("", "the socket path of %q has %d bytes, more than the %d a unix socket allows", endpoint, len(path), maxIPCPath).
				WithFix("use a shorter path, for example under /run")
		case strings.ContainsAny(path, "\x00\n\r") || strings.Contains("/"+path+"/", "/../"):
			return field.Errorf("", "%q is not a clean socket path", endpoint).WithFix("%s", endpointFix)
		}
		return nil
	}
	rest, ok := strings.CutPrefix(endpoint, "tcp://")
	if !ok {
		return field.Errorf("", "%q is not a tcp:// or ipc:// endpoint", endpoint).WithFix("%s", endpointFix)
	}
	host, port, err := net.SplitHostPort(rest)
	if err != nil {
		return field.Errorf("", "%q is not tcp://HOST:PORT", endpoint).WithFix("%s", endpointFix)
	}
	n, err := strconv.Atoi(port)
	switch {
	case err != nil || n < 0 || n > 65535 || port != strconv.Itoa(n):
		return field.Errorf("", "%q has port %q", endpoint, port).WithFix("%s", endpointFix)
	case n == 0 && !bind:
		return field.Errorf("", "%q has port 0, which nobody can dial", endpoint).WithFix("register the port the handler bound")
	}
	if !validHost(host) {
		if host == "*" && bind {
			return nil // zmq's wildcard: CheckBind's loopback rule decides
		}
		return field.Errorf("", "%q has host %q, neither an IP address nor a host name", endpoint, host).WithFix("%s", endpointFix)
	}
	if !bind {
		if ip := net.ParseIP(host); ip != nil && ip.IsUnspecified() {
			return field.Errorf("", "%q has the wildcard host %s, which nobody can dial", endpoint, host).WithFix("register the address the handler is reached at, such as tcp://127.0.0.1:PORT")
		}
	}
	return nil
}

// validHost accepts an IP address or a host name (RFC 1123 labels).
func validHost(host string) bool {
	if net.ParseIP(host) != nil {
		return true
	}
	if host == "" || len(host) > 253 {
		return false
	}
	for _, label := range strings.Split(strings.TrimSuffix(host, "."), ".") {
		if label == "" || len(label) > 63 || label[0] == '-' || label[len(label)-1] == '-' {
			return false
		}
		for i := 0; i < len(label); i++ {
			if c := label[i]; !alnum(c) && c != '-' {
				return false
			}
		}
	}
	return true
}

// tcpHost returns the host of a tcp:// endpoint.
func tcpHost(endpoint string) (string, bool) {
	rest, ok := strings.CutPrefix(endpoint, "tcp://")
	if !ok {
		return "", false
	}
	host, _, err := net.SplitHostPort(rest)
	return host, err == nil
}

func loopback(host string) bool {
	if host == "localhost" {
		return true
	}
	ip := net.ParseIP(host)
	return ip != nil && ip.IsLoopback()
}
