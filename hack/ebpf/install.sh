#!/bin/sh
# Install what building the runtime sensor's BPF object needs (Debian bookworm).
set -eu
apt-get install -y --no-install-recommends clang llvm libbpf-dev linux-libc-dev iproute2
