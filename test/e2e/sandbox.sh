#!/usr/bin/env bash
# sandbox.sh - boot a REAL systemd (Debian bookworm, systemd 252) as PID 1 of a
# systemd-nspawn container, for ScheduleZero's end-to-end tests of its units,
# sd_notify/watchdog, journald fields and D-Bus, on machines (CI VMs, dev boxes)
# whose own PID 1 is not systemd. Used by the Go tests in this directory
# (`make e2e`); it can also be driven by hand.
#
# Usage (run as root):
#   sandbox.sh setup          host packages (systemd-container, debootstrap) + cached
#                             debootstrap rootfs (idempotent; ~40-50 s cold)
#   sandbox.sh boot           boot the container in the background (fresh overlay each
#                             time), wait for `systemctl is-system-running --wait`
#   sandbox.sh exec CMD...    run CMD inside (nsenter into all container namespaces)
#   sandbox.sh run CMD...     run CMD inside as a transient unit (systemd-run --wait --pipe)
#   sandbox.sh put FILE...    copy host files into the shared dir (seen inside as /sbx)
#   sandbox.sh status         is it running? which host PIDs?
#   sandbox.sh shutdown       clean `systemctl poweroff` inside, wait, remove cgroups
#   sandbox.sh purge          shutdown (if running) and delete the cached rootfs
#   sandbox.sh paths          print ROOTFS / SHARE (host side of /sbx) / STATE
#
# Typical use:
#   trap 'sandbox.sh shutdown' EXIT
#   sandbox.sh boot                       # runs `setup` first if the rootfs is missing
#   sandbox.sh put ./bin/schedulezero-scheduler
#   sandbox.sh exec systemctl start schedulezero-scheduler
#   sandbox.sh exec journalctl -u schedulezero-scheduler --no-pager
#
# Everything lives under $SBX_DIR.  Knobs (environment):
#   SBX_DIR          work dir (rootfs cache, state, share)   default: /var/tmp/schedulezero-e2e
#   SBX_NAME         machine/host name, also names state     default: sbx
#   SBX_SUITE        Debian suite for the rootfs             default: bookworm
#   SBX_MIRROR       Debian mirror URI                       default: from the host's apt sources
#   SBX_PACKAGES     comma list for debootstrap --include
#                    default: systemd,systemd-sysv,dbus,libpam-systemd,procps
#   SBX_EXTRA_PACKAGES  more comma-separated packages to include (part of the cache key)
#   SBX_VOLATILE     overlay (default: rootfs read-only lower layer, changes discarded
#                    at shutdown) | no (changes persist in the cached rootfs)
#   SBX_CGROUP       unified (default: pure cgroup2 inside) | auto | legacy
#   SBX_NETWORK      private (default: only loopback inside) | host (share host network)
#   SBX_BOOT_TIMEOUT seconds to wait for boot                default: 60
#
# Known limits: cgroup controllers are not usable inside (MemoryMax= etc. accepted,
# not enforced); `exec` runs in the host's cgroup (use `run` for a real unit).
set -euo pipefail

SBX_DIR=${SBX_DIR:-/var/tmp/schedulezero-e2e}
SBX_NAME=${SBX_NAME:-sbx}
SBX_SUITE=${SBX_SUITE:-bookworm}
SBX_PACKAGES=${SBX_PACKAGES:-systemd,systemd-sysv,dbus,libpam-systemd,procps}
SBX_EXTRA_PACKAGES=${SBX_EXTRA_PACKAGES:-}
SBX_VOLATILE=${SBX_VOLATILE:-overlay}
SBX_CGROUP=${SBX_CGROUP:-unified}
SBX_NETWORK=${SBX_NETWORK:-private}
SBX_BOOT_TIMEOUT=${SBX_BOOT_TIMEOUT:-60}
SBX_GUEST_SHARE=/sbx

ROOTFS=$SBX_DIR/rootfs-$SBX_SUITE
STATE=$SBX_DIR/state-$SBX_NAME
SHARE=$SBX_DIR/share-$SBX_NAME
GUEST_PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin

