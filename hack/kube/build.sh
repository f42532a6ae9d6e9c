#!/usr/bin/env bash
# Builds the real control-plane binaries (kube-apiserver, etcd) that
# internal/testenv runs for integration tests, once per version, into a cache
# directory outside the repository.
#
# Usage:
#   bash hack/kube/build.sh              build if needed; print the directory on stdout
#   bash hack/kube/build.sh --print-dir  only print the directory (no build)
#   bash hack/kube/build.sh --force      rebuild even if the binaries are present
#
# Progress goes to stderr so that `dir=$(bash hack/kube/build.sh)` works.
#
# Environment:
#   PALISADE_KUBE_BIN_DIR  target directory
#                          (default ${XDG_CACHE_HOME:-$HOME/.cache}/palisade/kube/v1.37.2)
#
# Why from source: upstream publishes no Go-installable kube-apiserver (its
# go.mod uses replace directives), and this environment can only reach the Go
# module proxy. See hack/kube/README.md.
set -euo pipefail

readonly KUBE_VERSION=v1.37.2
readonly ETCD_VERSION=3.6.16

script_dir=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
bin_dir=${PALISADE_KUBE_BIN_DIR:-${XDG_CACHE_HOME:-$HOME/.cache}/palisade/kube/${KUBE_VERSION}}

force=0
print_only=0
for arg in "$@"; do
	case "$arg" in
	--print-dir) print_only=1 ;;
	--force) force=1 ;;
	-h | --help)
		sed -n '2,18p' "$0" | sed 's/^# \{0,1\}//'
		exit 0
		;;
	*)
		echo "build.sh: unknown argument: $arg (see --help)" >&2
		exit 2
		;;
	esac
done

if [[ $print_only == 1 ]]; then
	echo "$bin_dir"
	exit 0
fi

log() { echo "hack/kube/build.sh: $*" >&2; }

if ! command -v go >/dev/null 2>&1; then
	log "go is not on PATH (need Go >= 1.26; try PATH=/usr/local/go/bin:\$PATH)"
	exit 1
fi

# apiserver_ok / etcd_ok report whether the cached binary exists and is the
# pinned version, so a cache left by an older script version is rebuilt.
apiserver_ok() {
	[[ -x $bin_dir/kube-apiserver ]] &&
		[[ $("$bin_dir/kube-apiserver" --version 2>/dev/null) == "Kubernetes ${KUBE_VERSION}" ]]
}
etcd_ok() {
	[[ -x $bin_dir/etcd ]] &&
		"$bin_dir/etcd" --version 2>/dev/null | grep -qx "etcd Version: ${ETCD_VERSION}"
}

mkdir -p "$bin_dir"

# Serialise concurrent invocations (two test jobs, or CI plus a developer):
# the second one waits and then finds the binaries ready.
exec 9>"$bin_dir/.build.lock"
if command -v flock >/dev/null 2>&1; then
	flock 9
fi

if [[ $force == 0 ]] && apiserver_ok && etcd_ok; then
	log "up to date: kube-apiserver ${KUBE_VERSION}, etcd ${ETCD_VERSION} in $bin_dir"
	echo "$bin_dir"
	exit 0
fi

# Static, reproducible-ish, small binaries. CGO off so a machine with only Go
# (no C toolchain) can build; upstream ships kube-apiserver the same way.
export CGO_ENABLED=0 GOWORK=off GOFLAGS=-buildvcs=false

# Remove this run's temp binaries however it ends (Ctrl-C included).
trap 'rm -f "$bin_dir"/.*.tmp.$$' EXIT

# build MODULE_DIR PACKAGE OUTPUT LDFLAGS: go build into a temp file and rename
# it, so an interrupted build never leaves a half-written binary that would
# pass the existence check.
build() {
	local mod=$1 pkg=$2 out=$3 ldflags=$4 start tmp
	start=$(date +%s)
	tmp="$bin_dir/.$(basename "$out").tmp.$$"
	log "building $pkg (module $mod) -> $out"
	if ! (cd "$mod" && go build -trimpath -ldflags="$ldflags" -o "$tmp" "$pkg"); then
		rm -f "$tmp"
		log "FAILED to build $pkg"
		exit 1
	fi
	mv -f "$tmp" "$out"
	log "built $(basename "$out") in $(($(date +%s) - start))s"
}

if [[ $force == 1 ]] || ! etcd_ok; then
	build "$script_dir/etcd" go.etcd.io/etcd/server/v3 "$bin_dir/etcd" "-s -w"
	etcd_ok || {
		log "built etcd does not report version ${ETCD_VERSION}: $("$bin_dir/etcd" --version 2>&1 | head -1)"
		exit 1
	}
fi

if [[ $force == 1 ]] || ! apiserver_ok; then
	# The version variables live in k8s.io/component-base/version/base.go; the
	# build date is the release's commit time so rebuilds are byte-identical.
	build_date=$(cd "$script_dir" && go list -m -f '{{with .Time}}{{.UTC.Format "2006-01-02T15:04:05Z"}}{{end}}' k8s.io/kubernetes)
	minor=${KUBE_VERSION#v*.}
	minor=${minor%%.*}
	major=${KUBE_VERSION#v}
	major=${major%%.*}
	vpkg=k8s.io/component-base/version
	ldflags="-s -w -X ${vpkg}.gitVersion=${KUBE_VERSION} -X ${vpkg}.gitMajor=${major} -X ${vpkg}.gitMinor=${minor}"
	ldflags+=" -X ${vpkg}.gitTreeState=clean -X ${vpkg}.buildDate=${build_date:-1970-01-01T00:00:00Z}"
	build "$script_dir" k8s.io/kubernetes/cmd/kube-apiserver "$bin_dir/kube-apiserver" "$ldflags"
	apiserver_ok || {
		log "built kube-apiserver does not report ${KUBE_VERSION}: $("$bin_dir/kube-apiserver" --version 2>&1 | head -1)"
		exit 1
	}
fi

log "ready: $bin_dir"
echo "$bin_dir"
