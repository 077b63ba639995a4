#!/usr/bin/env bash
# Measures what the subject index buys, on the bench corpus, same data, same
# run, medians of several runs:
#
#   backup   lethe's first backup (which builds the subject index) against
#            restic's; with --baseline REV also lethe built from REV (before
#            the index existed), which is backup without indexing;
#   restore  lethe restore without an erasure and with one (a subject with
#            mail in ~1% of the files): the index keeps the other files on
#            the fast path;
#   backup2  a backup of the unchanged source without erasures and with the
#            subject and 100 more erased identifiers (not in the source: the
#            cost of the screen);
#   index    the size of lethe/subjects/ as a share of the source bytes.
#
# With --perf, one more (untimed) run of each restore and unchanged backup
# is recorded with perf into DIR/NAME.perf (`perf report -i DIR/NAME.perf`).
#
#   bench/restore-erasure.sh [--dir DIR] [--small] [--runs N] [--baseline REV] [--perf]
set -euo pipefail
cd "$(dirname "$0")/.."

dir="" small=0 runs=3 baseline="" perf=0
while [ $# -gt 0 ]; do
	case "$1" in
	--dir) dir="$2"; shift 2 ;;
	--small) small=1; shift ;;
	--runs) runs="$2"; shift 2 ;;
	--baseline) baseline="$2"; shift 2 ;;
	--perf) perf=1; shift ;;
	*) echo "usage: bench/restore-erasure.sh [--dir DIR] [--small] [--runs N] [--baseline REV] [--perf]" >&2; exit 2 ;;
	esac
done
[ -n "$dir" ] || dir=$(mktemp -d "${TMPDIR:-/tmp}/lethe-bench.XXXXXX")
mkdir -p "$dir"
command -v restic >/dev/null || { echo "bench: restic is not installed (apt-get install restic)" >&2; exit 1; }
[ "$perf" = 0 ] || command -v perf >/dev/null || { echo "bench: --perf needs perf (apt-get install linux-perf)" >&2; exit 1; }

go build -o "$dir/lethe" ./cmd/lethe
if [ -n "$baseline" ]; then
	rm -rf "$dir/baseline-src"
	mkdir -p "$dir/baseline-src"
	git archive "$baseline" | tar -x -C "$dir/baseline-src"
	(cd "$dir/baseline-src" && go build -o "$dir/lethe-baseline" ./cmd/lethe)
fi
corpus=(-mails 20000 -docs-mb 400 -csv-mb 80)
[ "$small" = 1 ] && corpus=(-mails 2000 -docs-mb 40 -csv-mb 10)
data="$dir/data"
rm -rf "$data" "$dir/repo-"* "$dir/restore" "$dir/cache" "$dir/state"*
go run ./bench/corpus -dir "$data" -seed 1 "${corpus[@]}"
size=$(du -sb "$data" | cut -f1)

export LETHE_PASSWORD=bench RESTIC_PASSWORD=bench RESTIC_CACHE_DIR="$dir/cache" LETHE_STATE_DIR="$dir/state"

# timed NAME CMD...: runs CMD with the page cache warm for the corpus and
# appends its wall time in seconds to $dir/NAME.times.
timed() {
	local name=$1 t0 t1
	shift
	find "$data" -type f -exec cat {} + >/dev/null
	t0=$(date +%s.%N)
	"$@" >"$dir/$name.log" 2>&1 || {
		local rc=$?
		# lethe exits with 4 when a backup kept erased subjects out.
		[ "$rc" = 4 ] || { echo "bench: $name failed:" >&2; cat "$dir/$name.log" >&2; exit 1; }
	}
	t1=$(date +%s.%N)
	echo "$t1 - $t0" | bc >>"$dir/$name.times"
}

# profiled NAME CMD...: with --perf, runs CMD once more under perf record,
# untimed, into $dir/NAME.perf.
profiled() {
	local name=$1
	shift
	[ "$perf" = 1 ] || return 0
	perf record -q -g -o "$dir/$name.perf" -- "$@" >"$dir/$name.perf.log" 2>&1 || {
		local rc=$?
		[ "$rc" = 4 ] || { echo "bench: $name (perf) failed:" >&2; cat "$dir/$name.perf.log" >&2; exit 1; }
	}
}

median() { sort -g "$dir/$1.times" | awk '{ v[NR] = $1 } END { print (NR % 2) ? v[(NR + 1) / 2] : (v[NR / 2] + v[NR / 2 + 1]) / 2 }'; }