log() { printf '[sbx %s] %s\n' "$(date +%T)" "$*" >&2; }
die() { log "ERROR: $*"; exit 1; }
now() { date +%s.%N; }
elapsed() { awk -v a="$1" -v b="$(now)" 'BEGIN{printf "%.1f", b-a}'; }

[ "$(id -u)" = 0 ] || die "must run as root"
SELF=$(readlink -f "$0")
me() { bash "$SELF" "$@"; } # re-invoke this script (works without the exec bit)

# ---------------------------------------------------------------- setup
detect_mirror() {
	if [ -n "${SBX_MIRROR:-}" ]; then echo "$SBX_MIRROR"; return; fi
	local m=""
	# deb822 .sources: first URIs of a stanza whose Suites contains $SBX_SUITE
	m=$(cat /etc/apt/sources.list.d/*.sources 2>/dev/null | awk -v s="$SBX_SUITE" '
		function flush() { if (uris != "" && suites ~ ("(^| )" s "( |$)") && out == "") { split(uris, u, " "); out = u[1] } uris = ""; suites = "" }
		/^[[:space:]]*$/ { flush(); next }
		/^URIs:/   { sub(/^URIs:[[:space:]]*/, ""); uris = $0 }
		/^Suites:/ { sub(/^Suites:[[:space:]]*/, ""); suites = $0 }
		END { flush(); print out }')
	if [ -z "$m" ]; then
		m=$(cat /etc/apt/sources.list /etc/apt/sources.list.d/*.list 2>/dev/null |
			awk -v s="$SBX_SUITE" '$1=="deb" && $0 !~ /\[/ && $3==s {print $2; exit}')
	fi
	echo "${m:-http://deb.debian.org/debian}"
}

host_packages() {
	local need=()
	command -v systemd-nspawn >/dev/null || need+=(systemd-container)
	command -v debootstrap >/dev/null || need+=(debootstrap)
	command -v nsenter >/dev/null || need+=(util-linux)
	command -v ps >/dev/null || need+=(procps)
	[ -e /usr/share/keyrings/debian-archive-keyring.gpg ] || need+=(debian-archive-keyring)
	[ ${#need[@]} -eq 0 ] && return 0
	log "installing host packages: ${need[*]}"
	local t; t=$(now)
	apt-get update -qq
	# --no-install-recommends: skips libnss-mymachines (would edit /etc/nsswitch.conf).
	# Note: systemd-container pins the host's systemd package to the same version (may upgrade it).
	DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends "${need[@]}" >/dev/null
	log "host packages installed in $(elapsed "$t")s"
}

cache_key() {
	printf '%s\n' "suite=$SBX_SUITE" "mirror=$(detect_mirror)" "packages=$SBX_PACKAGES${SBX_EXTRA_PACKAGES:+,$SBX_EXTRA_PACKAGES}" "recipe=3" | sha256sum | cut -c1-16
}

cmd_setup() {
	host_packages
	mkdir -p "$SBX_DIR"
	exec 8>"$SBX_DIR/.setup.lock"
	flock 8
	local key; key=$(cache_key)
	if [ -f "$ROOTFS/.sbx-cache-key" ] && [ "$(cat "$ROOTFS/.sbx-cache-key")" = "$key" ]; then
		log "rootfs cache hit: $ROOTFS ($key)"
		return 0
	fi
	is_running && die "container $SBX_NAME is running; shut it down before rebuilding the rootfs"
	local mirror tmp t
	mirror=$(detect_mirror)
	tmp="$ROOTFS.tmp.$$"
	rm -rf "$tmp"
	log "debootstrap $SBX_SUITE from $mirror into $tmp (cold setup, ~30-60 s)"
	t=$(now)
	if ! debootstrap --variant=minbase \
		--include="$SBX_PACKAGES${SBX_EXTRA_PACKAGES:+,$SBX_EXTRA_PACKAGES}" \
		"$SBX_SUITE" "$tmp" "$mirror" >"$SBX_DIR/debootstrap.log" 2>&1; then
		tail -20 "$SBX_DIR/debootstrap.log" >&2
		rm -rf "$tmp"
		die "debootstrap failed (log: $SBX_DIR/debootstrap.log)"
	fi
	log "debootstrap done in $(elapsed "$t")s"
	configure_rootfs "$tmp"
	echo "$key" >"$tmp/.sbx-cache-key"
	rm -rf "$ROOTFS"
	mv "$tmp" "$ROOTFS"
	log "rootfs ready: $ROOTFS ($(du -sh "$ROOTFS" | cut -f1))"
}

configure_rootfs() {
	local r=$1
	# no /etc/hostname: the container keeps the hostname nspawn gives it (= SBX_NAME)
	rm -f "$r/etc/hostname"
	# empty machine-id: systemd makes a transient one at each boot
	: >"$r/etc/machine-id"
	mkdir -p "$r/etc/systemd/journald.conf.d" "$r$SBX_GUEST_SHARE"
	printf '[Journal]\nStorage=volatile\nRateLimitBurst=0\n' >"$r/etc/systemd/journald.conf.d/sbx.conf"
	# background jobs that only add noise to tests
	local u
	for u in apt-daily.timer apt-daily-upgrade.timer dpkg-db-backup.timer e2scrub_all.timer \
		fstrim.timer e2scrub_reap.service systemd-tmpfiles-clean.timer getty@tty1.service; do
		ln -sf /dev/null "$r/etc/systemd/system/$u"
	done
	rm -f "$r"/var/cache/apt/archives/*.deb "$r"/var/cache/apt/*.bin
}

# ---------------------------------------------------------------- state
# true if PID exists and is not a zombie (exited children of a dead parent linger as
# zombies until the host's PID 1 reaps them)
live() {
	local st
	[ -n "$1" ] && st=$(sed -n 's/^.*) \(.\) .*/\1/p' "/proc/$1/stat" 2>/dev/null) &&
		[ -n "$st" ] && [ "$st" != Z ] && [ "$st" != X ]
}

