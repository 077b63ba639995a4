#!/usr/bin/env bash
# Erasing one customer from seven daily snapshots, lethe against the two
# ways restic has, on the same data in the same run:
#
#   lethe      lethe erase (rewrite every snapshot record by record,
#              erasure-grade prune, verify)
#   restic-fl  restic's file-level erasure: rewrite --exclude the files
#              that name or hold her, --forget, prune --max-unused 0. It
#              cannot remove a CSV row or a calendar event from a shared
#              file: her row in kunder.csv stays (the script checks that).
#   restic-rl  restic's only record-level way: restore each snapshot,
#              remove her records, back it up again with --time, forget the
#              old one, prune.
#
# Then lethe again on corpora with twice the unrelated data: erasing costs
# what the subject's footprint costs (the size of the files that hold her),
# so with her files unchanged the ratio should be close to 1.
#
#   bench/erase.sh [--dir DIR] [--small] [--profile]
#
# --profile writes CPU profiles of both lethe erasures to DIR/lethe*.prof
# (go tool pprof DIR/lethe DIR/lethe.prof).
set -euo pipefail
cd "$(dirname "$0")/.."

dir="" small=0 profile=0
while [ $# -gt 0 ]; do
	case "$1" in
	--dir) dir="$2"; shift 2 ;;
	--small) small=1; shift ;;
	--profile) profile=1; shift ;;
	*) echo "usage: bench/erase.sh [--dir DIR] [--small] [--profile]" >&2; exit 2 ;;
	esac
done
[ -n "$dir" ] || dir=$(mktemp -d "${TMPDIR:-/tmp}/lethe-erase-bench.XXXXXX")
mkdir -p "$dir"
command -v restic >/dev/null || { echo "bench: restic is not installed (apt-get install restic)" >&2; exit 1; }
[ -x /usr/bin/time ] || { echo "bench: GNU time is not installed (apt-get install time)" >&2; exit 1; }

go build -o "$dir/lethe" ./cmd/lethe
# restic rewrite came with restic 0.15; Debian's restic is 0.14. The
# file-level row then uses restic built at a pinned version from its Go
# module (once, into a cache outside the run's directory).
restic_fl=restic
if ! restic rewrite --help >/dev/null 2>&1; then
	restic_fl="${XDG_CACHE_HOME:-$HOME/.cache}/lethe-bench/restic-v0.17.3/restic"
	[ -x "$restic_fl" ] || GOBIN=$(dirname "$restic_fl") go install github.com/restic/restic/cmd/restic@v0.17.3
fi
lethe="$dir/lethe"
corpus=(-mails 5000 -docs-mb 100 -csv-mb 20)
[ "$small" = 1 ] && corpus=(-mails 1000 -docs-mb 20 -csv-mb 4)
export LETHE_PASSWORD=bench RESTIC_PASSWORD=bench RESTIC_CACHE_DIR="$dir/cache"
email=anna.bench@example.se

# subject DATA: gives the customer a CSV row, three mails, a vCard and a
# calendar event among the corpus's other records.
subject() {
	local data=$1
	printf 'K9999999;Anna Bench;%s;070-999 12 34;Uppsala;100,00\n' "$email" >>"$data/kunder.csv"
	for i in 1 2 3; do
		printf 'From: Anna Bench <%s>\r\nTo: info@foretaget.se\r\nSubject: Order %d\r\nDate: Mon, 2 Nov 2026 10:0%d:00 +0100\r\nMessage-ID: <anna-%d@example.se>\r\n\r\nHej, en fraga om order %d.\r\n' \
			"$email" "$i" "$i" "$i" "$i" >"$data/mail/box0$i/cur/anna-$i.eml"
	done
	mkdir -p "$data/kontakter" "$data/kalender"
	printf 'BEGIN:VCARD\r\nVERSION:3.0\r\nFN:Bo Ek\r\nEMAIL:bo.ek@example.se\r\nEND:VCARD\r\nBEGIN:VCARD\r\nVERSION:3.0\r\nFN:Anna Bench\r\nEMAIL:%s\r\nEND:VCARD\r\n' "$email" >"$data/kontakter/kunder.vcf"
	printf 'BEGIN:VCALENDAR\r\nVERSION:2.0\r\nPRODID:-//bench//EN\r\nBEGIN:VEVENT\r\nUID:bo-1\r\nDTSTART:20261110T090000Z\r\nSUMMARY:Bo Ek\r\nATTENDEE:mailto:bo.ek@example.se\r\nEND:VEVENT\r\nBEGIN:VEVENT\r\nUID:anna-1\r\nDTSTART:20261111T090000Z\r\nSUMMARY:Anna Bench\r\nATTENDEE:mailto:%s\r\nEND:VEVENT\r\nEND:VCALENDAR\r\n' "$email" >"$data/kalender/bokningar.ics"
}

