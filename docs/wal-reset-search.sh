#!/bin/bash
# The unassisted search for the WAL-reset bug at shm granularity (docs/wal-reset-window.md,
# "Searching for it unassisted"). Exploration seed E runs the lockstep seeds E*1000, E*1000+1,
# ... of scenarios/wal-reset-search-shm.toml on one SQLite release until the first FAIL or
# CAP runs, and appends one line per run to OUT/e$E/log (exploration seed, run index, seed,
# seconds, seconds since the start, steps, WAL-header writes, checkpoint xUnfetch points,
# the verdict line). A WAL restart writes a new WAL header, so WAL-header writes minus the
# first one count the restarts: the bug needs one inside a checkpoint's xUnfetch pause.
#
#   docs/wal-reset-search.sh WALBURST E CAP OUT [RUN ARGS...]
#
# RUN ARGS go to every `walburst run` (e.g. `--scheduler pct`).
#
# WALBURST is the binary that runs the release under test: the prepared one
# (`walburst sqlite prepare 3.51.1`, then target/walburst-sqlite/3.51.1/walburst), which is
# what `walburst run ... --sqlite 3.51.1` hands the run to.
set -u
walburst=$1; e=$2; cap=$3; out=$4/e$e
shift 4
scenario=$(cd "$(dirname "$0")/.." && pwd)/scenarios/wal-reset-search-shm.toml
mkdir -p "$out"
start=$(date +%s.%N)
i=0
while [ "$i" -lt "$cap" ]; do
  seed=$((e * 1000 + i))
  t0=$(date +%s.%N)
  # Every run has its own deadline ([limits] run_timeout_secs); `timeout` is the last resort.
  # --keep for the trace (counted, then removed: a failing run's stays for `walburst shrink`).
  line=$(timeout 900 "$walburst" run "$scenario" --mode lockstep --seed "$seed" --quiet \
    --keep --out "$out/reports" --work-dir "$out/work" "$@" 2>&1 |
    grep -E '^(PASS|FAIL|error)' | head -1)
  t1=$(date +%s.%N)
  trace=$(ls -d "$out"/work/*-s"$seed"-*/trace.jsonl 2>/dev/null | head -1)
  counts="- - -"
  if [ -n "$trace" ]; then
    counts="$(wc -l < "$trace") $(grep -c '"call":"wal_header"' "$trace") $(grep -c '"call":"db_unfetch"' "$trace")"
  fi
  echo "$e $i $seed $(echo "$t1 - $t0" | bc) $(echo "$t1 - $start" | bc) $counts ${line:0:300}" >> "$out/log"
  if [[ "$line" != FAIL* && -n "$trace" ]]; then
    rm -rf "$(dirname "$trace")"
  fi
  i=$((i + 1))
  if [[ "$line" == FAIL* ]]; then
    echo "FOUND $e $seed after $i runs $(echo "$t1 - $start" | bc) s" >> "$out/log"
    break
  fi
done
echo "END $e runs=$i secs=$(echo "$(date +%s.%N) - $start" | bc)" >> "$out/log"
