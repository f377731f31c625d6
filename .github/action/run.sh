#!/usr/bin/env bash
# The action's run step: one walburst command, chosen by INPUT_COMMAND:
#   run      walburst run SCENARIO [--seed N] ARGS
#   compare  walburst compare SCENARIO [--seed N] ARGS
#   nightly  walburst run SCENARIO --nightly [--date D] --seeds N [--partition P] --junit OUT/junit.xml ARGS
#   merge    walburst merge DIRS ARGS
# Reports, pages, JUnit and kept run directories go under INPUT_OUT (the artifact the next
# step uploads). Writes `exit-code`, `verdict` and `reports` to $GITHUB_OUTPUT and a verdict
# table to $GITHUB_STEP_SUMMARY, then exits with walburst's status (0 when
# INPUT_FAIL_ON_FAILURE is `false`). Inputs come in through the environment, never pasted
# into this script's text.
set -euo pipefail
here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
: "${WALBURST:?the walburst binary (the install step output)}"
: "${GITHUB_OUTPUT:?the action runs inside GitHub Actions (or a test that sets GITHUB_OUTPUT)}"
: "${GITHUB_STEP_SUMMARY:?the action runs inside GitHub Actions (or a test that sets GITHUB_STEP_SUMMARY)}"

command="${INPUT_COMMAND:-run}"
out="${INPUT_OUT:-walburst-reports}"
artifact="${INPUT_ARTIFACT_NAME:-walburst-reports}"
# Extra arguments: split on whitespace, as a shell would without quotes or globbing.
read -r -a extra <<< "${INPUT_ARGS:-}"
scenario=()
if [ -n "${INPUT_SCENARIO:-}" ]; then scenario=("$INPUT_SCENARIO"); fi
seed=()
if [ -n "${INPUT_SEED:-}" ]; then seed=(--seed "$INPUT_SEED"); fi

refuse() {
    echo "::error::walburst action: $1"
    { echo "exit-code=2"; echo "verdict=bad-input"; echo "reports=$out"; } >> "$GITHUB_OUTPUT"
    printf '## walburst %s: refused\n\n%s\n' "$command" "$1" >> "$GITHUB_STEP_SUMMARY"
    exit 2
}

case "$command" in
    run | compare)
        argv=("$command" "${scenario[@]}" "${seed[@]}" --out "$out" --work-dir "$out/runs")
        ;;
    nightly)
        argv=(run "${scenario[@]}" --nightly --seeds "${INPUT_SEEDS:-2}")
        if [ -n "${INPUT_DATE:-}" ]; then argv+=(--date "$INPUT_DATE"); fi
        if [ -n "${INPUT_PARTITION:-}" ]; then argv+=(--partition "$INPUT_PARTITION"); fi
        argv+=(--out "$out" --work-dir "$out/runs" --junit "$out/junit.xml")
        ;;
    merge)
        read -r -a dirs <<< "${INPUT_DIRS:-}"
        if [ "${#dirs[@]}" -eq 0 ]; then refuse "command merge needs dirs (the partitions' report directories)"; fi
        argv=(merge "${dirs[@]}" --out "$out")
        ;;
    *)
        refuse "command '$command' is not one of run, compare, nightly, merge"
        ;;
esac

mkdir -p "$out"
log="$out/walburst-output.txt"
echo "walburst ${argv[*]} ${extra[*]}"
set +e
"$WALBURST" "${argv[@]}" "${extra[@]}" 2>&1 | tee "$log"
code="${PIPESTATUS[0]}"
set -e

case "$code" in
    0) verdict=pass ;;
    1) verdict=fail ;;
    2) verdict=bad-input ;;
    3) verdict=unwritten ;;
    130) verdict=interrupted ;;
    *) verdict=error ;;
esac
{
    echo "exit-code=$code"
    echo "verdict=$verdict"
    echo "reports=$out"
} >> "$GITHUB_OUTPUT"

# The summary is a courtesy: failing to write it must not hide walburst's own status.
if ! python3 "$here/summary.py" "$out" "$command" "$code" "$artifact" >> "$GITHUB_STEP_SUMMARY"; then
    echo "::warning::walburst action: the job summary could not be written"
fi

if [ "${INPUT_FAIL_ON_FAILURE:-true}" = "false" ]; then
    exit 0
fi
exit "$code"
