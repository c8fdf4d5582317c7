#!/usr/bin/env bash
# A/B comparison of two builds' binaries on one machine in one sitting.
#
#   test/bench/ab.sh OLD_BIN_DIR NEW_BIN_DIR [ROUNDS] [bench flags...]
#
# Runs the bench (go run ./test/bench) against OLD and NEW alternately
# (A B A B ...), ROUNDS pairs (default 3), so drift in the machine's load
# falls on both; then prints each run's table and, per metric, the median
# and range of each build and the ratio of the medians (abtable). Extra
# flags go to every run; the default is -only throughput,lateness,rest (the
# scale phase's stores are the same for both builds). Run it from the
# repository's root. OUT=dir keeps the tables there (default: a temporary
# directory, printed).
set -euo pipefail

if [[ $# -lt 2 ]]; then
	sed -n '2,13p' "$0" | sed 's/^# \{0,1\}//'
	exit 2
fi
old=$(cd "$1" && pwd)
new=$(cd "$2" && pwd)
rounds=${3:-3}
shift 2
[[ $# -gt 0 ]] && shift
flags=("$@")
[[ ${#flags[@]} -eq 0 ]] && flags=(-only throughput,lateness,rest)
out=${OUT:-$(mktemp -d -t szab.XXXXXX)}
mkdir -p "$out"

# One bench program for every run, built before the first, so no run
# pays for (or is disturbed by) a compile.
go build -o "$out/bench" ./test/bench
go build -o "$out/abtable" ./test/bench/abtable

for i in $(seq 1 "$rounds"); do
	for side in a b; do
		dir=$old
		[[ $side == b ]] && dir=$new
		echo "== round $i/$rounds, $side: $dir $(date -u +%H:%M:%S)" >&2
		"$out/bench" -bin "$dir" "${flags[@]}" >"$out/$side.$i" 2>"$out/err.$side.$i" || {
			echo "run $side.$i failed:" >&2
			cat "$out/err.$side.$i" >&2
			exit 1
		}
	done
done

for side in a b; do
	label="A (old): $old"
	[[ $side == b ]] && label="B (new): $new"
	echo "### $label"
	for i in $(seq 1 "$rounds"); do
		echo "-- run $i"
		cat "$out/$side.$i"
	done
	echo
done
echo "### A = $old, B = $new; $rounds pairs, alternating; bench flags: ${flags[*]}"
"$out/abtable" "$out"
echo "(tables kept in $out)"
