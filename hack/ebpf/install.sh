#!/bin/sh
# Install what building the runtime sensor's BPF object needs (Debian bookworm).
set -eu
apt-get install -y --no-install-recommends clang llvm libbpf-dev linux-libc-dev iproute2
# The sensor attaches tracepoints through tracefs. Most hosts mount it at
# boot; some fresh machines mount neither tracefs nor debugfs, and the
# sensor then reports itself degraded (which the runtime tests fail on).
if ! grep -q " /sys/kernel/tracing tracefs " /proc/mounts && [ -d /sys/kernel/tracing ]; then
	mount -t tracefs nodev /sys/kernel/tracing
fi
