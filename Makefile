# ScheduleZero. `make help` lists the targets.

GO        ?= go
BIN       ?= bin
# The release (the VERSION file, or the tag: packaging/version.sh, as the
# package); the commit is build information next to it.
VERSION   ?= $(shell packaging/version.sh 2>/dev/null || echo dev)
COMMIT    ?= $(shell git describe --always --dirty --abbrev=12 --exclude='*' 2>/dev/null)
LDFLAGS   := -s -w -X github.com/schedulezero/schedulezero/pkg/version.Version=$(VERSION) \
	-X github.com/schedulezero/schedulezero/pkg/version.Commit=$(COMMIT)
GOFLAGS   ?= -trimpath
# Leave out what no binary uses and every one would carry, resident:
# urfave/cli's Markdown and man generators (man pages come from --help,
# packaging/genman) and net/http's HTTP/2 (the API is plain HTTP on a unix
# socket or localhost). packaging/build-deb.sh builds with the same tags.
TAGS      := urfave_cli_no_docs nethttpomithttp2
# The scheduler is built twice: without the etcd client (nocluster; about
# 6 MB less resident for every scheduler), and with it as
# schedulezero-scheduler-cluster, which the first runs for --cluster.
SCHED_TAGS := $(TAGS) nocluster
CMDS      := schedulezero schedulezero-scheduler schedulezero-handler schedulezero-governor
MANDATE   ?= $(shell git log -1 --format=%cs 2>/dev/null || date -u +%F)
DESTDIR   ?=
PREFIX    ?= /usr

.PHONY: help build bins man test race e2e bench lint fmt demo units units-check install deb clean

help: ## list the targets
	@awk 'BEGIN {FS = ":.*## "} /^[a-zA-Z_-]+:.*## / {printf "  %-12s %s\n", $$1, $$2}' $(MAKEFILE_LIST)

build: bins man ## build the binaries into ./bin and their man pages into ./bin/man

bins: ## only the binaries, into ./bin
	@mkdir -p $(BIN)
	CGO_ENABLED=0 $(GO) build $(GOFLAGS) -tags '$(TAGS)' -ldflags '$(LDFLAGS)' -o $(BIN)/ $(addprefix ./cmd/,$(filter-out schedulezero-scheduler,$(CMDS)))
	CGO_ENABLED=0 $(GO) build $(GOFLAGS) -tags '$(SCHED_TAGS)' -ldflags '$(LDFLAGS)' -o $(BIN)/schedulezero-scheduler ./cmd/schedulezero-scheduler
	CGO_ENABLED=0 $(GO) build $(GOFLAGS) -tags '$(TAGS)' -ldflags '$(LDFLAGS)' -o $(BIN)/schedulezero-scheduler-cluster ./cmd/schedulezero-scheduler

man: bins ## the man pages, from the binaries' own command trees, into ./bin/man (read one: man -l bin/man/schedulezero.1.gz)
	$(GO) run ./packaging/genman -out $(BIN)/man -date $(MANDATE) -version $(VERSION) -extra packaging/man \
		$(BIN)/schedulezero:1 $(BIN)/schedulezero-scheduler:8 $(BIN)/schedulezero-handler:8 $(BIN)/schedulezero-governor:8

test: ## vet, then every test with the race detector (no root needed)
	$(GO) vet ./...
	$(GO) test -race -count=1 -timeout 20m ./...

e2e: ## end-to-end tests in a real systemd (root; boots containers; each test builds what it installs)
	SZ_E2E=1 $(GO) test -count=1 -timeout 20m -v ./test/e2e/...

bench: build ## print the performance table (docs/performance.md)
	$(GO) run ./test/bench -bin $(BIN)

# golangci-lint is a Go tool of its own module file, tools/lint.mod: its
# two hundred dependencies stay out of go.mod, which every build reads.
LINT      := $(GO) tool -modfile=tools/lint.mod golangci-lint

lint: ## golangci-lint with .golangci.yml: gofmt, go vet, errorlint, sloglint, bodyclose, staticcheck, ...
	$(LINT) run ./...
	$(LINT) run --build-tags nocluster ./cmd/schedulezero-scheduler/... ./pkg/schedulerd/...

fmt: ## format the code
	gofmt -w $$(git ls-files '*.go')

demo: build ## the embedded default: scheduler + dingaling handler in this terminal
	$(BIN)/schedulezero demo

units: ## regenerate units/ from pkg/unitgen
	$(GO) test ./pkg/unitgen -run TestUnitsUpToDate -update

units-check: ## units/ matches the generator and passes systemd-analyze verify
	$(GO) test -count=1 -v ./pkg/unitgen

install: build ## install binaries and units under DESTDIR/PREFIX
	install -d $(DESTDIR)$(PREFIX)/bin $(DESTDIR)$(PREFIX)/sbin $(DESTDIR)$(PREFIX)/lib/systemd/system \
		$(DESTDIR)$(PREFIX)/lib/sysusers.d $(DESTDIR)$(PREFIX)/lib/tmpfiles.d
	install -m 0755 $(BIN)/schedulezero $(DESTDIR)$(PREFIX)/bin/
	install -m 0755 $(BIN)/schedulezero-scheduler $(BIN)/schedulezero-handler $(BIN)/schedulezero-governor $(DESTDIR)$(PREFIX)/sbin/
	install -m 0644 units/*.service units/*.socket units/*.target $(DESTDIR)$(PREFIX)/lib/systemd/system/
	install -m 0644 units/schedulezero.sysusers $(DESTDIR)$(PREFIX)/lib/sysusers.d/schedulezero.conf
	install -m 0644 units/schedulezero.tmpfiles $(DESTDIR)$(PREFIX)/lib/tmpfiles.d/schedulezero.conf

deb: build ## the Debian package, reproducible, into dist/ (docs/packaging.md)
	GO=$(GO) packaging/build-deb.sh

clean: ## remove build output
	rm -rf $(BIN) dist
