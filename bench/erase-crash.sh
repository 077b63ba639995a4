#!/usr/bin/env bash
# A long SIGKILL campaign against lethe's erasure: kills `lethe erasures
# resume` at points spread over a run, TRIALS times (default 200), and
# after each kill resumes and checks with restic that the repository is
# clean, no snapshot is lost and the subject is gone.
#
#   bench/erase-crash.sh [TRIALS]
set -euo pipefail
cd "$(dirname "$0")/.."
command -v restic >/dev/null || { echo "bench: restic is not installed (apt-get install restic)" >&2; exit 1; }
trials=${1:-200}
LETHE_CRASH_TRIALS=$trials go test ./cmd/lethe -run '^TestEraseSurvivesSIGKILL$' -count=1 -v -timeout 0 |
	grep -E '^(--- |ok|FAIL|    erase_run_test.go:.*(killed|failed|resume))'
