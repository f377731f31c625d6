//! The page's invariants section (scenarios with `[[invariants]]`): each invariant, whether
//! it held, the rows that broke it (the first few, as the report keeps them) or why it could
//! not be checked.

use std::fmt::Write;

use super::html::{escape, table};
use crate::report::Report;

pub fn section(b: &mut String, r: &Report) {
    let invs = &r.checks.invariants;
    if invs.is_empty() {
        return;
    }
    b.push_str("<h2 id=\"invariants\">Invariants</h2>\n");
    let during = r.checks.invariants_during.as_ref();
    let first = |name: &str| during.and_then(|d| d.first_breach(name));
    let broken = invs
        .iter()
        .filter(|i| !i.holds() || first(&i.name).is_some())
        .count();
    let when = match during {
        Some(d) => format!(
            "after the run and at {} quiescent point(s) during it (lockstep; {} read(s) not judged)",
            d.points, d.not_judged
        ),
        None => "after the run".to_string(),
    };
    let _ = writeln!(
        b,
        "<p>{} invariant(s) checked on a read-only connection {when}; {broken} broken or not checked.</p>",
        invs.len()
    );
    let rows: Vec<Vec<String>> = invs
        .iter()
        .map(|i| {
            let (state, detail) = match &i.error {
                Some(e) => ("could not be checked".to_string(), escape(e)),
                None if i.rows == 0 => match first(&i.name) {
                    Some(at) => (
                        format!(
                            "broken during the run (after step {}), held at the end",
                            at.step
                        ),
                        at.report
                            .first_rows
                            .iter()
                            .map(|row| escape(row))
                            .collect::<Vec<_>>()
                            .join("<br>"),
                    ),
                    None => ("holds".to_string(), String::new()),
                },
                None => (
                    "broken".to_string(),
                    i.first_rows
                        .iter()
                        .map(|row| escape(row))
                        .collect::<Vec<_>>()
                        .join("<br>"),
                ),
            };
            vec![escape(&i.name), state, format!("\u{1}{}", i.rows), detail]
        })
        .collect();
    b.push_str(&table(&["invariant", "state", "rows", "first rows"], &rows));
}
