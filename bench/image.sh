#!/bin/bash
# Image-scanning benchmarks (bench/image_bench_test.go): the palisade binary
# scanning the debootstrap bookworm image with a warm database, a generated
# 1 GiB image, and importing the whole Go vulnerability database. Figures in
# bench/README.md ("Image scanning"). Usage: bench/image.sh [RUNS] (default 5).
set -euo pipefail
cd "$(dirname "$0")/.."
bash hack/ci/images.sh
export PALISADE_REQUIRE_IMAGES=1
echo "load average: $(cut -d' ' -f1-3 /proc/loadavg)"
go test ./bench -run '^$' -bench 'BenchmarkImage' -benchtime "${1:-5}x" -timeout 30m
