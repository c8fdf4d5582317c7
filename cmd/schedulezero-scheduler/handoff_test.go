package main

import (
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
)

// The build without cluster support links no etcd: that is what it is
// for (handoff.go).
func TestNoClusterBuild_LinksNoEtcd(t *testing.T) {
	out, err := exec.Command("go", "list", "-tags", "nocluster", "-deps", ".").CombinedOutput()
	if err != nil {
		t.Fatalf("go list: %v\n%s", err, out)
	}
	for line := range strings.SplitSeq(string(out), "\n") {
		if strings.HasPrefix(line, "go.etcd.io/etcd/") || strings.HasPrefix(line, "google.golang.org/grpc") {
			t.Errorf("the nocluster build links %s", line)
		}
	}
}

// Given --cluster, the build without cluster support executes the one
// beside it with the same arguments and environment; without it there,
// it fails naming what is missing and how to get it.
func TestNoClusterBuild_HandsClusterToTheClusterBuild(t *testing.T) {
	dir := t.TempDir()
	lean := filepath.Join(dir, "schedulezero-scheduler")
	if out, err := exec.Command("go", "build", "-tags", "nocluster", "-o", lean, ".").CombinedOutput(); err != nil {
		t.Fatalf("build: %v\n%s", err, out)
	}
	args := []string{"--cluster", "etcd://127.0.0.1:1", "--db", filepath.Join(dir, "sz.db")}

	cmd := exec.Command(lean, args...)
	cmd.Env = append(os.Environ(), "SZ_CLUSTER_HANDED_OFF=")
	out, err := cmd.CombinedOutput()
	if _, installed := os.Stat("/usr/libexec/schedulezero/schedulezero-scheduler-cluster"); installed == nil {
		t.Log("the package's cluster build is installed: its absence is not tested here")
	} else if err == nil || !strings.Contains(string(out), "schedulezero-scheduler-cluster") || !strings.Contains(string(out), "make bins") {
		t.Fatalf("without the cluster build beside it: err %v, output %q; want a failure naming schedulezero-scheduler-cluster and make bins", err, out)
	}

	// A stand-in for the cluster build that says what it was given.
	stub := "#!/bin/sh\necho \"args: $*\"\necho \"env: $SZ_TEST_MARK $SZ_CLUSTER_HANDED_OFF\"\n"
	if err := os.WriteFile(filepath.Join(dir, "schedulezero-scheduler-cluster"), []byte(stub), 0o755); err != nil {
		t.Fatal(err)
	}
	cmd = exec.Command(lean, args...)
	cmd.Env = append(os.Environ(), "SZ_TEST_MARK=kept", "SZ_CLUSTER_HANDED_OFF=")
	out, err = cmd.CombinedOutput()
	if err != nil {
		t.Fatalf("hand-over: %v\n%s", err, out)
	}
	want := "args: " + strings.Join(args, " ") + "\nenv: kept 1\n"
	if string(out) != want {
		t.Errorf("the cluster build got %q, want %q", out, want)
	}

	// A cluster build that is itself without cluster support fails
	// rather than executing itself forever.
	cmd = exec.Command(lean, args...)
	cmd.Env = append(os.Environ(), "SZ_CLUSTER_HANDED_OFF=1")
	if out, err := cmd.CombinedOutput(); err == nil || !strings.Contains(string(out), "without cluster support") {
		t.Errorf("handed off to a build without cluster support: err %v, output %q", err, out)
	}
}