rm -f "$dir"/*.times
for i in $(seq "$runs"); do
	rm -rf "$dir/repo-lethe" "$dir/repo-restic" "$dir/repo-base" "$dir/state"
	"$dir/lethe" -r "$dir/repo-lethe" init -q >/dev/null
	restic -r "$dir/repo-restic" init >/dev/null
	timed backup-lethe "$dir/lethe" -r "$dir/repo-lethe" backup -q --host bench "$data"
	timed backup-restic restic -r "$dir/repo-restic" backup -q --host bench "$data"
	if [ -n "$baseline" ]; then
		"$dir/lethe-baseline" -r "$dir/repo-base" init -q >/dev/null
		timed backup-base "$dir/lethe-baseline" -r "$dir/repo-base" backup -q --host bench "$data"
	fi
done
repo="$dir/repo-lethe"
index_bytes=$(du -sb "$repo/lethe/subjects" | cut -f1)

# Three copies of the repository, each with its own state directory:
# without erasures, with one subject erased (the sender of mail in about
# one file in a hundred), and with 100 more erased identifiers the source
# does not hold. The measures then take turns, run by run, so that what
# else the machine does falls on all of them alike.
subject="anna.svensson@example.se"
mkdir -p "$LETHE_STATE_DIR"
for n in 1 100; do rm -rf "$dir/repo-$n" "$dir/state-$n"; done
cp -a "$repo" "$dir/repo-1"
cp -a "$LETHE_STATE_DIR" "$dir/state-1"
LETHE_STATE_DIR="$dir/state-1" "$dir/lethe" -r "$dir/repo-1" erase -q --reason "17(1)(a)" --email "$subject" >/dev/null
cp -a "$dir/repo-1" "$dir/repo-100"
cp -a "$dir/state-1" "$dir/state-100"
ids=()
for i in $(seq 100); do ids+=(--email "gone$i@example.org"); done
LETHE_STATE_DIR="$dir/state-100" "$dir/lethe" -r "$dir/repo-100" erase -q --reason "17(1)(a)" "${ids[@]}" >/dev/null
affected=$(grep -rli "$subject" "$data" | wc -l)

# Every restore goes to a new directory, and they are all removed at the
# end: ext4 does not reuse the inodes of files deleted in the last minutes
# and creating a file searches past them, so a restore right after
# removing the last one was slower by up to twice, depending on when the
# removal reached the disk: noise larger than what is measured.
nrestore=0
# measures RUN: one run of each measure, timed; with RUN "perf", profiled.
measures() {
	local how=timed
	[ "$1" = perf ] && how=profiled
	nrestore=$((nrestore + 1))
	last0="$dir/restore/$nrestore-0" last1="$dir/restore/$nrestore-1"
	$how restore-0 "$dir/lethe" -r "$repo" restore -q latest --target "$last0"
	$how restore-1 env LETHE_STATE_DIR="$dir/state-1" "$dir/lethe" -r "$dir/repo-1" restore -q latest --target "$last1"
	$how backup2-0 "$dir/lethe" -r "$repo" backup -q --host bench "$data"
	$how backup2-100 env LETHE_STATE_DIR="$dir/state-100" "$dir/lethe" -r "$dir/repo-100" backup -q --host bench "$data"
}
for i in $(seq "$runs"); do measures "$i"; done
diff -r "$data" "$last0$data" >/dev/null || { echo "bench: the restore differs from the data" >&2; exit 1; }
if grep -rqi "$subject" "$last1$data"; then
	echo "bench: the restore with the erasure still holds the subject" >&2
	exit 1
fi
[ "$perf" = 0 ] || measures perf

rm -rf "$dir/restore"

bl=$(median backup-lethe) br=$(median backup-restic)
r0=$(median restore-0) r1=$(median restore-1)
b0=$(median backup2-0) b100=$(median backup2-100)
printf '\ncorpus: %s MB, %s files; %s runs each, medians\n\n' "$((size / 1000000))" "$(find "$data" -type f | wc -l)" "$runs"
printf '%-44s %9s %9s %7s\n' measure a_s b_s a/b
row() { awk -v n="$1" -v a="$2" -v b="$3" 'BEGIN { if (b < 0.001) b = 0.001; printf "%-44s %9.2f %9.2f %7.2f\n", n, a, b, a / b }'; }
row "backup: lethe (indexing) / restic" "$bl" "$br"
if [ -n "$baseline" ]; then
	bb=$(median backup-base)
	row "backup: lethe $baseline (no index) / restic" "$bb" "$br"
	row "backup: lethe indexing / lethe $baseline" "$bl" "$bb"
fi
row "restore: 1 erasure ($affected files) / none" "$r1" "$r0"
row "backup unchanged: 100 erased ids / none" "$b100" "$b0"
awk -v i="$index_bytes" -v s="$size" 'BEGIN { printf "\nsubject index: %d bytes, %.2f%% of the source bytes\n", i, 100 * i / s }'
