package main

import (
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"time"
)

// The wire phase: the throughput phase's load on three layouts, one after
// the other in one run, so that their ratios come from the same sitting
// (and the CPU time each spends per execution, which a machine shared
// with other work disturbs less than the rate):
// one handler process (NULL security, as the throughput phase), two
// processes serving the one name (a pool: --instance), and one handler
// process with CURVE on both channels.

// wireRows measures the three layouts and prints each one's rate and
// memory and the ratios two/one and CURVE/plain.
func wireRows(bin string, window time.Duration, load shape) ([]row, error) {
	layouts := []struct {
		name string
		top  topology
	}{
		{"one handler process, NULL (plain)", topology{}},
		{"two instances of one handler name (--instance)", topology{instances: 2}},
		{"one handler process, CURVE on both channels", topology{curve: true}},
	}
	rates := make([]float64, len(layouts))
	cpus := make([]float64, len(layouts))
	var rows []row
	for i, l := range layouts {
		rate, cpu, mem, err := measureThroughput(bin, window, load, l.top)
		if err != nil {
			return nil, fmt.Errorf("%s: %w", l.name, err)
		}
		rates[i], cpus[i] = rate, float64(cpu)
		rows = append(rows,
			row{fmt.Sprintf("wire: durable executions/s, %s; %.0f fires/s offered", l.name, float64(load.schedules)/load.every), fmt.Sprintf("%.0f", rate), ""},
			row{"  CPU per execution, scheduler and handlers", fmt.Sprintf("%.1f µs", float64(cpu)/float64(time.Microsecond)), ""},
			row{"  scheduler peak RSS", mem.scheduler.String(), ""},
			row{"  handler peak RSS (the larger instance)", mem.handler.String(), ""})
	}
	ratio := func(a, b float64) string {
		if b == 0 {
			return "n/a"
		}
		return fmt.Sprintf("%.2f", a/b)
	}
	return append(rows,
		row{"wire: two instances / one", ratio(rates[1], rates[0]), ""},
		row{"wire: CURVE / plain", ratio(rates[2], rates[0]), ""},
		row{"wire: CPU per execution, two instances / one", ratio(cpus[1], cpus[0]), ""},
		row{"wire: CPU per execution, CURVE / plain", ratio(cpus[2], cpus[0]), ""}), nil
}

// curveKeys are the key files of a CURVE deployment, made with the built
// `schedulezero keys generate`, as an operator makes them.
type curveKeys struct {
	schedulerSecret, schedulerPublic string // a file, a Z85 key
	handlerSecret, allow             string // files
}

// makeCurveKeys makes a scheduler key pair and a handler key pair in dir,
// and the allow-list of the handler's public key. Every instance of a
// deployment uses the one handler key.
func makeCurveKeys(bin, dir string) (*curveKeys, error) {
	k := &curveKeys{
		schedulerSecret: filepath.Join(dir, "scheduler.key"),
		handlerSecret:   filepath.Join(dir, "handler.key"),
		allow:           filepath.Join(dir, "allow.pub"),
	}
	gen := func(file string) (string, error) {
		out, err := execOutput(filepath.Join(bin, "schedulezero"), "keys", "generate", "--secret-file", file)
		if err != nil {
			return "", fmt.Errorf("schedulezero keys generate --secret-file %s: %w", file, err)
		}
		return strings.TrimSpace(out), nil
	}
	var err error
	if k.schedulerPublic, err = gen(k.schedulerSecret); err != nil {
		return nil, err
	}
	handlerPublic, err := gen(k.handlerSecret)
	if err != nil {
		return nil, err
	}
	if err := os.WriteFile(k.allow, []byte(handlerPublic+"\n"), 0o600); err != nil {
		return nil, err
	}
	return k, nil
}

func (k *curveKeys) schedulerArgs() []string {
	return []string{"--curve-secret-key-file", k.schedulerSecret, "--curve-allow", k.allow}
}

func (k *curveKeys) handlerArgs() []string {
	return []string{"--curve-secret-key-file", k.handlerSecret, "--curve-server-key", k.schedulerPublic}
}

// execOutput runs a program and returns its standard output; its standard
// error is in the error.
func execOutput(path string, args ...string) (string, error) {
	var stderr strings.Builder
	cmd := exec.Command(path, args...)
	cmd.Stderr = &stderr
	out, err := cmd.Output()
	if err != nil {
		return "", fmt.Errorf("%w: %s", err, strings.TrimSpace(stderr.String()))
	}
	return string(out), nil
}

// cpuTimes is the CPU time the deployment's scheduler and its handler
// processes (together) have used so far.
func (d *deployment) cpuTimes() (scheduler, handlers time.Duration) {
	for _, h := range d.handlers {
		handlers += cpuTime(h.pid())
	}
	return cpuTime(d.scheduler.pid()), handlers
}
