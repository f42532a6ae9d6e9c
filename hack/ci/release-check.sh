#!/usr/bin/env bash
# Palisade's own release, checked end to end against a local registry:
# build (reproducible, daemonless) -> push -> sign + SBOM + attestations
# (SLSA provenance v1, CycloneDX) -> verify ->
# build again (same digest) -> scan image --fail-on high, for both platforms,
# with palisade and the lean palisade-scan (the same report required).
#
# Needs: Go, Debian's docker-registry (hack/registry/install.sh) and
# ca-certificates. Environment (all optional):
#   PALISADE_REGISTRY_BIN   registry binary (default /usr/bin/docker-registry)
#   SOURCE_DATE_EPOCH       release timestamp (default: the last commit's time)
#   PALISADE_RELEASE_KEY    PEM signing key (default: a key generated for this run)
#   PALISADE_RELEASE_PUB    its public key (required with PALISADE_RELEASE_KEY)
#   PALISADE_VULNDB_DIR     OSV records to import for the scan (default: the
#                           pinned golang.org/x/vulndb module, via the Go proxy)
#   PALISADE_RELEASE_WORK   working directory (default: a temporary one, removed)
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/../.."

work=${PALISADE_RELEASE_WORK:-$(mktemp -d)}
[[ -n ${PALISADE_RELEASE_WORK:-} ]] || trap 'kill "${reg_pid:-}" 2>/dev/null || true; rm -rf "$work"' EXIT
mkdir -p "$work"

step() { echo "== release-check: $*"; }

# Release binaries are built with the newest patch release of the Go
# toolchain (served by the Go module proxy), not the development one: the
# scan below gates on every known vulnerability of the standard library,
# UNKNOWN severity included (Go 1.26.8 has GO-2026-6599, -6600, -6603 and
# -6809; 1.26.10 has none). Development and tests stay on go.mod's 1.26.8.
export GOTOOLCHAIN=${PALISADE_RELEASE_GOTOOLCHAIN:-go1.26.10}

step "palisade and palisade-scan binaries for this machine"
CGO_ENABLED=0 go build -tags kustomize_disable_go_plugin_support -o "$work/palisade" ./cmd/palisade
CGO_ENABLED=0 go build -tags kustomize_disable_go_plugin_support -o "$work/palisade-scan" ./cmd/palisade-scan
p="$work/palisade"

step "local registry"
reg_bin=${PALISADE_REGISTRY_BIN:-/usr/bin/docker-registry}
[[ -x $reg_bin ]] || { echo "no registry at $reg_bin: run hack/registry/install.sh" >&2; exit 2; }
port=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])' 2>/dev/null || echo 5123)
cat >"$work/registry.yml" <<YAML
version: 0.1
log: {level: warn, accesslog: {disabled: true}}
storage: {filesystem: {rootdirectory: $work/registry}}
http: {addr: 127.0.0.1:$port, secret: release-check}
YAML
"$reg_bin" serve "$work/registry.yml" >"$work/registry.log" 2>&1 &
reg_pid=$!
for _ in $(seq 1 50); do
	curl -fsS "http://127.0.0.1:$port/v2/" >/dev/null 2>&1 && break
	sleep 0.2
done
host=127.0.0.1:$port
repo=$host/palisade-sec/palisade

step "signing key"
if [[ -n ${PALISADE_RELEASE_KEY:-} ]]; then
	key=$PALISADE_RELEASE_KEY pub=${PALISADE_RELEASE_PUB:?PALISADE_RELEASE_PUB must name the public key}
else
	"$p" release keygen "$work" >/dev/null
	key=$work/cosign.key pub=$work/cosign.pub
fi

step "build, push, sign, attach SBOMs (deploy/ copy pinned)"
cp -r deploy "$work/deploy"
commit=$(git rev-parse HEAD 2>/dev/null || echo unknown)
ref=$("$p" release build --repo "$repo" --tag ci --key "$key" --insecure-registry \
	--out "$work/bin" --commit "$commit" --version "ci-$commit" --deploy-dir "$work/deploy" \
	--deploy-repo ghcr.io/palisade-sec/palisade)
