#!/usr/bin/env bash
# Runs Palisade's whole test suite, as the README's quick start says.
#
# Tests that need a live cluster run against a real etcd + kube-apiserver
# (internal/testenv). This script builds those binaries once (cached under
# ~/.cache/palisade, 8-15 minutes the first time, seconds afterwards) and
# makes their absence a failure rather than a skip.
#
# Usage: bash hack/test.sh [go test flags...]   e.g. bash hack/test.sh -run TestScan ./cmd/...
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."

PALISADE_KUBE_BIN_DIR=$(bash hack/kube/build.sh)
export PALISADE_KUBE_BIN_DIR
export PALISADE_REQUIRE_CONTROL_PLANE=1

pkgs=(./...)
args=()
for a in "$@"; do
	case "$a" in
	./*) pkgs=("$a") ;;
	*) args+=("$a") ;;
	esac
done
exec go test -count=1 -timeout 30m "${args[@]}" "${pkgs[@]}"
