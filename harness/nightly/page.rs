//! The merged nightly's HTML page (`merged-summary.html`): failures first, each with its
//! reasons, reproduce command and a link to the failing run's own page; then the matrix of
//! cases by axis (pass counts per value of every axis the case names vary), the
//! regressions, and every case.

use std::collections::BTreeMap;
use std::fmt::Write;
use std::path::Path;

use super::summary::{Entry, PairKind, Status, Summary, failures_to_show, short_hash};
use crate::render::html::{badge, document, escape, list, num, table};
use crate::render::paths::Elide;

/// The matrix axis a case-name part belongs to (parts are `wal`, `full`, `w20`, `ac100`,
/// `flock`, `pagecount`, ... as `nightly/matrix/axis.rs` writes them).
fn axis_of(part: &str) -> &'static str {
    let numbered = |prefix: &str| {
        part.strip_prefix(prefix)
            .is_some_and(|n| !n.is_empty() && n.bytes().all(|b| b.is_ascii_digit()))
    };
    match part {
        "wal" | "delete" | "truncate" | "persist" | "memory" | "app" => "journal_mode",
        "off" | "normal" | "full" | "extra" => "synchronous",
        "persistent" | "perop" => "connection",
        "nolock" | "flock" => "write_lock",
        "aftercommit" | "intx" => "guard_at",
        _ if numbered("ac") => "wal_autocheckpoint",
        _ if numbered("mmap") => "mmap_size",
        _ if numbered("w") => "workers",
        _ if numbered("o") => "ops_per_worker",
        _ if numbered("c") => "connections_per_worker",
        _ if numbered("i") => "idle_connections",
        _ => "guard",
    }
}

/// (axis, value) pairs of a case name `<scenario>/<part>-<part>-...`.
fn axes(case: &str) -> Vec<(&'static str, String)> {
    match case.split_once('/') {
        Some((_, parts)) => parts
            .split('-')
            .filter(|p| !p.is_empty())
            .map(|p| (axis_of(p), p.to_string()))
            .collect(),
        None => Vec::new(),
    }
}

#[derive(Default, Clone, Copy)]
struct Count {
    pass: u64,
    fail: u64,
    error: u64,
    not_run: u64,
}

impl Count {
    fn add(&mut self, s: Status) {
        match s {
            Status::Pass => self.pass += 1,
            Status::Fail => self.fail += 1,
            Status::Error => self.error += 1,
            Status::NotRun => self.not_run += 1,
        }
    }

