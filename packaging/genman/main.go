// Command genman writes the gzipped man pages of ScheduleZero's binaries for
// the Debian package (packaging/build-deb.sh runs it).
//
//	go run ./packaging/genman -out DIR -date 2026-11-28 -version 0.1.0 \
//	    [-extra packaging/man] bin/schedulezero:1 bin/schedulezero-scheduler:8 ...
//
// A binary that carries the hidden `man` subcommand of pkg/manpage prints its
// own page from its command tree; for any other, the page is built from its
// --help texts (and its subcommands'). The flags and commands thus come from
// the binaries; what no --help says (the files a daemon uses under systemd,
// related pages) is a roff fragment, -extra DIR/NAME.SECTION, appended to
// the page. Output is byte-for-byte reproducible:
// the date comes from the caller and the gzip header has no name or time.
package main

import (
	"bytes"
	"compress/gzip"
	"context"
	"errors"
	"flag"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"time"

	"github.com/schedulezero/schedulezero/pkg/manpage"
)

const callTimeout = 10 * time.Second

func main() {
	if err := run(os.Args[1:]); err != nil {
		fmt.Fprintln(os.Stderr, "genman:", err)
		os.Exit(1)
	}
}

func run(args []string) error {
	fs := flag.NewFlagSet("genman", flag.ContinueOnError)
	out := fs.String("out", "", "output `DIR` (NAME.SECTION.gz files)")
	date := fs.String("date", "", "page date, YYYY-MM-DD (from the last commit)")
	version := fs.String("version", "", "package version")
	extra := fs.String("extra", "", "`DIR` of roff fragments NAME.SECTION appended to the pages (optional)")
	if err := fs.Parse(args); err != nil {
		return err
	}
	if *out == "" || *date == "" || *version == "" || fs.NArg() == 0 {
		return errors.New("usage: genman -out DIR -date YYYY-MM-DD -version V BINARY:SECTION…")
	}
	if err := os.MkdirAll(*out, 0o755); err != nil {
		return err
	}
	for _, arg := range fs.Args() {
		bin, sec, ok := strings.Cut(arg, ":")
		section, err := strconv.Atoi(sec)
		if !ok || err != nil || (section != 1 && section != 8) {
			return fmt.Errorf("argument %q: want BINARY:1 or BINARY:8", arg)
		}
		name := filepath.Base(bin)
		t := manpage.Title{Name: name, Section: section, Date: *date,
			Source: "schedulezero " + *version, Manual: "ScheduleZero Manual"}
		page, how, err := render(bin, t)
		if err != nil {
			return fmt.Errorf("%s: %w", name, err)
		}
		if *extra != "" {
			b, err := os.ReadFile(filepath.Join(*extra, fmt.Sprintf("%s.%d", name, section)))
			switch {
			case err == nil:
				page = strings.TrimRight(page, "\n") + "\n" + string(b)
				how += " + " + filepath.Join(*extra, fmt.Sprintf("%s.%d", name, section))
			case !errors.Is(err, os.ErrNotExist):
				return fmt.Errorf("%s: -extra: %w", name, err)
			}
		}
		dst := filepath.Join(*out, fmt.Sprintf("%s.%d.gz", name, section))
		if err := writeGzip(dst, []byte(page)); err != nil {
			return err
		}
		fmt.Fprintf(os.Stderr, "genman: %s (%s)\n", dst, how)
	}
	return nil
}

// render prefers the binary's own `man` subcommand and falls back to --help.
func render(bin string, t manpage.Title) (page, how string, err error) {
	top, err := call(bin, "--help")
	if err != nil {
		return "", "", err
	}
	// Only a program with subcommands can have the (hidden) man command. A
	// daemon has none: it would take "man --help" for arguments (urfave/cli
	// reads no flag after the first argument) and start serving, with its
	// database and sockets in the working directory, until callTimeout.
	if len(manpage.Subcommands(top)) > 0 {
		// `BIN man --help` names the man command only when it exists.
		if h, err := call(bin, manpage.CommandName, "--help"); err == nil && strings.Contains(h, " "+manpage.CommandName+" - ") {
			p, err := call(bin, manpage.CommandName)
			if err != nil {
				return "", "", err
			}
			return manpage.SetTitle(p, t), "man subcommand", nil
		}
	}
	helps := []manpage.Help{{Text: top}}
	for _, sub := range manpage.Subcommands(top) {
		h, err := call(bin, sub, "--help")
		if err != nil {
			return "", "", err
		}
		helps = append(helps, manpage.Help{Path: sub, Text: h})
		for _, subsub := range manpage.Subcommands(h) {
			hh, err := call(bin, sub, subsub, "--help")
			if err != nil {
				return "", "", err
			}
			helps = append(helps, manpage.Help{Path: sub + " " + subsub, Text: hh})
		}
	}
	return manpage.FromHelp(t, helps), "--help fallback", nil
}

// call runs the binary with a fixed environment, so defaults read from the
// environment do not leak into the page.
func call(bin string, args ...string) (string, error) {
	ctx, cancel := context.WithTimeout(context.Background(), callTimeout)
	defer cancel()
	cmd := exec.CommandContext(ctx, bin, args...)
	cmd.Env = []string{"PATH=/usr/bin:/bin", "LC_ALL=C", "HOME=/nonexistent"}
	var stdout, stderr bytes.Buffer
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	if err := cmd.Run(); err != nil {
		return "", fmt.Errorf("%s %s: %w: %s", bin, strings.Join(args, " "), err, strings.TrimSpace(stderr.String()))
	}
	return stdout.String(), nil
}

// writeGzip writes data compressed at maximum level with an empty header
// (no name, no mtime), like `gzip -9n`.
func writeGzip(path string, data []byte) error {
	var buf bytes.Buffer
	zw, err := gzip.NewWriterLevel(&buf, gzip.BestCompression)
	if err != nil {
		return err
	}
	if _, err := zw.Write(data); err != nil {
		return err
	}
	if err := zw.Close(); err != nil {
		return err
	}
	return os.WriteFile(path, buf.Bytes(), 0o644)
}