# remove_subject DIR: what a person would do by hand to a restored tree.
remove_subject() {
	local d=$1
	sed -i "/$email/d" "$d/kunder.csv"
	rm -f "$d"/mail/box0?/cur/anna-?.eml
	perl -0pi -e 's/BEGIN:VCARD\r\nVERSION:3.0\r\nFN:Anna Bench\r\n.*?END:VCARD\r\n//s' "$d/kontakter/kunder.vcf"
	perl -0pi -e 's/BEGIN:VEVENT\r\nUID:anna-1\r\n.*?END:VEVENT\r\n//s' "$d/kalender/bokningar.ics"
}

# measure NAME CMD...: records "seconds peak-KiB" in $dir/NAME.time.
measure() {
	local name=$1
	shift
	/usr/bin/time -f "%e %M" -o "$dir/$name.time" "$@" >"$dir/$name.log" 2>&1 ||
		{ echo "bench: $name failed:" >&2; cat "$dir/$name.log" >&2; exit 1; }
}

# week DATA REPO...: seven nightly backups into each repository.
week() {
	local data=$1
	shift
	for day in 1 2 3 4 5 6 7; do
		[ "$day" = 1 ] || go run ./bench/corpus -dir "$data" -seed "$day" -mutate
		for repo in "$@"; do
			# By the repository's own name: the run's directory may name lethe.
			case "${repo##*/}" in
			repo-lethe*) "$lethe" -r "$repo" backup -q --host bench --time "2026-11-0$day 02:00:00" "$data" >/dev/null ;;
			repo-restic-fl) "$restic_fl" -r "$repo" backup -q --host bench --time "2026-11-0$day 02:00:00" "$data" >/dev/null ;;
			*) restic -r "$repo" backup -q --host bench --time "2026-11-0$day 02:00:00" "$data" >/dev/null ;;
			esac
		done
	done
}

# prof NAME: the flag that profiles lethe's run NAME, with --profile.
prof() { [ "$profile" = 1 ] && echo "--cpu-profile=$dir/$1.prof" || true; }

sum_time() { awk '{ s += $1; if ($2 > m) m = $2 } END { printf "%.2f %d\n", s, m }' "$@"; }

data="$dir/data"
rm -rf "$dir"/data* "$dir"/repo-* "$dir"/state* "$dir"/restore* "$dir/cache" "$dir"/*.time "$dir"/*.size
go run ./bench/corpus -dir "$data" -seed 1 "${corpus[@]}"
subject "$data"
size=$(du -sb "$data" | cut -f1)
"$lethe" -r "$dir/repo-lethe" init -q >/dev/null
"$restic_fl" -r "$dir/repo-restic-fl" init >/dev/null
restic -r "$dir/repo-restic-rl" init >/dev/null
week "$data" "$dir/repo-lethe" "$dir/repo-restic-fl" "$dir/repo-restic-rl"

# lethe
measure lethe "$lethe" $(prof lethe) -r "$dir/repo-lethe" --state-dir "$dir/state" erase --email "$email" --reason "17(1)(a)"
grep -q "nothing of the subject left" "$dir/lethe.log" || { echo "bench: lethe's erasure did not verify" >&2; cat "$dir/lethe.log" >&2; exit 1; }

# restic, file level
excl=(--exclude "/**/anna-?.eml" --exclude "$data/kontakter/kunder.vcf" --exclude "$data/kalender/bokningar.ics")
measure restic-fl-rewrite "$restic_fl" -r "$dir/repo-restic-fl" rewrite --forget "${excl[@]}"
measure restic-fl-prune "$restic_fl" -r "$dir/repo-restic-fl" prune --max-unused 0
"$restic_fl" -r "$dir/repo-restic-fl" dump latest "$data/kunder.csv" >"$dir/restic-fl-kunder.csv"
grep -q "$email" "$dir/restic-fl-kunder.csv" ||
	{ echo "bench: expected restic's file-level erasure to leave the CSV row" >&2; exit 1; }

