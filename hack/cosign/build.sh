#!/usr/bin/env bash
# Builds the real cosign CLI that the supply-chain integration tests
# (internal/supplychain) run to sign and attest images, once per version, into
# a cache directory outside the repository.
#
# Usage:
#   bash hack/cosign/build.sh              build if needed; print the binary path on stdout
#   bash hack/cosign/build.sh --print-path only print the binary path (no build)
#   bash hack/cosign/build.sh --force      rebuild even if the binary is present
#
# Progress goes to stderr so that `cosign=$(bash hack/cosign/build.sh)` works.
#
# Environment:
#   PALISADE_COSIGN_DIR  target directory
#                        (default ${XDG_CACHE_HOME:-$HOME/.cache}/palisade/cosign/v2.6.5)
#
# Why from source: this environment reaches only the Go module proxy and
# Debian's packages; `go install` of the tagged module is the upstream-documented
# way to build cosign. It takes about 4 minutes on 2 cores.
set -euo pipefail

readonly COSIGN_VERSION=v2.6.5

bin_dir=${PALISADE_COSIGN_DIR:-${XDG_CACHE_HOME:-$HOME/.cache}/palisade/cosign/${COSIGN_VERSION}}
bin=$bin_dir/cosign

force=0
print_only=0
for arg in "$@"; do
	case "$arg" in
	--print-path) print_only=1 ;;
	--force) force=1 ;;
	-h | --help)
		sed -n '2,19p' "$0" | sed 's/^# \{0,1\}//'
		exit 0
		;;
	*)
		echo "build.sh: unknown argument: $arg (see --help)" >&2
		exit 2
		;;
	esac
done

if [[ $print_only == 1 ]]; then
	echo "$bin"
	exit 0
fi

log() { echo "hack/cosign/build.sh: $*" >&2; }

if ! command -v go >/dev/null 2>&1; then
	log "go is not on PATH (need Go >= 1.26; try PATH=/usr/local/go/bin:\$PATH)"
	exit 1
fi

# cosign_ok reports whether the cached binary exists and is the pinned
# version, so a cache left by another version of this script is rebuilt.
cosign_ok() {
	[[ -x $bin ]] && "$bin" version 2>/dev/null | grep -q "GitVersion:[[:space:]]*${COSIGN_VERSION}"
}

mkdir -p "$bin_dir"
# Serialise concurrent invocations: the second waits and finds the binary.
exec 9>"$bin_dir/.build.lock"
if command -v flock >/dev/null 2>&1; then
	flock 9
fi

if [[ $force == 0 ]] && cosign_ok; then
	log "up to date: cosign ${COSIGN_VERSION} at $bin"
	echo "$bin"
	exit 0
fi

export CGO_ENABLED=0 GOWORK=off GOFLAGS=-buildvcs=false
tmp=$(mktemp -d "$bin_dir/.build.XXXXXX")
trap 'rm -rf "$tmp"' EXIT
start=$(date +%s)
log "building github.com/sigstore/cosign/v2/cmd/cosign@${COSIGN_VERSION} (about 4 minutes)"
# The version variable is what `cosign version` prints; go install of a
# tagged module does not set it by itself.
ldflags="-s -w -X sigs.k8s.io/release-utils/version.gitVersion=${COSIGN_VERSION}"
if ! GOBIN=$tmp go install -trimpath -ldflags="$ldflags" "github.com/sigstore/cosign/v2/cmd/cosign@${COSIGN_VERSION}"; then
	log "FAILED to build cosign ${COSIGN_VERSION}"
	exit 1
fi
mv -f "$tmp/cosign" "$bin"
log "built cosign in $(($(date +%s) - start))s"
cosign_ok || {
	log "built cosign does not report ${COSIGN_VERSION}: $("$bin" version 2>&1 | grep -i gitversion)"
	exit 1
}
log "ready: $bin"
echo "$bin"