digest=${ref#"$repo@"}
echo "pushed $ref"

step "verify signatures of the index and both images"
mapfile -t images < <(go run ./hack/release/digests "$ref")
"$p" release verify --repo "$repo" --key "$pub" --insecure-registry "$digest" "${images[@]}"

step "verify the same, the SLSA provenance and the SBOM attestations with 'palisade verify image' and the documented policy (docs/supply-chain.md)"
cat >"$work/verify-policy.yaml" <<YAML
apiVersion: palisade.io/v1alpha1
kind: ImageVerificationPolicy
metadata: {name: palisade-release}
spec:
  verifyImages:
  - name: palisade release
    images: ["$host/palisade-sec/*"]
    signers:
    - name: release key
      key: $pub
    attestations:
    - type: slsaprovenance1
      conditions:
      - predicate.buildDefinition.buildType == "https://github.com/palisade-sec/palisade/release/v1"
      - predicate.buildDefinition.externalParameters.source == "https://github.com/palisade-sec/palisade"
      - predicate.buildDefinition.resolvedDependencies.exists(d, d.digest.gitCommit == "$commit")
    - type: cyclonedx
YAML
"$p" verify image -q --policy "$work/verify-policy.yaml" --insecure-registry "$host" "$repo@$digest" "${images[@]/#/$repo@}"

# component_image NAME: builds ./cmd/NAME for amd64 and arm64, pushes,
# signs and verifies the image $host/palisade-sec/NAME and pins the
# released copy of deploy/ to it.
component_image() {
	local name=$1 repo=$host/palisade-sec/$1 ref
	ref=$("$p" release build --package "./cmd/$name" --repo "$repo" --tag ci --key "$key" --insecure-registry \
		--out "$work/$name-bin" --commit "$commit" --version "ci-$commit" --deploy-dir "$work/deploy" \
		--deploy-repo "ghcr.io/palisade-sec/$name")
	local images
	mapfile -t images < <(go run ./hack/release/digests "$ref")
	"$p" release verify --repo "$repo" --key "$pub" --insecure-registry "${ref#"$repo@"}" "${images[@]}"
	"$p" release check-deploy --strict --repo "ghcr.io/palisade-sec/$name" "$work/deploy"
	echo "pushed $ref"
}

step "agent image (cmd/palisade-agent) for amd64 and arm64: build, push, sign, verify, pin deploy/agent"
component_image palisade-agent

step "runtime sensor image (cmd/palisade-runtime, the runtime DaemonSet's) for amd64 and arm64: build, push, sign, verify, pin deploy/runtime"
component_image palisade-runtime

step "lean image scanner image (cmd/palisade-scan, for CI runners and edge hosts) for amd64 and arm64: build, push, sign, verify"
component_image palisade-scan

step "Helm chart (deploy/helm/palisade, pinned above): package, push, sign, verify"
chart_repo=$host/palisade-sec/charts/palisade
chart_ref=$("$p" release chart "$work/deploy/helm/palisade" --repo "$chart_repo" --version "0.0.0-ci" --key "$key" --insecure-registry)
"$p" release verify --repo "$chart_repo" --key "$pub" --insecure-registry "${chart_ref#"$chart_repo@"}"
echo "pushed $chart_ref"

step "reproducible: rebuild gives $digest"
again=$("$p" release build --repo "$repo" --out "$work/bin2" --commit "$commit" --version "ci-$commit" --push=false)
if [[ $again != "$digest" ]]; then
	echo "not reproducible: $again != $digest" >&2
	exit 1
fi

step "deploy/ references pinned (source: digest or placeholder; released copy: digest)"
"$p" release check-deploy deploy || echo "warning: deploy/ has unpinned references in the source (see above)"
"$p" release check-deploy --strict --repo ghcr.io/palisade-sec/palisade "$work/deploy"

step "vulnerability database"
cache=$work/cache
if [[ -n ${PALISADE_VULNDB_DIR:-} ]]; then
	"$p" db import "$PALISADE_VULNDB_DIR" --name osv --cache-dir "$cache"
else
	mod=$(grep -o 'golang.org/x/vulndb@[^"]*' internal/vulndb/vulndbtest/godb.go | head -1)
	dir=$(cd "$work" && GOFLAGS=-mod=mod go mod download -json "$mod" | python3 -c 'import json,sys; print(json.load(sys.stdin)["Dir"])')
	"$p" db import "$dir/data/osv" --name go-vulndb --cache-dir "$cache"
fi

step "scan image --fail-on high, with palisade and with palisade-scan (the same report)"
for platform in linux/amd64 linux/arm64; do
	"$p" scan image "$ref" --platform "$platform" --insecure-registry "$host" --cache-dir "$cache" --fail-on high 2>&1 ||
		{ echo "scan image $platform failed (exit $?)" >&2; exit 1; }
	args=("$ref" --platform "$platform" --insecure-registry "$host" --cache-dir "$cache" --fail-on none -o json)
	"$p" scan image "${args[@]}" >"$work/scan-palisade.json"
	"$work/palisade-scan" image "${args[@]}" >"$work/scan-palisade-scan.json"
	cmp "$work/scan-palisade.json" "$work/scan-palisade-scan.json" ||
		{ echo "palisade-scan image $platform reports differently from palisade scan image" >&2; exit 1; }
done
step "ok: $ref"