# restic, record level by hand
rl="$dir/repo-restic-rl"
for id in $(restic -r "$rl" snapshots --json | python3 -c 'import json,sys; [print(s["id"], s["time"]) for s in json.load(sys.stdin)]' | tr ' ' '|'); do
	sid=${id%%|*} when=${id#*|}
	when=$(date -u -d "$when" '+%Y-%m-%d %H:%M:%S')
	rm -rf "$dir/restore"
	measure "restic-rl-restore-$sid" restic -r "$rl" restore "$sid" --target "$dir/restore"
	measure "restic-rl-edit-$sid" bash -c "$(declare -f remove_subject); email=$email; remove_subject '$dir/restore$data'"
	# Back up the edited tree under the original path, as the snapshot had it.
	measure "restic-rl-backup-$sid" bash -c "cd '$dir/restore' && restic -r '$rl' backup -q --host bench --time '$when' '.$data' >/dev/null && restic -r '$rl' forget '$sid' >/dev/null"
done
measure restic-rl-prune restic -r "$rl" prune --max-unused 0

# lethe on twice the unrelated data: once with everything doubled (her
# CSV row then sits in a CSV twice the size), once with only the files
# that do not hold her doubled.
# more NAME MAILS DOCS CSV: a week of the corpus so scaled, erased.
more() {
	local name=$1 d="$dir/data-$1"
	go run ./bench/corpus -dir "$d" -seed 1 -mails "$2" -docs-mb "$3" -csv-mb "$4"
	subject "$d"
	du -sb "$d" | cut -f1 >"$dir/$name.size"
	"$lethe" -r "$dir/repo-$name" init -q >/dev/null
	week "$d" "$dir/repo-$name"
	measure "$name" "$lethe" $(prof "$name") -r "$dir/repo-$name" --state-dir "$dir/state-$name" erase --email "$email" --reason "17(1)(a)"
}
more lethe2 $((corpus[1] * 2)) $((corpus[3] * 2)) $((corpus[5] * 2))
more lethe2o $((corpus[1] * 2)) $((corpus[3] * 2)) "${corpus[5]}"
size2=$(cat "$dir/lethe2.size") size2o=$(cat "$dir/lethe2o.size")

read -r lt lm <"$dir/lethe.time"
read -r l2t l2m <"$dir/lethe2.time"
read -r l2ot l2om <"$dir/lethe2o.time"
read -r flt flm < <(sum_time "$dir"/restic-fl-*.time)
read -r rlt rlm < <(sum_time "$dir"/restic-rl-*.time)
printf '\ncorpus: %s MB, 7 daily snapshots; the subject: a CSV row, 3 mails, a vCard, a calendar event\n\n' "$((size / 1000000))"
# RSS_MB is the peak of the steps' peaks; lethe_rss_ratio is lethe's peak
# over it (below 1: lethe needs less memory).
printf '%-34s %9s %9s %14s %16s\n' way seconds RSS_MB lethe_speedup lethe_rss_ratio
awk -v lt="$lt" -v lm="$lm" -v flt="$flt" -v flm="$flm" -v rlt="$rlt" -v rlm="$rlm" 'BEGIN {
	printf "%-34s %9.2f %9.1f %14s %16s\n", "lethe erase (record level)", lt, lm/1024, "1.00", "1.00"
	printf "%-34s %9.2f %9.1f %14.2f %16.2f\n", "restic rewrite+prune (file level)", flt, flm/1024, flt/lt, lm/flm
	printf "%-34s %9.2f %9.1f %14.2f %16.2f\n", "restic restore/edit/backup (record)", rlt, rlm/1024, rlt/lt, lm/rlm }'
printf '\nrestic file level (restic %s) leaves her CSV row in every snapshot (checked).\n' "$("$restic_fl" version | cut -d' ' -f2)"
printf 'restic record level: restic %s.\n' "$(restic version | cut -d' ' -f2)"
awk -v lt="$lt" -v l2t="$l2t" -v l2ot="$l2ot" -v s="$size" -v s2="$size2" -v s2o="$size2o" 'BEGIN {
	printf "lethe erase with %.1fx the data, her CSV as large as the others: %.2f s, ratio %.2f\n", s2/s, l2t, l2t/lt
	printf "lethe erase with %.1fx the data, her files unchanged:           %.2f s, ratio %.2f\n", s2o/s, l2ot, l2ot/lt }'
