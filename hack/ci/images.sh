#!/bin/bash
# Installs and builds what the image-scanning tests need, idempotently, and
# prints how long each step took:
#   - Debian's docker-registry (hack/registry/install.sh), which
#     internal/testregistry starts on 127.0.0.1 for the registry tests;
#   - the debootstrap bookworm image (hack/images/debian-bookworm.sh),
#     cached in ${XDG_CACHE_HOME:-$HOME/.cache}/palisade/images/debian-bookworm.
# Second runs only check (a few milliseconds). Needs root and the Debian mirror
# on the first run. CI then sets PALISADE_REQUIRE_REGISTRY=1 and
# PALISADE_REQUIRE_IMAGES=1, so that a missing part fails the tests instead
# of skipping them.
set -euo pipefail
cd "$(dirname "$0")/../.."
step() {
	local name=$1
	shift
	local start end
	start=$(date +%s.%N)
	"$@"
	end=$(date +%s.%N)
	printf 'hack/ci/images.sh: %s: %.1f s\n' "$name" "$(echo "$end - $start" | bc 2>/dev/null || awk "BEGIN{print $end - $start}")"
}
step "docker-registry (hack/registry/install.sh)" sh hack/registry/install.sh
step "debootstrap bookworm image (hack/images/debian-bookworm.sh)" bash hack/images/debian-bookworm.sh
