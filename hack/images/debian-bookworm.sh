#!/bin/bash
# Builds the "real Debian image" of the image-scanning tests: a
# `debootstrap --variant=minbase bookworm` tree packed as an OCI layout with
# one gzip layer (hack/images/ocipack). The result is cached under
#   ${XDG_CACHE_HOME:-$HOME/.cache}/palisade/images/debian-bookworm
# and the script prints that path; a second run only prints it.
#
# Needs root (debootstrap), the debootstrap package (installed if missing)
# and the Debian mirror ($DEBIAN_MIRROR, default http://deb.debian.org/debian).
# Measured on a 2-core machine: see docs/images.md.
set -euo pipefail
cd "$(dirname "$0")/../.."
CACHE="${XDG_CACHE_HOME:-$HOME/.cache}/palisade/images"
OUT="$CACHE/debian-bookworm"
if [ -f "$OUT/index.json" ]; then
	echo "$OUT"
	exit 0
fi
if ! command -v debootstrap >/dev/null 2>&1 && [ ! -x /usr/sbin/debootstrap ]; then
	export DEBIAN_FRONTEND=noninteractive
	apt-get update -qq
	apt-get install -y -qq --no-install-recommends debootstrap >/dev/null
fi
mkdir -p "$CACHE"
WORK=$(mktemp -d "$CACHE/.build.XXXXXX")
trap 'rm -rf "$WORK"' EXIT
PATH="$PATH:/usr/sbin:/sbin" debootstrap --variant=minbase bookworm "$WORK/rootfs" "${DEBIAN_MIRROR:-http://deb.debian.org/debian}" >"$WORK/debootstrap.log" 2>&1 ||
	{ tail -20 "$WORK/debootstrap.log" >&2; exit 1; }
# Leave out what a container image does not ship: downloaded .debs, apt lists.
rm -rf "$WORK/rootfs/var/cache/apt/archives/"*.deb "$WORK/rootfs/var/lib/apt/lists/"*
go run ./hack/images/ocipack -platform "linux/$(dpkg --print-architecture)" -ref debian:bookworm "$WORK/rootfs" "$WORK/oci"
mv "$WORK/oci" "$OUT"
echo "$OUT"
