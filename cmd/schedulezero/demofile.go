package main

import (
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"syscall"
)

// demoFile is what a running demo writes so that the CLI in another
// terminal finds it without flags: the file lives in the user's runtime
// directory, is owner-only, and is removed when the demo stops.
type demoFile struct {
	PID      int    `json:"pid"`
	API      string `json:"api"`      // the scheduler's API, "unix:/path"
	Governor string `json:"governor"` // the governor's API, "unix:/path"
	ZMQ      string `json:"zmq"`      // the scheduler's registration endpoint
	Dir      string `json:"dir"`      // the demo's temporary directory
}

// demoFileHelp names the file in --help.
const demoFileHelp = "$XDG_RUNTIME_DIR/schedulezero/demo.json"

// demoFilePath is $XDG_RUNTIME_DIR/schedulezero/demo.json, or
// $TMPDIR/schedulezero-UID/demo.json where there is no runtime directory
// (root under sudo, a container).
func demoFilePath() string {
	if d := os.Getenv("XDG_RUNTIME_DIR"); d != "" && filepath.IsAbs(d) {
		return filepath.Join(d, "schedulezero", "demo.json")
	}
	return filepath.Join(os.TempDir(), "schedulezero-"+strconv.Itoa(os.Getuid()), "demo.json")
}

// writeDemoFile writes f and returns the function that removes it. Another
// demo already running for this user is an error naming it.
func writeDemoFile(f demoFile) (func(), error) {
	path := demoFilePath()
	if other, ok := readDemoFile(); ok && other.PID != f.PID {
		return nil, fmt.Errorf("another demo (pid %d) is running; its state is in %s (stop it first, or remove %s)", other.PID, other.Dir, path)
	}
	dir := filepath.Dir(path)
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return nil, fmt.Errorf("demo file: %w", err)
	}
	if err := ownedPrivate(dir, true); err != nil {
		return nil, err
	}
	b, err := json.MarshalIndent(f, "", "  ")
	if err != nil {
		return nil, err
	}
	tmp := path + ".tmp"
	if err := os.WriteFile(tmp, append(b, '\n'), 0o600); err != nil {
		return nil, fmt.Errorf("demo file: %w", err)
	}
	if err := os.Rename(tmp, path); err != nil {
		os.Remove(tmp)
		return nil, fmt.Errorf("demo file: %w", err)
	}
	return func() {
		if cur, ok := readDemoFile(); ok && cur.PID == f.PID { // never remove a later demo's file
			os.Remove(path)
		}
	}, nil
}

// readDemoFile returns the running demo's file. A file not owned by this
// user, readable by others, in a directory others can write, or whose demo
// is gone, is ignored: it cannot send the CLI to someone else's socket.
func readDemoFile() (demoFile, bool) {
	path := demoFilePath()
	if ownedPrivate(filepath.Dir(path), true) != nil || ownedPrivate(path, false) != nil {
		return demoFile{}, false
	}
	b, err := os.ReadFile(path)
	if err != nil {
		return demoFile{}, false
	}
	var f demoFile
	if json.Unmarshal(b, &f) != nil || f.PID <= 0 || f.API == "" {
		return demoFile{}, false
	}
	if err := syscall.Kill(f.PID, 0); errors.Is(err, syscall.ESRCH) { // killed without cleaning up
		return demoFile{}, false
	}
	return f, true
}

// ownedPrivate checks that path belongs to this user and that no one else
// may write it (a directory) or read it (a file).
func ownedPrivate(path string, isDir bool) error {
	fi, err := os.Lstat(path)
	if err != nil {
		return err
	}
	st, ok := fi.Sys().(*syscall.Stat_t)
	mask := os.FileMode(0o077)
	if isDir {
		mask = 0o022
	}
	if !ok || int(st.Uid) != os.Getuid() || fi.IsDir() != isDir || fi.Mode().Perm()&mask != 0 {
		return fmt.Errorf("%s: not a private %s of this user (owner only, mode 0700/0600); remove it", path, map[bool]string{true: "directory", false: "file"}[isDir])
	}
	return nil
}
