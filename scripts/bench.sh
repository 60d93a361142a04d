#!/usr/bin/env bash
# `make bench`: runs each package's benchmarks and prints readable tables.
# Each section is a function that runs `go test -bench` and formats it;
# add a section by writing one and listing it in SECTIONS.
#
#   BENCH_SCALE=small ./scripts/bench.sh   # 20k-entry ledgers (quick check)
#   ./scripts/bench.sh                     # 100k export, 100k+1M verify/scan, 1M open/RSS (the issue's sizes)
set -euo pipefail
cd "$(dirname "$0")/.."

if [[ "${BENCH_SCALE:-full}" == small ]]; then
  export BOTWARDEN_BENCH_ENTRIES=20000 BOTWARDEN_BENCH_OPEN_ENTRIES=50000
else
  export BOTWARDEN_BENCH_ENTRIES="${BOTWARDEN_BENCH_ENTRIES:-100000}"
  export BOTWARDEN_BENCH_OPEN_ENTRIES="${BOTWARDEN_BENCH_OPEN_ENTRIES:-1000000}"
fi
BENCHTIME="${BENCHTIME:-2s}"

machine() {
  echo "date: $(date -u +%Y-%m-%dT%H:%MZ)"
  echo "machine: $(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2 | sed 's/^ *//'), nproc $(nproc), $(free -h | awk '/Mem:/{print $2}') RAM, $(go version | awk '{print $3}')"
  echo "load average: $(cut -d' ' -f1-3 /proc/loadavg) (other work on the machine skews wall-clock figures; cpu-s/M does not depend on it)"
}

# metric NAME UNIT FILE: the value reported for benchmark NAME in unit UNIT.
metric() {
  awk -v name="$1" -v unit="$2" '$1 ~ "^"name"(-[0-9]+)?$" { for (i = 2; i < NF; i++) if ($(i+1) == unit) { print $i; exit } }' "$3"
}

ratio() { awk -v a="$1" -v b="$2" 'BEGIN { if (b > 0) printf "%.2fx", a / b; else print "-" }'; }

section_ledger() {
  local out; out=$(mktemp)
  local small=$BOTWARDEN_BENCH_ENTRIES big=$BOTWARDEN_BENCH_OPEN_ENTRIES
  echo "== ledger (export over ${small} entries; verify/scan over ${small} and ${big}; open and memory at ${big})"
  go test -run '^$' -bench 'BenchmarkBadgerBaseline|BenchmarkAppend|BenchmarkVerify|BenchmarkScan|BenchmarkExport|BenchmarkOpen|BenchmarkServiceRSS' \
    -benchtime "$BENCHTIME" -timeout 60m ./ledger/ | tee "$out" | grep -E '^(Benchmark|ok|FAIL|---)' >&2 || true
  local base_seq base_64
  base_seq=$(metric 'BenchmarkBadgerBaseline/sequential' entries/s "$out")
  base_64=$(metric 'BenchmarkBadgerBaseline/writers=64' entries/s "$out")
  printf '\n%-40s %14s %14s %14s   %s\n' "benchmark" "value" "unit" "vs raw Badger" "target"
  row() { # label bench unit baseline target
    local v; v=$(metric "$2" "$3" "$out")
    printf '%-40s %14s %14s %14s   %s\n' "$1" "${v:--}" "$3" "$( [[ -n "$4" && -n "$v" ]] && ratio "$v" "$4" || echo -)" "$5"
  }
  row "raw Badger, 1 synced tx/value"        'BenchmarkBadgerBaseline/sequential' entries/s "" "(baseline)"
  row "raw Badger, 64 writers"               'BenchmarkBadgerBaseline/writers=64' entries/s "" "(baseline)"
  row "append, sequential"                   'BenchmarkAppend/sequential'  entries/s "$base_seq" ">= 0.90x raw, >= 1800/s"
  row "append, 1 writer"                     'BenchmarkAppend/writers=1'   entries/s "$base_seq" ""
  row "append, 8 writers"                    'BenchmarkAppend/writers=8'   entries/s "$base_seq" ""
  row "append, 64 writers"                   'BenchmarkAppend/writers=64'  entries/s "$base_64"  ">= 30000/s"
  row "append, 64 writers"                   'BenchmarkAppend/writers=64'  entries/commit "" ""
  row "verify (stored, ${small})"            "BenchmarkVerify/entries=${small}" entries/s "" ""
  row "verify (stored, ${small})"            "BenchmarkVerify/entries=${small}" MB/s "" ""
  row "verify (stored, ${big})"              "BenchmarkVerify/entries=${big}" entries/s "" ">= 1000000/s"
  row "verify (stored, ${big})"              "BenchmarkVerify/entries=${big}" MB/s "" ""
  row "verify (stored, ${big})"              "BenchmarkVerify/entries=${big}" cpu-s/M "" "<= 2 on 2 idle cores"
  row "scan (core replay, ${big})"           "BenchmarkScan/entries=${big}" entries/s "" ""
  row "scan (core replay, ${big})"           "BenchmarkScan/entries=${big}" cpu-s/M "" ""
  row "export (${small})"                    'BenchmarkExport'             entries/s "" ""
  row "verify export offline (${small})"     'BenchmarkVerifyExport'       entries/s "" ">= 300000/s"
  row "verify export offline (${small})"     'BenchmarkVerifyExport'       MB/s "" ""
  row "open + recovery (${big})"             'BenchmarkOpen'               ms/open   "" "<= 1000 ms at 1M"
  row "service RSS after scan+verify (${big})" 'BenchmarkServiceRSS/steady' MiB-rss   "" "<= 64 MiB"
  row "  of which anonymous"                 'BenchmarkServiceRSS/steady'  MiB-anon  "" ""
  row "  of which table file pages"          'BenchmarkServiceRSS/steady'  MiB-file  "" ""
  row "  peak (VmHWM, during verify)"        'BenchmarkServiceRSS/steady'  MiB-peak  "" ""
  row "RSS after a 200k burst, 64 writers"   'BenchmarkServiceRSS/burst'   MiB-rss   "" ""
  row "  of which anonymous"                 'BenchmarkServiceRSS/burst'   MiB-anon  "" ""
  rm -f "$out"
}

SECTIONS=(section_ledger)

machine
for s in "${SECTIONS[@]}"; do "$s"; echo; done
echo "load average at the end: $(cut -d' ' -f1-3 /proc/loadavg)"
