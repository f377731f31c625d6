//! A run's verdict as one line of text (the console's last line, and a row of `--sqlite
//! V1,V2`'s table): a pure function of the report.

use super::Report;

/// `PASS name seed=N: ...` in one line; a failure ends with the command that reproduces it.
pub fn verdict_line(r: &Report) -> String {
    let t = &r.totals;
    let c = &r.checks;
    let k = &r.corruption;
    let mut line = format!(
        "{} {} seed={}: {}/{} committed, {} rolled back, {} failed, {}, {:.0} commits/s, p99 {:.1} ms, wall {:.2} s; integrity {}, ledger {}, overlaps {}, corruption reports {} (false {}, real {})",
        verdict_word(r.verdict),
        r.scenario.name,
        r.seed,
        t.committed,
        t.planned_writes,
        t.rolled_back,
        t.failed,
        ambiguous(r),
        t.commits_per_sec,
        r.latency_ms.p99,
        r.wall_secs,
        if c.integrity_ok() { "ok" } else { "DAMAGED" },
        if c.ledger_error.is_some() {
            "UNREADABLE".to_string()
        } else if c.not_run > 0 && c.not_run == t.planned_writes {
            "not judged (no worker ran)".to_string()
        } else if c.lost_writes + c.phantom_writes + c.duplicate_writes + c.order_violations == 0 {
            "clean".to_string()
        } else {
            format!(
                "lost {} phantom {} duplicate {} out-of-order {}",
                c.lost_writes, c.phantom_writes, c.duplicate_writes, c.order_violations
            )
        },
        c.lock_overlaps,
        k.reports,
        k.false_reports,
        k.real,
    );
    if c.sidecar_seen {
        line.push_str(", sidecar <db>.lock seen");
    }
    if let Some(a) = &r.app {
        line.push_str(&format!(", app sqlite {}", a.versions()));
        if let Some(m) = &a.journal_mode {
            line.push_str(&format!(" journal_mode={m}"));
        }
    }
    if !r.passed() {
        if let Some(f) = r.primary() {
            line.push_str(&format!(
                " [{}/{}: {}]",
                f.category.name(),
                f.detector.name(),
                clip(f.text(), 120)
            ));
        }
        line.push_str(&format!("; reproduce: {}", r.reproduce));
    }
    line
}

/// At most `max` characters of `s` on one line (the verdict is one line: SQLite's multi-line
/// answers are joined), cut at a character boundary, `...` when cut.
fn clip(s: &str, max: usize) -> String {
    let s = s.lines().map(str::trim).collect::<Vec<_>>().join(" ");
    match s.char_indices().nth(max) {
        Some((i, _)) => format!("{}...", &s[..i]),
        None => s,
    }
}

/// `PASS`, `FAIL` or `INTERRUPTED`.
pub fn verdict_word(v: crate::check::verdict::VerdictKind) -> &'static str {
    use crate::check::verdict::VerdictKind;
    match v {
        VerdictKind::Pass => "PASS",
        VerdictKind::Fail => "FAIL",
        VerdictKind::Interrupted => "INTERRUPTED",
    }
}

/// Ops whose outcome nobody knew (reported ambiguous, or never reported because the worker
/// died), and how many of them the ledger found committed.
fn ambiguous(r: &Report) -> String {
    let n = r.checks.ambiguous.max(r.totals.ambiguous);
    let mut s = if n == 0 || r.checks.ledger_error.is_some() {
        format!("{n} ambiguous")
    } else {
        format!(
            "{n} ambiguous ({} found committed)",
            r.checks.ambiguous_committed
        )
    };
    if r.checks.not_run > 0 {
        s.push_str(&format!(", {} not run", r.checks.not_run));
    }
    s
}

#[cfg(test)]
mod clip_tests {
    use super::clip;

    /// The verdict line stays one line whatever the primary failure's text holds.
    #[test]
    fn a_multi_line_failure_is_one_clipped_line() {
        let s = clip(
            "integrity_check: *** in database main ***\nTree 2 page 2: bad",
            200,
        );
        assert_eq!(
            s,
            "integrity_check: *** in database main *** Tree 2 page 2: bad"
        );
        assert_eq!(clip("abcdef", 3), "abc...");
    }
}
