#!/usr/bin/env python3
"""The action's job summary (markdown on stdout): a verdict table of what walburst wrote.

    summary.py OUT COMMAND EXIT_CODE ARTIFACT

A sweep (`nightly`) or `merge` writes its own markdown summary (sweep-summary*.md,
merged-summary.md); that is printed as it is. `run` and `compare` write one JSON report per
run: one table row each, failing runs first. With no report at all (bad input), walburst's
own output is shown instead. Standard library only.
"""

import json
import re
import sys
from pathlib import Path

MAX_ROWS = 50
EXIT_MEANING = {
    0: "passed",
    1: "failed",
    2: "refused its input (nothing ran)",
    3: "ran, but a report could not be written",
    130: "was interrupted",
}


def cell(text) -> str:
    return str(text).replace("|", "\\|").replace("\n", " ")


def reports(out: Path):
    found = []
    for path in sorted(out.rglob("*.json")):
        if path.relative_to(out).parts[0] == "runs":
            continue  # kept run directories (--work-dir OUT/runs) hold a copy of the report
        try:
            data = json.loads(path.read_text())
        except (OSError, ValueError):
            continue
        if isinstance(data, dict) and "verdict" in data and "seed" in data:
            found.append((path, data))
    return found


# How a failing verdict line names its primary failure: `... [category/detector: text]; reproduce: ...`.
PRIMARY = re.compile(r" \[([a-z0-9_-]+)/([a-z0-9_-]+): ")


def first_failure(r: dict, log: str) -> str:
    """The failure the run's verdict line names as the cause (else the first one)."""
    every = list(r.get("failures") or []) + list(r.get("liveness") or [])
    if not every:
        return ""
    head = f"FAIL {r.get('scenario', {}).get('name', '')} seed={r.get('seed')}:"
    for line in log.splitlines():
        named = PRIMARY.search(line) if line.startswith(head) else None
        if named:
            for f in every:
                if (f.get("category"), f.get("detector")) == named.groups():
                    return f.get("message", "")
    return every[0].get("message", "")


def compare_table(path: Path) -> None:
    """One row per (strategy, worker count) of a `walburst compare`, as its console table."""
    c = json.loads(path.read_text())
    print(f"### compare {cell(c.get('scenario'))} seed={c.get('seed')}: "
          f"{c.get('repeat')} repeat(s) per strategy, page `{path.parent.name}/compare.html`\n")
    print("| strategy | workers | runs passed | commits/s median (min-max) "
          "| p99 ms median | integrity ok | corruption false / real |")
    print("|---|---|---|---|---|---|---|")
    for g in c.get("summary", []):
        cps, p99 = g.get("commits_per_sec", {}), g.get("latency_p99_ms", {})
        print("| {} | {} | {}/{} | {} ({}-{}) | {} | {}/{} | {} / {} |".format(
            cell(g.get("strategy")), g.get("workers"), g.get("passed"), g.get("runs"),
            cps.get("median"), cps.get("min"), cps.get("max"), p99.get("median"),
            g.get("integrity_ok"), g.get("runs"), g.get("false_corruption"),
            g.get("real_corruption")))
    print()


def main() -> int:
    out, command, code, artifact = Path(sys.argv[1]), sys.argv[2], int(sys.argv[3]), sys.argv[4]
    said = EXIT_MEANING.get(code, "ended with an unexpected status")
    print(f"## walburst {command}: {said} (exit {code})\n")
    written = sorted(out.glob("merged-summary.md")) or sorted(out.glob("sweep-summary*.md"))
    if written:
        for md in written:
            # Two levels down: the summary's own title above is the top.
            lines = md.read_text().splitlines()
            print("\n".join("##" + ln if ln.startswith("#") else ln for ln in lines))
    else:
        for cmp in sorted(out.glob("*/compare.json")):
            compare_table(cmp)
        runs = reports(out)
        said = out / "walburst-output.txt"
        log = said.read_text() if said.is_file() else ""
        if runs:
            runs.sort(key=lambda pr: (pr[1].get("verdict") == "pass", str(pr[0])))
            print("| verdict | scenario | seed | mode | committed | first failure | reproduce | page |")
            print("|---|---|---|---|---|---|---|---|")
            for path, r in runs[:MAX_ROWS]:
                t = r.get("totals", {})
                page = path.with_suffix(".html")
                print(
                    "| {} | {} | {} | {} | {}/{} | {} | `{}` | {} |".format(
                        cell(str(r.get("verdict", "?")).upper()),
                        cell(r.get("scenario", {}).get("name", "?")),
                        r.get("seed"),
                        cell(r.get("mode", "")),
                        t.get("committed", "?"),
                        t.get("planned_writes", "?"),
                        cell(first_failure(r, log)[:300]),
                        cell(r.get("reproduce", "")),
                        cell(page.name) if page.is_file() else "",
                    )
                )
            if len(runs) > MAX_ROWS:
                print(f"\n{len(runs) - MAX_ROWS} more runs are in the artifact.")
        else:
            log = out / "walburst-output.txt"
            text = log.read_text() if log.is_file() else "(no output)"
            print("No report was written. walburst said:\n\n```text")
            print("\n".join(text.splitlines()[-40:]))
            print("```")
    print(f"\nReports, HTML pages and kept run directories: artifact `{artifact}` (`{out}/`).")
    return 0


if __name__ == "__main__":
    sys.exit(main())
