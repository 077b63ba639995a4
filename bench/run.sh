#!/usr/bin/env bash
# Runs lethe and restic on the same generated corpus in the same run and
# prints wall time, throughput, peak memory (RSS) and the lethe/restic
# ratios for an initial backup, a second backup after a day's small
# changes, a restore, and a prune after forgetting the first snapshot
# (--max-unused 0%, so both rewrite every pack with unused blobs).
#
#   bench/run.sh [--dir DIR] [--small]      local repositories
#   bench/run.sh --s3 ...                   repositories on a local S3 server
#
# --small writes a corpus of ~60 MB for a quick look; the default is ~560 MB.
set -euo pipefail
cd "$(dirname "$0")/.."

dir="" small=0 s3=0
while [ $# -gt 0 ]; do
	case "$1" in
	--dir) dir="$2"; shift 2 ;;
	--small) small=1; shift ;;
	--s3) s3=1; shift ;;
	*) echo "usage: bench/run.sh [--dir DIR] [--small] [--s3]" >&2; exit 2 ;;
	esac
done
[ -n "$dir" ] || dir=$(mktemp -d "${TMPDIR:-/tmp}/lethe-bench.XXXXXX")
mkdir -p "$dir"
command -v restic >/dev/null || { echo "bench: restic is not installed (apt-get install restic)" >&2; exit 1; }
[ -x /usr/bin/time ] || { echo "bench: GNU time is not installed (apt-get install time)" >&2; exit 1; }

go build -o "$dir/lethe" ./cmd/lethe
corpus=(-mails 20000 -docs-mb 400 -csv-mb 80)
[ "$small" = 1 ] && corpus=(-mails 2000 -docs-mb 40 -csv-mb 10)
data="$dir/data"
rm -rf "$data" "$dir/repo-"* "$dir/restore-"* "$dir/cache" "$dir/s3"
go run ./bench/corpus -dir "$data" -seed 1 "${corpus[@]}"

export LETHE_PASSWORD=bench RESTIC_PASSWORD=bench RESTIC_CACHE_DIR="$dir/cache"
lethe_repo="$dir/repo-lethe" restic_repo="$dir/repo-restic"
if [ "$s3" = 1 ]; then
	# shellcheck source=/dev/null
	source bench/s3.sh
	start_s3 "$dir"
	lethe_repo="s3:$S3_URL/lethe-bench/lethe" restic_repo="s3:$S3_URL/lethe-bench/restic"
fi

# measure NAME CMD...: runs CMD with the page cache warm for the corpus and
# records "seconds peak-KiB" in $dir/NAME.time.
measure() {
	local name=$1
	shift
	find "$data" -type f -exec cat {} + >/dev/null
	/usr/bin/time -f "%e %M" -o "$dir/$name.time" "$@" >"$dir/$name.log" 2>&1 ||
		{ echo "bench: $name failed:" >&2; cat "$dir/$name.log" >&2; exit 1; }
}

"$dir/lethe" -r "$lethe_repo" init -q >/dev/null
restic -r "$restic_repo" init >/dev/null

size1=$(du -sb "$data" | cut -f1)
measure lethe-backup1 "$dir/lethe" -r "$lethe_repo" backup -q --host bench "$data"
measure restic-backup1 restic -r "$restic_repo" backup -q --host bench "$data"
go run ./bench/corpus -dir "$data" -seed 2 -mutate
size2=$(du -sb "$data" | cut -f1)
measure lethe-backup2 "$dir/lethe" -r "$lethe_repo" backup -q --host bench "$data"
measure restic-backup2 restic -r "$restic_repo" backup -q --host bench "$data"
measure lethe-restore "$dir/lethe" -r "$lethe_repo" restore -q latest --target "$dir/restore-lethe"
measure restic-restore restic -r "$restic_repo" restore latest --target "$dir/restore-restic"
diff -r "$data" "$dir/restore-lethe$data" >/dev/null || { echo "bench: lethe's restore differs from the data" >&2; exit 1; }
"$dir/lethe" -r "$lethe_repo" forget -q --keep-last 1 >/dev/null
restic -r "$restic_repo" forget -q --keep-last 1 >/dev/null
measure lethe-prune "$dir/lethe" -r "$lethe_repo" prune -q --max-unused 0%
measure restic-prune restic -r "$restic_repo" prune -q --max-unused 0%

repo_size() { du -sb "$1" | cut -f1; }

printf '\ncorpus: %s MB, %s files; backend: %s\n\n' "$((size1 / 1000000))" "$(find "$data" -type f | wc -l)" "$([ "$s3" = 1 ] && echo s3 || echo local)"
printf '%-10s %10s %10s %8s %10s %10s %11s %11s %8s\n' op lethe_s restic_s ratio lethe_MB/s restic_MB/s lethe_RSS_MB restic_RSS_MB rss_ratio
for op in backup1 backup2 restore prune; do
	read -r lt lm <"$dir/lethe-$op.time"
	read -r rt rm <"$dir/restic-$op.time"
	bytes=$size1
	[ "$op" = backup1 ] || bytes=$size2
	# prune: MB/s over the size of the data the kept snapshot holds
	awk -v op="$op" -v lt="$lt" -v rt="$rt" -v lm="$lm" -v rm="$rm" -v b="$bytes" 'BEGIN {
		if (lt < 0.01) lt = 0.01; if (rt < 0.01) rt = 0.01
		printf "%-10s %10.2f %10.2f %8.2f %10.1f %10.1f %11.1f %11.1f %8.2f\n", op, lt, rt, lt/rt, b/lt/1e6, b/rt/1e6, lm/1024, rm/1024, lm/rm }'
done
if [ "$s3" = 1 ]; then
	printf '\nrepository size (both in one bucket): %s MB\n' "$(($(repo_size "$dir/s3/data") / 1000000))"
else
	printf '\nrepository size: lethe %s MB, restic %s MB\n' "$(($(repo_size "$lethe_repo") / 1000000))" "$(($(repo_size "$restic_repo") / 1000000))"
fi
printf 'ratio, rss_ratio = lethe/restic: below 1 means lethe is faster or uses less memory\n'

