#!/bin/bash
# Builds Trivy and its database builder (trivy-db) from the Go module proxy
# into ${PALISADE_TRIVY_DIR:-~/.cache/palisade/trivy}, once, then runs
# BenchmarkImageScanBookwormVsTrivy (bench/trivy_bench_test.go): Palisade
# (`palisade scan image` and the lean `palisade-scan image`) and Trivy on the
# bookworm image with the same offline data, alternating runs. Figures in
# bench/README.md. Usage: bench/trivy.sh [RUNS] (default 5).
# The Trivy build takes 10-30 minutes of CPU the first time; it runs at nice 10.
set -euo pipefail
cd "$(dirname "$0")/.."
TRIVY_VERSION=v0.74.0
TRIVY_DB_VERSION=v0.0.0-20260813095258-0e0340a01b57 # the trivy-db that Trivy v0.74.0 requires
dir=${PALISADE_TRIVY_DIR:-$HOME/.cache/palisade/trivy}
mkdir -p "$dir"
build() {
	[ -x "$dir/$1" ] && return
	# Trivy builds with the jsonv2 experiment (as issue #19 notes).
	(cd "$dir" && GOBIN=$dir GOEXPERIMENT=jsonv2 CGO_ENABLED=0 nice -n 10 go install "$2")
}
build trivy "github.com/aquasecurity/trivy/cmd/trivy@$TRIVY_VERSION"
build trivy-db "github.com/aquasecurity/trivy-db/cmd/trivy-db@$TRIVY_DB_VERSION"
bash hack/ci/images.sh
export PALISADE_REQUIRE_IMAGES=1 PALISADE_REQUIRE_TRIVY=1 PALISADE_TRIVY_DIR=$dir
echo "load average: $(cut -d' ' -f1-3 /proc/loadavg)"
go test ./bench -run '^$' -bench 'BenchmarkImageScanBookwormVsTrivy' -benchtime "${1:-5}x" -timeout 60m
echo "load average: $(cut -d' ' -f1-3 /proc/loadavg)"