nspawn_pid() {
	local p
	p=$(cat "$STATE/nspawn.pid" 2>/dev/null) || return 1
	live "$p" && [ "$(cat "/proc/$p/comm" 2>/dev/null)" = systemd-nspawn ] || return 1
	echo "$p"
}
is_running() { nspawn_pid >/dev/null; }

# PID (in the host's view) of the container's PID 1 (its systemd)
container_pid() {
	local np c ns
	np=$(nspawn_pid) || return 1
	for c in $(ps -o pid= --ppid "$np"); do
		# must be in another PID namespace than ours: never target the host's PID 1
		ns=$(readlink "/proc/$c/ns/pid" 2>/dev/null) || continue
		if live "$c" && [ -n "$ns" ] && [ "$ns" != "$(readlink /proc/self/ns/pid)" ] &&
			[ "$(cat "/proc/$c/comm" 2>/dev/null)" = systemd ]; then
			echo "$c"
			return 0
		fi
	done
	return 1
}

# cgroup mount points: prints "<kind> <mountpoint>" for cgroup2 ("v2") and name=systemd ("v1")
cgroup_mounts() {
	awk '{ for (i = 7; i <= NF; i++) if ($i == "-") break
	       fs = $(i + 1); so = $(i + 3)
	       if (fs == "cgroup2") print "v2", $5
	       else if (fs == "cgroup" && so ~ /(^|,)name=systemd(,|$)/) print "v1", $5 }' /proc/self/mountinfo
}
own_cgroup() { # $1 = v2|v1
	if [ "$1" = v2 ]; then sed -n 's/^0:://p' /proc/self/cgroup
	else sed -n 's/^[0-9]*:name=systemd://p' /proc/self/cgroup; fi
}