    fn row(&self, first: Vec<String>) -> Vec<String> {
        let bad = self.fail + self.error;
        let mut r = first;
        r.push(num(self.pass + bad + self.not_run));
        r.push(num(self.pass));
        r.push(if bad > 0 {
            format!(r#"<span class="bad">{bad}</span>"#)
        } else {
            "0".into()
        });
        r.push(num(self.not_run));
        r
    }
}

/// The link to a failing run's page (its report with `.html`, drawn beside the JSON),
/// relative to the merged page's directory so that it survives moving the results.
fn page_link(e: &Entry, out: &Path) -> String {
    let Some(p) = &e.result.report else {
        return String::new();
    };
    let html = crate::render::html_path_for(p);
    match crate::render::paths::relative_link(&html, out) {
        Some(rel) => {
            let h = escape(&rel);
            format!(r#"<a href="{h}">{h}</a>"#)
        }
        None => format!("{} (not drawn)", escape(&html.display().to_string())),
    }
}

/// The merged page, to be written in `out`; no absolute path of the machine appears in it
/// (`render::paths::Elide`).
pub fn render(s: &Summary, out: &Path) -> String {
    Elide::new(&[], Some(out)).apply(&render_page(s, out))
}

fn render_page(s: &Summary, out: &Path) -> String {
    let word = if s.totals.not_passed() == 0 {
        "PASS"
    } else {
        "FAIL"
    };
    let mut b = String::new();
    let _ = writeln!(
        b,
        "<h1>{}nightly: {}</h1>",
        badge(word),
        escape(&s.totals.line())
    );
    let mut facts = vec![format!("sweep {}", short_hash(&s.sweep_hash))];
    if let Some(seed) = s.base_seed {
        facts.push(format!("base seed {seed}"));
    }
    if let Some(d) = &s.nightly_date {
        facts.push(format!("nightly date {d}"));
    }
    if let Some(sh) = &s.shards {
        facts.push(format!(
            "{} present {}/{}{}",
            sh.noun(),
            sh.present.len(),
            sh.count,
            if sh.missing.is_empty() {
                String::new()
            } else {
                format!(", MISSING {}", sh.missing_list())
            }
        ));
    }
    facts.push(format!("wall {:.0} s", s.wall_secs));
    let _ = writeln!(b, "<p class=\"meta\">{}</p>", escape(&facts.join("; ")));

    b.push_str("<h2 id=\"failures\">Failures</h2>\n");
    let (failed, hidden) = failures_to_show(&s.results, 20);
    if failed.is_empty() {
        b.push_str("<p>None.</p>\n");
    }
    for e in failed {
        let _ = writeln!(
            b,
            "<p><b>{} {}</b> {} {}</p>",
            escape(e.result.status.word()),
            escape(&e.pair.case),
            escape(&format!("seed {}", e.pair.seed)),
            match e.pair.kind {
                PairKind::Regression => "(regression)",
                PairKind::Sweep => "",
            }
        );
        b.push_str(&list("failures", &e.result.reasons));
        let _ = writeln!(b, "<pre class=\"cmd\">{}</pre>", escape(&e.pair.reproduce));
        let link = page_link(e, out);
        if !link.is_empty() {
            let _ = writeln!(b, "<p class=\"note\">run page: {link}</p>");
        }
    }
    if hidden > 0 {
        let _ = writeln!(
            b,
            "<p class=\"note\">... and {hidden} more pairs not run (listed in the summary JSON).</p>"
        );
    }

    // The matrix by axis: every value of every axis the case names vary.
    let mut by_axis: BTreeMap<&str, BTreeMap<String, Count>> = BTreeMap::new();
    let mut by_case: BTreeMap<String, Count> = BTreeMap::new();
    for e in s.results.iter().filter(|e| e.pair.kind == PairKind::Sweep) {
        for (axis, value) in axes(&e.pair.case) {
            by_axis
                .entry(axis)
                .or_default()
                .entry(value)
                .or_default()
                .add(e.result.status);
        }
        by_case
            .entry(e.pair.case.clone())
            .or_default()
            .add(e.result.status);
    }
    let headers = ["value", "pairs", "passed", "failed / errors", "not run"];
    b.push_str("<h2 id=\"matrix\">Matrix by axis</h2>\n");
    if by_axis.is_empty() {
        b.push_str("<p class=\"note\">The sweep's cases have no matrix axes.</p>\n");
    }
    for (axis, values) in &by_axis {
        let _ = writeln!(b, "<p><b>{}</b></p>", escape(axis));
        let rows: Vec<Vec<String>> = values.iter().map(|(v, c)| c.row(vec![escape(v)])).collect();
        b.push_str(&table(&headers, &rows));
    }
    let regressions: Vec<Vec<String>> = s
        .results
        .iter()
        .filter(|e| e.pair.kind == PairKind::Regression)
        .map(|e| {
            vec![
                escape(&e.pair.case),
                num(e.pair.seed),
                escape(e.result.status.word()),
                escape(e.pair.note.as_deref().unwrap_or("")),
            ]
        })
        .collect();
    if !regressions.is_empty() {
        b.push_str("<h2 id=\"regressions\">Regressions</h2>\n");
        b.push_str(&table(&["case", "seed", "result", "note"], &regressions));
    }
    b.push_str("<h2 id=\"cases\">Cases (failing first)</h2>\n");
    let mut cases: Vec<(&String, &Count)> = by_case.iter().collect();
    cases.sort_by_key(|(name, c)| (c.fail + c.error == 0, c.not_run == 0, (*name).clone()));
    let rows: Vec<Vec<String>> = cases
        .into_iter()
        .map(|(name, c)| c.row(vec![escape(name)]))
        .collect();
    b.push_str(&table(
        &["case", "pairs", "passed", "failed / errors", "not run"],
        &rows,
    ));
    document(&format!("{word} nightly {}", s.totals.line()), &b)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn case_parts_map_to_their_axes() {
        let a = axes("nightly/wal-full-ac100-w20-flock-pagecount-intx");
        let names: Vec<&str> = a.iter().map(|(k, _)| *k).collect();
        assert_eq!(
            names,
            [
                "journal_mode",
                "synchronous",
                "wal_autocheckpoint",
                "workers",
                "write_lock",
                "guard",
                "guard_at"
            ]
        );
        assert!(axes("smoke").is_empty());
    }
}
