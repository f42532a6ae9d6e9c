#!/bin/sh
# Installs the OCI registry that internal/testregistry starts for tests:
# Debian's docker-registry package (CNCF distribution 2.8, /usr/bin/docker-registry).
# Idempotent: does nothing when the binary is already there. Needs root
# (or sudo) and the Debian mirror.
set -eu
if [ -x /usr/bin/docker-registry ]; then
	exit 0
fi
SUDO=""
if [ "$(id -u)" -ne 0 ]; then SUDO="sudo"; fi
export DEBIAN_FRONTEND=noninteractive
$SUDO apt-get update -qq
$SUDO apt-get install -y -qq --no-install-recommends docker-registry >/dev/null
# The package enables a system service on port 5000; tests start their own.
if command -v systemctl >/dev/null 2>&1 && systemctl is-active --quiet docker-registry 2>/dev/null; then
	$SUDO systemctl disable --now docker-registry >/dev/null 2>&1 || true
fi
/usr/bin/docker-registry --version
