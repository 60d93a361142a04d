#!/usr/bin/env bash
# `make bench-api-wrk`: POST /v1/commands (status) against the real
# `botwarden serve` from wrk, an out-of-process load generator, at 64
# connections. The Go benchmark (BenchmarkPostCommands) runs its clients
# in the server's process; this one leaves the server the CPU a remote
# client would.
#
#   DURATION=4s RUNS=3 CONNECTIONS=64 ./scripts/bench-api-wrk.sh
set -euo pipefail
cd "$(dirname "$0")/.."

command -v wrk >/dev/null || { echo "wrk is not installed (Debian: apt-get install wrk)" >&2; exit 1; }
DURATION="${DURATION:-4s}" RUNS="${RUNS:-3}" CONNECTIONS="${CONNECTIONS:-64}" PORT="${PORT:-18080}"

go build -o bin/botwarden ./cmd/botwarden
work=$(mktemp -d)
pid=
cleanup() {
  [[ -n "$pid" ]] && kill "$pid" 2>/dev/null && wait "$pid" 2>/dev/null || true
  rm -rf "$work"
}
trap cleanup EXIT

# The demo service, its rate limit lifted for the benchmark's one actor.
cat >"$work/config.yaml" <<EOF
environment: dev
data_dir: $work/data
listen: {http: 127.0.0.1:$PORT, admin: 127.0.0.1:0, playground: 127.0.0.1:0}
policy_file: embedded:demo
bots: [{id: alpha, group: majors, driver: sim}]
demo: {safety_feed: true}
api: {rate_per_actor: 1000000000, burst: 1000000000}
EOF
token=$(bin/botwarden token create --data "$work/data" --actor U0OPERATOR 2>/dev/null | grep -o 'bw_[A-Za-z0-9_-]*' | head -1)
bin/botwarden serve --config "$work/config.yaml" >"$work/serve.log" 2>&1 &
pid=$!
for _ in $(seq 100); do curl -sf "http://127.0.0.1:$PORT/readyz" >/dev/null && break; sleep 0.1; done

# Every request is a new command: a fresh Idempotency-Key each time, made
# of the run, the wrk thread and a counter (a key repeated within or across
# runs would be answered as a duplicate, a different and cheaper path; the
# check at the end refuses any).
cat >"$work/post.lua" <<'EOF'
local next_id = 0
setup = function(thread) thread:set("id", next_id); next_id = next_id + 1 end
local prefix, n = "", 0
init = function(args) prefix = "wrk-" .. args[1] .. "-" .. id .. "-" end
request = function()
  n = n + 1
  wrk.headers["Idempotency-Key"] = prefix .. n
  return wrk.format("POST", "/v1/commands", nil, '{"target":"alpha","op":"status"}')
end
done = function(summary, latency, requests)
  io.write(string.format("status/s %.0f  p50 %.2f ms  p90 %.2f ms  p99 %.2f ms  p99.9 %.2f ms  errors %d\n",
    summary.requests / summary.duration * 1e6, latency:percentile(50) / 1000, latency:percentile(90) / 1000,
    latency:percentile(99) / 1000, latency:percentile(99.9) / 1000,
    summary.errors.status + summary.errors.connect + summary.errors.read + summary.errors.write + summary.errors.timeout))
end
EOF
echo "date: $(date -u +%Y-%m-%dT%H:%MZ); $(nproc) cores; load average $(cut -d' ' -f1-3 /proc/loadavg)"
for run in $(seq "$RUNS"); do
  wrk -t2 -c"$CONNECTIONS" -d"$DURATION" -s "$work/post.lua" \
    -H "Authorization: Bearer $token" -H "Content-Type: application/json" "http://127.0.0.1:$PORT" -- "$$-$run" | tail -1
done
# wrk counts any non-2xx answer as an error; a status must also be applied.
curl -sf -X POST -H "Authorization: Bearer $token" -H "Content-Type: application/json" \
  -H "Idempotency-Key: wrk-check-$$" -d '{"target":"alpha","op":"status"}' \
  "http://127.0.0.1:$PORT/v1/commands" | grep -q '"status":"applied"' || { echo "a status was not applied" >&2; exit 1; }
# Every request was a new command: none was answered as a duplicate.
dups=$(curl -sf "http://127.0.0.1:$PORT/metrics" | awk '/^botwarden_commands_total\{/ && /outcome="duplicate"/ {s += $NF} END {print s + 0}')
[[ "$dups" == 0 ]] || { echo "$dups requests were answered as duplicates: the keys repeat" >&2; exit 1; }
