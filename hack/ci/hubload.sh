#!/usr/bin/env bash
# The hub's fleet load suite at a small scale (issue #17), for .ci/run:
# bench/cmd/hubload starts `palisade hub serve` as its own process, enrols
# 100 agents through the CLI's bootstrap tokens and the enrolment API, and
# has them report (deltas, image sets, heartbeats; gzip over mutual TLS)
# every 10 s for 30 s while a dashboard session reads pages, once on
# SQLite and once on durable PostgreSQL (hack/postgres/install.sh first).
# It fails when a report is lost, applied twice or refused, or on any
# error; it prints its latency and memory figures without asserting them
# (CI machines vary; the figures taken by hand are in bench/hub/README.md).
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/../.."
out=$(mktemp -d)
trap 'rm -rf "$out"' EXIT
go build -o "$out/palisade" ./cmd/palisade
go build -o "$out/hubload" ./bench/cmd/hubload
for backend in ${PALISADE_HUBLOAD_BACKENDS:-sqlite postgres}; do
	echo "-- hubload: $backend, 100 clusters, 30 s"
	"$out/hubload" --palisade "$out/palisade" --backend "$backend" --mode fleet \
		--clusters 100 --pods 20 --seed-rate 50 --duration 30s --interval 10s --heartbeat 5s
done
