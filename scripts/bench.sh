#!/usr/bin/env bash
# `make bench`: runs each package's benchmarks and prints readable tables.
# Each section is a function that runs `go test -bench` and formats it;
# add a section by writing one and listing it in SECTIONS.
#
#   BENCH_SCALE=small ./scripts/bench.sh   # 20k-entry ledgers (quick check)
#   ./scripts/bench.sh                     # 100k verify/export, 1M open (the issue's sizes)
set -euo pipefail
cd "$(dirname "$0")/.."

if [[ "${BENCH_SCALE:-full}" == small ]]; then
  export BOTWARDEN_BENCH_ENTRIES=20000 BOTWARDEN_BENCH_OPEN_ENTRIES=20000
else
  export BOTWARDEN_BENCH_ENTRIES="${BOTWARDEN_BENCH_ENTRIES:-100000}"
  export BOTWARDEN_BENCH_OPEN_ENTRIES="${BOTWARDEN_BENCH_OPEN_ENTRIES:-1000000}"
fi
BENCHTIME="${BENCHTIME:-2s}"

machine() {
  echo "machine: $(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2 | sed 's/^ *//'), $(nproc) cores, $(free -g | awk '/Mem:/{print $2}') GiB RAM, $(go version | awk '{print $3}')"
}

# metric NAME UNIT FILE: the value reported for benchmark NAME in unit UNIT.
metric() {
  awk -v name="$1" -v unit="$2" '$1 ~ "^"name"(-[0-9]+)?$" { for (i = 2; i < NF; i++) if ($(i+1) == unit) { print $i; exit } }' "$3"
}

ratio() { awk -v a="$1" -v b="$2" 'BEGIN { if (b > 0) printf "%.2fx", a / b; else print "-" }'; }

section_ledger() {
  local out; out=$(mktemp)
  echo "== ledger (verify/export over ${BOTWARDEN_BENCH_ENTRIES} entries, open of ${BOTWARDEN_BENCH_OPEN_ENTRIES})"
  go test -run '^$' -bench 'BenchmarkBadgerBaseline|BenchmarkAppend|BenchmarkVerify|BenchmarkExport|BenchmarkOpen' \
    -benchtime "$BENCHTIME" -timeout 60m ./ledger/ | tee "$out" | grep -E '^(Benchmark|ok|FAIL)' >&2 || true
  local base_seq base_64
  base_seq=$(metric 'BenchmarkBadgerBaseline/sequential' entries/s "$out")
  base_64=$(metric 'BenchmarkBadgerBaseline/writers=64' entries/s "$out")
  printf '\n%-36s %14s %12s %16s\n' "benchmark" "value" "unit" "vs raw Badger"
  row() { # label bench unit baseline target
    local v; v=$(metric "$2" "$3" "$out")
    printf '%-36s %14s %12s %16s   target %s\n' "$1" "${v:--}" "$3" "$( [[ -n "$4" && -n "$v" ]] && ratio "$v" "$4" || echo -)" "$5"
  }
  row "raw Badger, 1 synced tx/value"      'BenchmarkBadgerBaseline/sequential' entries/s "" "(baseline)"
  row "raw Badger, 64 writers"             'BenchmarkBadgerBaseline/writers=64' entries/s "" "(baseline)"
  row "append, sequential"                 'BenchmarkAppend/sequential'  entries/s "$base_seq" ">= 0.90x raw, >= 1800/s"
  row "append, 1 writer"                   'BenchmarkAppend/writers=1'   entries/s "$base_seq" ""
  row "append, 8 writers"                  'BenchmarkAppend/writers=8'   entries/s "$base_seq" ""
  row "append, 64 writers"                 'BenchmarkAppend/writers=64'  entries/s "$base_64"  ">= 30000/s"
  row "verify (stored ledger)"             'BenchmarkVerify'             entries/s "" ">= 1000000/s"
  row "verify (stored ledger)"             'BenchmarkVerify'             MB/s      "" ""
  row "export"                             'BenchmarkExport'             entries/s "" ""
  row "verify export offline"              'BenchmarkVerifyExport'       entries/s "" ">= 300000/s"
  row "open + recovery"                    'BenchmarkOpen'               ms/open   "" "<= 1000 ms at 1M"
  rm -f "$out"
}

SECTIONS=(section_ledger)

machine
for s in "${SECTIONS[@]}"; do "$s"; echo; done
