#!/usr/bin/env bash
# Admission webhook load benchmark: a real registry (Debian's
# docker-registry), `palisade admission serve` as its own process, and the
# fixed-rate load generator, all on loopback. Prints p50/p90/p99 latency at
# each rate and the server's RSS. Usage: bench/admission/run.sh [SECONDS]
set -euo pipefail
cd "$(dirname "$0")/../.."
secs=${1:-20}
work=$(mktemp -d)
pids=()
cleanup() { for p in "${pids[@]}"; do kill "$p" 2>/dev/null || true; done; rm -rf "$work"; }
trap cleanup EXIT

free_port() { python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'; }

go build -o "$work/palisade-admission" ./cmd/palisade-admission
go build -o "$work/loadgen" ./bench/admission/loadgen

reg_port=$(free_port)
mkdir -p "$work/registry"
cat > "$work/registry.yml" <<YAML
version: 0.1
log: {level: error}
storage: {filesystem: {rootdirectory: $work/registry}}
http: {addr: 127.0.0.1:$reg_port}
YAML
/usr/bin/docker-registry serve "$work/registry.yml" >"$work/registry.log" 2>&1 &
pids+=($!)
for _ in $(seq 50); do curl -fs "http://127.0.0.1:$reg_port/v2/" >/dev/null && break; sleep 0.1; done

"$work/loadgen" prepare -registry "127.0.0.1:$reg_port" -dir "$work"

port=$(free_port)
GOMAXPROCS=${SERVER_GOMAXPROCS:-2} "$work/palisade-admission" --policy "$work/policy.yaml" --listen "127.0.0.1:$port" \
  --tls-cert-file "$work/tls.crt" --tls-key-file "$work/tls.key" --log-level warn 2>"$work/server.log" &
server=$!
pids+=($server)
for _ in $(seq 50); do curl -fsk "https://127.0.0.1:$port/readyz" >/dev/null && break; sleep 0.1; done

url="https://127.0.0.1:$port/validate"
# Warm the caches (digests, signatures) and connections.
"$work/loadgen" run -url "$url" -ca "$work/ca.crt" -body "$work/review.json" -rate 100 -duration 2s >/dev/null
for rate in 200 1000; do
  echo "rate $rate/s for ${secs}s:"
  "$work/loadgen" run -url "$url" -ca "$work/ca.crt" -body "$work/review.json" -rate "$rate" -duration "${secs}s"
  grep -E '^(VmRSS|VmHWM)' "/proc/$server/status" | tr -s ' ' | sed 's/^/  server /'
done
echo "cache and decision counters:"
curl -fsk "https://127.0.0.1:$port/metrics" | grep -E '^palisade_admission_(cache_requests_total|decisions_total)' | sed 's/^/  /'
if grep -q . "$work/server.log"; then echo "server log:"; tail -5 "$work/server.log"; fi
