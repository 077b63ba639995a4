#!/usr/bin/env bash
# What running an erasure again after a hold ended costs next to its
# first run: BenchmarkRerun (agent/erasure) runs both on fresh copies of
# a three-snapshot repository, COUNT times (default 7), taking turns in
# one process; this prints each median and the ratio again/first.
#
#   bench/rerun.sh [COUNT]
set -euo pipefail
cd "$(dirname "$0")/.."
count=${1:-7}
go test ./agent/erasure -run '^$' -bench '^BenchmarkRerun$' -benchtime 10x -count "$count" |
	awk '
	/^BenchmarkRerun\/first/ { f[nf++] = $3 }
	/^BenchmarkRerun\/again/ { a[na++] = $3 }
	function median(v, n,   i, j, t) {
		for (i = 0; i < n; i++) for (j = i + 1; j < n; j++) if (v[j] < v[i]) { t = v[i]; v[i] = v[j]; v[j] = t }
		return n % 2 ? v[int(n / 2)] : (v[n / 2 - 1] + v[n / 2]) / 2
	}
	END {
		if (nf == 0 || na == 0) { print "bench: no results" > "/dev/stderr"; exit 1 }
		mf = median(f, nf); ma = median(a, na)
		printf "first run: median %.1f ms of %d runs\n", mf / 1e6, nf
		printf "run again: median %.1f ms of %d runs\n", ma / 1e6, na
		printf "ratio again/first: %.2f\n", ma / mf
	}'
