#!/bin/sh
# Installs PostgreSQL from Debian's packages for the hub's storage tests
# (internal/hub/pgtest starts its own server from /usr/lib/postgresql/*/bin
# in a temporary directory; the system service is not used).
# Idempotent: does nothing when initdb is already there. Needs root (or
# sudo) and the Debian mirror.
set -eu
if ls /usr/lib/postgresql/*/bin/initdb >/dev/null 2>&1; then
	ls -d /usr/lib/postgresql/*/bin | tail -n 1
	exit 0
fi
SUDO=""
if [ "$(id -u)" -ne 0 ]; then SUDO="sudo"; fi
export DEBIAN_FRONTEND=noninteractive
$SUDO apt-get update -qq
$SUDO apt-get install -y -qq --no-install-recommends postgresql >/dev/null
# The package may start a cluster on 5432; tests start their own on free ports.
if command -v systemctl >/dev/null 2>&1 && systemctl is-active --quiet postgresql 2>/dev/null; then
	$SUDO systemctl disable --now postgresql >/dev/null 2>&1 || true
fi
ls -d /usr/lib/postgresql/*/bin | tail -n 1