# ---------------------------------------------------------------- boot
# Internal: runs as the long-lived launcher.  It moves itself into a dedicated cgroup
# (so nspawn --keep-unit puts its payload/supervisor cgroups there, not at the host's
# cgroup root), enters a private mount namespace (so nspawn's /run/systemd/nspawn
# scratch dirs vanish with it) and execs systemd-nspawn.  PID stays the same.
cmd___launch() {
	: >"$STATE/cgroups"
	local kind mnt own dir
	if [ ! -d /run/systemd/system ]; then # no host systemd managing cgroups
		while read -r kind mnt; do
			own=$(own_cgroup "$kind")
			dir="${mnt%/}${own%/}/sbx-$SBX_NAME"
			mkdir -p "$dir"
			echo $$ >"$dir/cgroup.procs"
			echo "$dir" >>"$STATE/cgroups"
		done < <(cgroup_mounts)
	fi
	echo $$ >"$STATE/nspawn.pid"
	local args=(--quiet -D "$ROOTFS" --boot --machine="$SBX_NAME" --register=no --keep-unit
		--console=pipe --link-journal=no --resolv-conf=off --timezone=off
		--bind="$SHARE:$SBX_GUEST_SHARE")
	[ "$SBX_VOLATILE" = overlay ] && args+=(--volatile=overlay)
	[ "$SBX_NETWORK" = private ] && args+=(--private-network)
	case "$SBX_CGROUP" in
	unified) export SYSTEMD_NSPAWN_UNIFIED_HIERARCHY=1 ;;
	legacy) export SYSTEMD_NSPAWN_UNIFIED_HIERARCHY=0 ;;
	auto) unset SYSTEMD_NSPAWN_UNIFIED_HIERARCHY ;;
	*) echo "SBX_CGROUP must be unified, auto or legacy" >&2; exit 1 ;;
	esac
	if [ -d /run/systemd/system ]; then
		exec unshare --mount --propagation private -- systemd-nspawn "${args[@]}"
	fi
	# shellcheck disable=SC2016
	exec unshare --mount --propagation private -- sh -c \
		'mount -t tmpfs -o mode=0755,size=16m sbx-run /run/systemd && exec systemd-nspawn "$@"' \
		sh "${args[@]}"
}

cmd_boot() {
	is_running && die "already running (nspawn PID $(nspawn_pid))"
	[ -f "$ROOTFS/.sbx-cache-key" ] || cmd_setup
	mkdir -p "$STATE" "$SHARE"
	rm -f "$STATE/nspawn.pid"
	local t; t=$(now)
	setsid bash "$SELF" __launch </dev/null >"$STATE/nspawn.log" 2>&1 &
	local _
	for _ in $(seq 1 50); do is_running && break; sleep 0.1; done
	is_running || { cat "$STATE/nspawn.log" >&2; die "systemd-nspawn did not start"; }
	log "systemd-nspawn PID $(nspawn_pid), waiting for boot"
	local state="" deadline=$(($(date +%s) + SBX_BOOT_TIMEOUT))
	while [ "$(date +%s)" -lt "$deadline" ]; do
		if ! is_running; then
			cat "$STATE/nspawn.log" >&2
			die "container exited during boot"
		fi
		if container_pid >/dev/null; then
			state=$(timeout 30 bash "$SELF" exec systemctl is-system-running --wait 2>/dev/null) && break
			case "$state" in degraded | maintenance | stopping) break ;; esac
		fi
		sleep 0.2
	done
	local pid1; pid1=$(container_pid || echo '?')
	log "booted: state=${state:-unknown} in $(elapsed "$t")s (nspawn PID $(nspawn_pid), container PID1 = host PID $pid1)"
	echo "$pid1 $(readlink "/proc/$pid1/ns/pid" 2>/dev/null)" >"$STATE/init.pid"
	if [ "$state" != running ]; then
		me exec systemctl --failed --no-pager >&2 || true
		[ "$state" = degraded ] || die "boot did not finish (state=${state:-timeout})"
	fi
}

cmd_exec() {
	local pid
	pid=$(container_pid) || die "container $SBX_NAME is not running"
	exec nsenter -t "$pid" -a -- env -i PATH="$GUEST_PATH" HOME=/root LANG=C.UTF-8 TERM=dumb \
		SYSTEMD_PAGER=cat SYSTEMD_COLORS=0 "$@"
}

cmd_run() {
	cmd_exec systemd-run --quiet --wait --pipe --collect --service-type=exec -- "$@"
}

cmd_put() {
	mkdir -p "$SHARE"
	cp -a "$@" "$SHARE/"
}

cmd_status() {
	local p
	if is_running; then
		echo "running: nspawn PID $(nspawn_pid), container PID1 = host PID $(container_pid || echo '?')"
		me exec systemctl is-system-running || true
	elif p=$(init_alive); then
		echo "ORPHANED: systemd-nspawn is gone but the container init (host PID $p) lives; run: shutdown"
	else
		echo "not running"
	fi
}

