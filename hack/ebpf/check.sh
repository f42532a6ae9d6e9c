#!/bin/sh
# Regenerate the runtime sensor's BPF object with Debian's clang and fail when
# the committed files differ: the committed object must be the source's.
# Needs: apt-get install -y clang llvm libbpf-dev (hack/ebpf/install.sh).
set -eu
cd "$(dirname "$0")/../.."
go generate ./internal/runtime/
if ! git diff --exit-code --stat -- internal/runtime/sensor_bpfel.go internal/runtime/sensor_bpfel.o; then
	echo "hack/ebpf/check.sh: the committed BPF object differs from what bpf/sensor.c builds to; run go generate ./internal/runtime/ and commit" >&2
	exit 1
fi
