#!/usr/bin/env bash
# The test command: installs what the tests need when it is missing
# (Debian's packages, staticcheck and the S3 test server at pinned
# versions), then runs gofmt, go vet, staticcheck, the systemd unit's
# checks and the race-enabled tests.
set -euo pipefail
cd "$(dirname "$0")/.."

STATICCHECK_VERSION=v0.8.2

as_root() {
	if [ "$(id -u)" = 0 ]; then "$@"; else sudo "$@"; fi
}

# Building the S3 test server takes minutes on a new machine: it runs
# while the other tools are installed and the code is checked.
scratch=$(mktemp -d)
bash backends/s3test/install.sh >"$scratch/minio.log" 2>&1 &
minio_pid=$!
trap 'pkill -P "$minio_pid" 2>/dev/null || true; kill "$minio_pid" 2>/dev/null || true; rm -rf "$scratch"' EXIT

# The Debian packages the tests use, installed in one go where missing:
# restic (the peer implementation), chromium (the HTML receipt is checked
# in a real headless browser), sqlite3 (its .dump checks redacted
# databases), PostgreSQL (the agent's command source dumps a real server,
# started by the test on a private socket directory and port) and systemd
# (systemd-analyze checks the unit).
pg_bin() { ls -d /usr/lib/postgresql/*/bin 2>/dev/null | sort -V | tail -n 1 || true; }
missing=()
command -v restic >/dev/null 2>&1 || missing+=(restic)
command -v chromium >/dev/null 2>&1 || missing+=(chromium)
command -v sqlite3 >/dev/null 2>&1 || missing+=(sqlite3)
if ! command -v psql >/dev/null 2>&1 || ! command -v pg_dump >/dev/null 2>&1 ||
	{ ! command -v initdb >/dev/null 2>&1 && [ ! -x "$(pg_bin)/initdb" ]; }; then
	missing+=(postgresql)
fi
command -v systemd-analyze >/dev/null 2>&1 || missing+=(systemd)
if [ ${#missing[@]} -gt 0 ]; then
	echo "installing Debian packages: ${missing[*]}"
	export DEBIAN_FRONTEND=noninteractive
	as_root apt-get update -qq
	as_root apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
fi
# Debian keeps initdb and pg_ctl off PATH; the test finds them there too.
if ! command -v initdb >/dev/null 2>&1; then
	export PATH="$PATH:$(pg_bin)"
fi
restic version
sqlite3 --version
psql --version

tools="${XDG_CACHE_HOME:-$HOME/.cache}/lethe/tools"
mkdir -p "$tools"
staticcheck="$tools/staticcheck-$STATICCHECK_VERSION"
if [ ! -x "$staticcheck" ]; then
	echo "installing staticcheck $STATICCHECK_VERSION"
	GOBIN="$tools/tmp" go install "honnef.co/go/tools/cmd/staticcheck@$STATICCHECK_VERSION"
	mv "$tools/tmp/staticcheck" "$staticcheck"
fi

unformatted=$(gofmt -l $(git ls-files '*.go' 2>/dev/null || find . -name '*.go'))
if [ -n "$unformatted" ]; then
	echo "not gofmt-formatted:" >&2
	echo "$unformatted" >&2
	exit 1
fi

# verify also checks that ExecStart's program exists, and lethe is not
# installed here: check a copy of the unit whose ExecStart runs a lethe
# built for the check, the unit's only change.
unit_dir="$scratch/unit"
mkdir "$unit_dir"
go build -o "$unit_dir/lethe" ./cmd/lethe
sed "s|^ExecStart=/usr/local/bin/lethe |ExecStart=$unit_dir/lethe |" configs/lethe.service >"$unit_dir/lethe.service"
if cmp -s configs/lethe.service "$unit_dir/lethe.service"; then
	echo "configs/lethe.service: ExecStart does not run /usr/local/bin/lethe" >&2
	exit 1
fi
# verify exits 0 on a key it does not know, so a mistyped directive
# fails here by what it prints about the unit.
verify_out=$(systemd-analyze verify "$unit_dir/lethe.service" 2>&1) || {
	echo "$verify_out" >&2
	exit 1
}
if grep -q 'lethe\.service' <<<"$verify_out"; then
	echo "$verify_out" >&2
	exit 1
fi
# The hardening must keep the exposure below 2.0 ("OK"); the threshold
# is in tenths.
systemd-analyze security --offline=true --threshold=19 "$unit_dir/lethe.service" | tail -n 1

go vet ./...
"$staticcheck" ./...
if ! wait "$minio_pid"; then
	cat "$scratch/minio.log" >&2
	echo "building the S3 test server failed" >&2
	exit 1
fi
cat "$scratch/minio.log"

go test -race -timeout 75m ./...
