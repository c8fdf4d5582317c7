package store_test

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"strings"
	"sync"
	"testing"
	"time"

	bolt "go.etcd.io/bbolt"

	"github.com/schedulezero/schedulezero/pkg/store"
)

// helperMain is the second process of the process tests (see
// TestHelperProcess). It returns the exit code.
func helperMain(mode, path string) int {
	switch mode {
	case "lock":
		// Try to open a file the parent holds.
		db, err := store.Open(path, store.Options{OpenTimeout: 100 * time.Millisecond})
		if err == nil {
			_ = db.Close()
			fmt.Println("opened")
			return 1
		}
		if errors.Is(err, store.ErrInUse) {
			fmt.Println("in-use:", err)
			return 0
		}
		fmt.Println("error:", err)
		return 1
	case "commit":
		// Commit forever from many goroutines, printing each acknowledged
		// record, until the parent kills us.
		db, err := store.Open(path, store.Options{})
		if err != nil {
			fmt.Println("error:", err)
			return 1
		}
		var mu sync.Mutex
		out := bufio.NewWriter(os.Stdout)
		ack := func(line string) {
			mu.Lock()
			defer mu.Unlock()
			out.WriteString(line + "\n")
			out.Flush() // before the next Commit: the parent must see every ack
		}
		ctx := context.Background()
		var wg sync.WaitGroup
		for g := range 16 {
			wg.Add(1)
			go func() {
				defer wg.Done()
				for i := 0; ; i++ {
					n := i*16 + g
					for _, st := range []store.Status{store.StatusRunning, store.StatusSucceeded} {
						e := execution(n, 1, fmt.Sprintf("s%d", g), "h", st, 1)
						if err := db.Commit(ctx, store.Writes{Executions: []store.Execution{e}}); err != nil {
							ack("error: " + err.Error())
							return
						}
						ack(fmt.Sprintf("ack %s %s", e.ID, st))
					}
				}
			}()
		}
		wg.Wait()
		return 1
	}
	fmt.Println("unknown mode", mode)
	return 2
}

func helperCommand(ctx context.Context, t *testing.T, mode, path string) *exec.Cmd {
	t.Helper()
	cmd := exec.CommandContext(ctx, os.Args[0], "-test.run=^TestHelperProcess$")
	cmd.Env = append(os.Environ(), "SZ_STORE_HELPER="+mode, "SZ_STORE_PATH="+path)
	cmd.Stderr = os.Stderr
	return cmd
}

func TestOpen_ErrInUse_SameProcess(t *testing.T) {
	path := tempPath(t)
	db := openT(t, path, store.Options{})
	defer db.Close()
	start := time.Now()
	db2, err := store.Open(path, store.Options{OpenTimeout: 50 * time.Millisecond})
	if err == nil {
		db2.Close()
		t.Fatal("second Open succeeded")
	}
	if !errors.Is(err, store.ErrInUse) {
		t.Fatalf("err = %v, want ErrInUse", err)
	}
	if want := "open " + path + ": in use by another scheduler"; err.Error() != want {
		t.Errorf("err = %q, want %q", err, want)
	}
	if d := time.Since(start); d > 5*time.Second {
		t.Errorf("Open took %v with a 50ms timeout", d)
	}
	// The lock is released by Close.
	if err := db.Close(); err != nil {
		t.Fatal(err)
	}
	db3 := openT(t, path, store.Options{OpenTimeout: time.Second})
	if err := db3.Close(); err != nil {
		t.Fatal(err)
	}
}

func TestOpen_ErrInUse_OtherProcess(t *testing.T) {
	path := tempPath(t)
	db := openT(t, path, store.Options{})
	defer db.Close()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	out, err := helperCommand(ctx, t, "lock", path).Output()
	if err != nil {
		t.Fatalf("helper: %v; output %q", err, out)
	}
	if !strings.HasPrefix(string(out), "in-use: open "+path+": in use by another scheduler") {
		t.Errorf("helper output %q", out)
	}
}

// TestCommit_SurvivesKill9 kills a committing process with SIGKILL and
// checks that every record it had acknowledged is in the file, intact.
func TestCommit_SurvivesKill9(t *testing.T) {
	if testing.Short() {
		t.Skip("spawns a process; skipped with -short")
	}
	path := tempPath(t)
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	cmd := helperCommand(ctx, t, "commit", path)
	stdout, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	acked := map[string]store.Status{} // latest acknowledged state per ID
	sc := bufio.NewScanner(stdout)
	lines, killed := 0, false
	for sc.Scan() {
		f := strings.Fields(sc.Text())
		if len(f) > 0 && f[0] == "error:" {
			t.Errorf("helper: %s", sc.Text())
		}
		if len(f) != 3 || f[0] != "ack" {
			continue
		}
		if store.Status(f[2]).Finished() || acked[f[1]] == "" {
			acked[f[1]] = store.Status(f[2])
		}
		if lines++; lines == 2000 && !killed {
			killed = true
			if err := cmd.Process.Kill(); err != nil { // SIGKILL
				t.Fatal(err)
			}
		}
	}
	err = cmd.Wait()
	if !killed {
		t.Fatalf("helper ended before 2000 acks: %v", err)
	}
	t.Logf("%d acks, %d executions acknowledged before SIGKILL (helper: %v)", lines, len(acked), err)

	// The parent opens the file the way a restarted scheduler would.
	bdb, err := bolt.Open(path, 0o600, &bolt.Options{Timeout: 5 * time.Second, ReadOnly: true})
	if err != nil {
		t.Fatal(err)
	}
	err = bdb.View(func(tx *bolt.Tx) error {
		var errs []error
		for err := range tx.Check() {
			errs = append(errs, err)
		}
		return errors.Join(errs...)
	})
	bdb.Close()
	if err != nil {
		t.Fatalf("tx.Check after kill -9: %v", err)
	}
	db := openT(t, path, store.Options{})
	defer db.Close()
	bg := context.Background()
	for id, st := range acked {
		got, err := db.GetExecution(bg, id)
		if err != nil {
			t.Errorf("acknowledged execution %s (%s) lost: %v", id, st, err)
			continue
		}
		if st.Finished() && got[0].Status != st {
			t.Errorf("execution %s: status %s, acknowledged %s", id, got[0].Status, st)
		}
	}
	if err := db.Check(bg); err != nil {
		t.Error(err)
	}
	// Recovery sees the in-flight running attempts and nothing else.
	unf, err := db.Unfinished(bg)
	if err != nil {
		t.Fatal(err)
	}
	for _, e := range unf {
		// An ID missing from acked was committed but killed before its ack.
		if st, ok := acked[e.ID]; ok && st.Finished() {
			t.Errorf("execution %s attempt %d acknowledged final but indexed unfinished (stored status %s)", e.ID, e.Attempt, e.Status)
		}
	}
}
