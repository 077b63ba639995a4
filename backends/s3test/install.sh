#!/bin/sh
# Installs the S3 server the S3 tests run against (MinIO, pinned), unless a
# cached build is already there. Prints the binary's path.
#
# The binary is cached under ${XDG_CACHE_HOME:-$HOME/.cache}/lethe/tools so
# later runs reuse it; the first build takes several minutes.
set -eu

MINIO_MODULE=github.com/minio/minio
# MinIO publishes no semver tags; this pseudo-version is the pinned commit.
MINIO_VERSION=v0.0.0-20260212201848-7aac2a2c5b7c

cache="${XDG_CACHE_HOME:-${HOME}/.cache}/lethe/tools/minio-${MINIO_VERSION}"
bin="${cache}/minio"

if [ -x "${bin}" ]; then
	echo "${bin}"
	exit 0
fi

tmp="${cache}.tmp.$$"
rm -rf "${tmp}"
mkdir -p "${tmp}"
trap 'rm -rf "${tmp}"' EXIT

echo "building ${MINIO_MODULE}@${MINIO_VERSION} (takes a few minutes)..." >&2
# GOTOOLCHAIN=local: build with the Go already installed, never fetch one.
CGO_ENABLED=0 GOTOOLCHAIN=local GOBIN="${tmp}" GOFLAGS=-trimpath \
	go install "${MINIO_MODULE}@${MINIO_VERSION}"

mkdir -p "${cache}"
mv "${tmp}/minio" "${bin}.new"
mv "${bin}.new" "${bin}"
echo "${bin}"
