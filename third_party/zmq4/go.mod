module github.com/go-zeromq/zmq4

go 1.24.0

require (
	github.com/go-zeromq/goczmq/v4 v4.2.2
	go.uber.org/goleak v1.3.0
	golang.org/x/sync v0.18.0
)

require (
	golang.org/x/crypto v0.45.0
	golang.org/x/sys v0.38.0 // indirect
)
