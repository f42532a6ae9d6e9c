#!/bin/sh
# Installs Chromium from Debian's packages for the hub dashboard's browser
# test (internal/hub/dashboard_chromium_test.go drives /usr/bin/chromium
# headless over the DevTools protocol; chromium-driver is installed too for
# tools that want WebDriver). Fonts come with the package's dependencies.
# Idempotent: does nothing when /usr/bin/chromium is already there. Needs
# root (or sudo) and the Debian mirror; no browser is downloaded from
# anywhere else. Prints the browser's path.
#
# The test skips without Chromium unless PALISADE_REQUIRE_CHROMIUM=1 (CI
# sets it), and then fails.
set -eu
if [ -x /usr/bin/chromium ] && [ -x /usr/bin/chromedriver ]; then
	echo /usr/bin/chromium
	exit 0
fi
SUDO=""
if [ "$(id -u)" -ne 0 ]; then SUDO="sudo"; fi
export DEBIAN_FRONTEND=noninteractive
$SUDO apt-get update -qq
$SUDO apt-get install -y -qq --no-install-recommends chromium chromium-driver fonts-dejavu-core >/dev/null
/usr/bin/chromium --version >&2
echo /usr/bin/chromium
