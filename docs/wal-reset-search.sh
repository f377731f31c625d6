#!/bin/bash
# The unassisted search for the WAL-reset bug at shm granularity (docs/wal-reset-window.md,
# "Searching for it unassisted"). Exploration seed E runs the lockstep seeds E*1000, E*1000+1,
# ... of scenarios/wal-reset-search-shm.toml on one SQLite release until the first FAIL or
# CAP runs, and appends one line per run to OUT/e$E/log (run index, seed, seconds, seconds
# since the start, the verdict line).
#
#   docs/wal-reset-search.sh WALBURST E CAP OUT
#
# WALBURST is the binary that runs the release under test: the prepared one
# (`walburst sqlite prepare 3.51.1`, then target/walburst-sqlite/3.51.1/walburst), which is
# what `walburst run ... --sqlite 3.51.1` hands the run to.
set -u
walburst=$1; e=$2; cap=$3; out=$4/e$e
scenario=$(cd "$(dirname "$0")/.." && pwd)/scenarios/wal-reset-search-shm.toml
mkdir -p "$out"
start=$(date +%s.%N)
i=0
while [ "$i" -lt "$cap" ]; do
  seed=$((e * 1000 + i))
  t0=$(date +%s.%N)
  # Every run has its own deadline ([limits] run_timeout_secs); `timeout` is the last resort.
  line=$(timeout 900 "$walburst" run "$scenario" --mode lockstep --seed "$seed" --quiet \
    --out "$out/reports" --work-dir "$out/work" 2>&1 | grep -E '^(PASS|FAIL|error)' | head -1)
  t1=$(date +%s.%N)
  echo "$e $i $seed $(echo "$t1 - $t0" | bc) $(echo "$t1 - $start" | bc) ${line:0:300}" >> "$out/log"
  i=$((i + 1))
  if [[ "$line" == FAIL* ]]; then
    echo "FOUND $e $seed after $i runs $(echo "$t1 - $start" | bc) s" >> "$out/log"
    break
  fi
done
echo "END $e runs=$i secs=$(echo "$(date +%s.%N) - $start" | bc)" >> "$out/log"
