package handlername

import (
	"encoding/json"
	"path/filepath"
)

// Kinds of handler that schedulezero-handler serves.
const (
	KindDingaling = "dingaling"
	KindExec      = "exec"
)

// File is the JSON config file of one handler instance, NAME.json: the
// schema that schedulezero-handler reads (package handlerd checks
// it strictly) and that the governor writes for the handlers it adds.
type File struct {
	Kind         string   `json:"kind"`
	Endpoint     string   `json:"endpoint,omitempty"`
	Scheduler    string   `json:"scheduler,omitempty"`
	Concurrency  int      `json:"concurrency,omitempty"`
	PingInterval Duration `json:"ping_interval,omitempty"`
	SecretFile   string   `json:"secret_file,omitempty"`
	// Methods are the exec kind's commands by method name, each decoded
	// by package handler/exec (which this leaf does not import).
	Methods map[string]json.RawMessage `json:"methods,omitempty"`
	// AllowNonLoopback lets Endpoint listen beyond loopback (a wildcard
	// or another interface): see CheckBind.
	AllowNonLoopback bool `json:"allow_non_loopback,omitempty"`
	// ZMQMaxMessageSize and ZMQHandshakeTimeout are wire.Limits; zero:
	// the defaults.
	ZMQMaxMessageSize   int64    `json:"zmq_max_message_size,omitempty"`
	ZMQHandshakeTimeout Duration `json:"zmq_handshake_timeout,omitempty"`
}

// SchedulerSocket is the file name of the scheduler's registration socket
// in the runtime directory (the scheduler unit's SZ_ZMQ_BIND).
const SchedulerSocket = "zmq.sock"

// RuntimeEndpoint is the job socket a handler named name binds under
// systemd when its config names none: ipc://RUNTIME_DIRECTORY/handler-NAME.sock.
// Whoever pings handlers (the governor) finds them there.
func RuntimeEndpoint(runtimeDir, name string) string {
	return "ipc://" + RuntimeSocket(runtimeDir, name)
}

// RuntimeSocket is the path of RuntimeEndpoint.
func RuntimeSocket(runtimeDir, name string) string {
	return filepath.Join(runtimeDir, "handler-"+name+".sock")
}