cleanup_state() {
	local dir
	if [ -f "$STATE/cgroups" ]; then
		while read -r dir; do
			[ -d "$dir" ] || continue
			find "$dir" -depth -type d -exec rmdir {} \; 2>/dev/null || true
			[ -d "$dir" ] && log "WARNING: cgroup $dir still exists: $(find "$dir" -name cgroup.procs -exec cat {} + | tr '\n' ' ')"
		done <"$STATE/cgroups"
	fi
	rm -f "$STATE/nspawn.pid" "$STATE/init.pid" "$STATE/cgroups"
}

# container init PID recorded at boot, if that very process (same PID namespace) still lives,
# e.g. after systemd-nspawn itself was killed (the container then survives, orphaned)
init_alive() {
	local p="" ns=""
	{ read -r p ns <"$STATE/init.pid"; } 2>/dev/null || return 1
	[ -n "$ns" ] && live "$p" || return 1
	[ "$ns" != "$(readlink /proc/self/ns/pid)" ] && [ "$(readlink "/proc/$p/ns/pid" 2>/dev/null)" = "$ns" ] || return 1
	echo "$p"
}

alive() { # true if any of the given (possibly empty) PIDs is still live
	local p
	for p in "$@"; do live "$p" && return 0; done
	return 1
}

cmd_shutdown() {
	local np pid1 ns1="" t _
	np=$(nspawn_pid || true)
	pid1=$(container_pid || init_alive || true)
	if [ -z "$np" ] && [ -z "$pid1" ]; then
		log "not running"
		cleanup_state
		return 0
	fi
	t=$(now)
	[ -n "$pid1" ] && ns1=$(readlink "/proc/$pid1/ns/pid")
	if [ -n "$np" ] && container_pid >/dev/null; then
		# poweroff of the container's own systemd (separate PID namespace: the kernel only
		# ends that namespace, the host is never affected)
		timeout 20 bash "$SELF" exec systemctl poweroff --no-block >/dev/null 2>&1 || true
	elif [ -n "$pid1" ]; then
		log "SIGRTMIN+4 (= poweroff) to container init, host PID $pid1"
		kill -s SIGRTMIN+4 "$pid1" 2>/dev/null || true
	fi
	for _ in $(seq 1 300); do alive "$np" "$pid1" || break; sleep 0.1; done
	if alive "$np"; then
		log "clean poweroff timed out; SIGTERM to nspawn PID $np (it halts the container)"
		kill -TERM "$np" 2>/dev/null || true
		for _ in $(seq 1 100); do alive "$np" "$pid1" || break; sleep 0.1; done
	fi
	if alive "$np" "$pid1"; then
		if alive "$np"; then
			log "SIGKILL to nspawn PID $np"
			kill -KILL "$np" 2>/dev/null || true
		fi
		# killing nspawn alone leaves the container running (orphaned): SIGKILL its PID 1,
		# which ends the whole container PID namespace.  Re-check it is still that process.
		if alive "$pid1" && [ "$ns1" != "$(readlink /proc/self/ns/pid)" ] &&
			[ "$(readlink "/proc/$pid1/ns/pid" 2>/dev/null)" = "$ns1" ]; then
			log "SIGKILL to container init, host PID $pid1"
			kill -KILL "$pid1" 2>/dev/null || true
		fi
		sleep 0.5
	fi
	cleanup_state
	log "shut down in $(elapsed "$t")s"
}

cmd_paths() {
	echo "ROOTFS=$ROOTFS"
	echo "SHARE=$SHARE"
	echo "STATE=$STATE"
}

cmd_purge() {
	cmd_shutdown
	rm -rf "$ROOTFS" "$STATE" "$SHARE" "$SBX_DIR/probe"
}

# ---------------------------------------------------------------- main
sub=${1:-}
[ -n "$sub" ] || {
	awk 'NR > 1 && /^#/ { sub(/^# ?/, ""); print; next } NR > 1 { exit }' "$SELF"
	exit 2
}
shift
case "$sub" in
setup | boot | exec | run | put | status | shutdown | purge | paths | __launch) "cmd_${sub//-/_}" "$@" ;;
*) die "unknown command: $sub" ;;
esac
