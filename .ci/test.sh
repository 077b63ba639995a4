#!/usr/bin/env bash
# The test command: installs what the tests need when it is missing
# (Debian's restic, staticcheck and the S3 test server at pinned versions),
# then runs gofmt, go vet, staticcheck and the race-enabled tests.
set -euo pipefail
cd "$(dirname "$0")/.."

STATICCHECK_VERSION=v0.8.2

as_root() {
	if [ "$(id -u)" = 0 ]; then "$@"; else sudo "$@"; fi
}

if ! command -v restic >/dev/null 2>&1; then
	echo "installing restic (Debian package)"
	export DEBIAN_FRONTEND=noninteractive
	as_root apt-get update -qq
	as_root apt-get install -y -qq restic >/dev/null
fi
restic version

tools="${XDG_CACHE_HOME:-$HOME/.cache}/lethe/tools"
mkdir -p "$tools"
staticcheck="$tools/staticcheck-$STATICCHECK_VERSION"
if [ ! -x "$staticcheck" ]; then
	echo "installing staticcheck $STATICCHECK_VERSION"
	GOBIN="$tools/tmp" go install "honnef.co/go/tools/cmd/staticcheck@$STATICCHECK_VERSION"
	mv "$tools/tmp/staticcheck" "$staticcheck"
fi

if [ -f backends/s3test/install.sh ]; then
	bash backends/s3test/install.sh
fi

unformatted=$(gofmt -l $(git ls-files '*.go' 2>/dev/null || find . -name '*.go'))
if [ -n "$unformatted" ]; then
	echo "not gofmt-formatted:" >&2
	echo "$unformatted" >&2
	exit 1
fi
go vet ./...
"$staticcheck" ./...
go test -race -timeout 75m ./...
