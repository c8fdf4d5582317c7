package listener

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"io/fs"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"go.uber.org/goleak"
)

func TestMain(m *testing.M) {
	if os.Getenv(childEnv) != "" {
		os.Exit(activationChild())
	}
	goleak.VerifyTestMain(m)
}

const (
	childEnv      = "SZ_SOCKET_TEST_ACTIVATION_CHILD" // specs, comma-separated
	childFDsEnv   = "SZ_SOCKET_TEST_LISTEN_FDS"
	childNamesEnv = "SZ_SOCKET_TEST_LISTEN_FDNAMES"
)

// activationChild runs in the re-executed test binary. Like systemd, it
// sets LISTEN_PID to its own pid (which the parent cannot know before the
// fork), calls Listen, prints each listener's address, then answers one
// connection on each with its index.
func activationChild() int {
	os.Setenv("LISTEN_PID", strconv.Itoa(os.Getpid()))
	os.Setenv("LISTEN_FDS", os.Getenv(childFDsEnv))
	os.Setenv("LISTEN_FDNAMES", os.Getenv(childNamesEnv))
	ls, err := Listen(strings.Split(os.Getenv(childEnv), ","))
	if err != nil {
		fmt.Println("ERR", err, errors.Is(err, ErrUnmatchedActivation))
		return 0
	}
	if os.Getenv("LISTEN_FDS") != "" {
		fmt.Println("ERR LISTEN_FDS still set")
		return 0
	}
	for _, l := range ls {
		fmt.Println("ADDR", l.Addr().String())
	}
	for i, l := range ls {
		c, err := l.Accept()
		if err != nil {
			fmt.Println("ERR accept", err)
			return 1
		}
		fmt.Fprintf(c, "%d\n", i)
		c.Close()
		l.Close()
	}
	return 0
}

func TestListen_SocketActivation(t *testing.T) {
	dir := t.TempDir()
	apiPath := filepath.Join(dir, "api.sock")
	api, err := net.Listen("unix", apiPath)
	if err != nil {
		t.Fatal(err)
	}
	defer api.Close()
	tcp, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer tcp.Close()
	tcpAddr := tcp.Addr().String()
	files := []*os.File{fileOf(t, api), fileOf(t, tcp)}

	tests := []struct {
		name    string
		specs   []string
		names   string
		want    []string // addresses in order, or "ERR..." prefix
		dial    []string // network:address to dial, in order
		wantErr bool
	}{
		{
			name: "by address", specs: []string{"unix:" + apiPath, tcpAddr}, names: "api:metrics",
			want: []string{apiPath, tcpAddr}, dial: []string{"unix:" + apiPath, "tcp:" + tcpAddr},
		},
		{
			name: "by name, reordered", specs: []string{"fd:metrics", "fd:api"}, names: "api:metrics",
			want: []string{tcpAddr, apiPath}, dial: []string{"tcp:" + tcpAddr, "unix:" + apiPath},
		},
		{
			name: "activated socket nobody asked for", specs: []string{"unix:" + apiPath}, names: "api:metrics",
			wantErr: true,
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
			defer cancel()
			cmd := exec.CommandContext(ctx, os.Args[0], "-test.run=^$")
			cmd.Env = append(os.Environ(), childEnv+"="+strings.Join(tt.specs, ","),
				childFDsEnv+"=2", childNamesEnv+"="+tt.names)
			cmd.ExtraFiles = files // fds 3 and 4
			out, err := cmd.StdoutPipe()
			if err != nil {
				t.Fatal(err)
			}
			if err := cmd.Start(); err != nil {
				t.Fatal(err)
			}
			defer cmd.Wait()
			sc := bufio.NewScanner(out)
			var got []string
			for len(got) < max(len(tt.want), 1) && sc.Scan() {
				line := sc.Text()
				if strings.HasPrefix(line, "ERR") {
					if tt.wantErr && strings.HasSuffix(line, "true") {
						return
					}
					t.Fatalf("child: %s", line)
				}
				got = append(got, strings.TrimPrefix(line, "ADDR "))
			}
			if tt.wantErr {
				t.Fatalf("child listened on %v, want ErrUnmatchedActivation", got)
			}
			if strings.Join(got, " ") != strings.Join(tt.want, " ") {
				t.Fatalf("listeners %v, want %v", got, tt.want)
			}
			for i, d := range tt.dial {
				network, addr, _ := strings.Cut(d, ":")
				c, err := net.DialTimeout(network, addr, 5*time.Second)
				if err != nil {
					t.Fatal(err)
				}
				c.SetDeadline(time.Now().Add(5 * time.Second))
				line, err := bufio.NewReader(c).ReadString('\n')
				c.Close()
				if err != nil || line != strconv.Itoa(i)+"\n" {
					t.Fatalf("dial %s: got %q, %v; want listener %d", d, line, err, i)
				}
			}
		})
	}
}

func fileOf(t *testing.T, l net.Listener) *os.File {
	t.Helper()
	f, err := l.(interface{ File() (*os.File, error) }).File()
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { f.Close() })
	return f
}

func TestListen_Bind(t *testing.T) {
	t.Setenv("LISTEN_FDS", "")
	dir := t.TempDir()
	stale := filepath.Join(dir, "stale.sock")
	l, err := net.Listen("unix", stale)
	if err != nil {
		t.Fatal(err)
	}
	l.(*net.UnixListener).SetUnlinkOnClose(false)
	l.Close() // leaves the socket file behind, nobody accepts
	live := filepath.Join(dir, "live.sock")
	ll, err := net.Listen("unix", live)
	if err != nil {
		t.Fatal(err)
	}
	defer ll.Close()
	plain := filepath.Join(dir, "plain")
	if err := os.WriteFile(plain, nil, 0o600); err != nil {
		t.Fatal(err)
	}

	tests := []struct {
		name    string
		spec    string
		wantErr string
	}{
		{"new unix socket", "unix:" + filepath.Join(dir, "api.sock"), ""},
		{"stale socket replaced", "unix:" + stale, ""},
		{"live socket kept", "unix:" + live, "address already in use"},
		{"regular file never removed", "unix:" + plain, "not a socket"},
		{"tcp", "127.0.0.1:0", ""},
		{"empty unix path", "unix:", ErrBadListenSpec.Error()},
		{"garbage", "localhost", ErrBadListenSpec.Error()},
		{"fd without activation", "fd:api", ErrBadListenSpec.Error()},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			ls, err := Listen([]string{tt.spec})
			if tt.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), tt.wantErr) {
					t.Fatalf("err = %v, want %q", err, tt.wantErr)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			defer ls[0].Close()
			if path, ok := strings.CutPrefix(tt.spec, "unix:"); ok {
				fi, err := os.Stat(path)
				if err != nil {
					t.Fatal(err)
				}
				if fi.Mode()&fs.ModeSocket == 0 || fi.Mode().Perm() != 0o660 {
					t.Fatalf("mode %v, want socket 0660", fi.Mode())
				}
			}
			c, err := net.DialTimeout(ls[0].Addr().Network(), ls[0].Addr().String(), 5*time.Second)
			if err != nil {
				t.Fatal(err)
			}
			c.Close()
		})
	}
	if _, err := os.Stat(plain); err != nil {
		t.Fatalf("regular file removed: %v", err)
	}
}
