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
    let broken = invs.iter().filter(|i| !i.holds()).count();
    let _ = writeln!(
        b,
        "<p>{} invariant(s) checked on a read-only connection after the run; {broken} broken or not checked.</p>",
        invs.len()
    );
    let rows: Vec<Vec<String>> = invs
        .iter()
        .map(|i| {
            let (state, detail) = match &i.error {
                Some(e) => ("could not be checked".to_string(), escape(e)),
                None if i.rows == 0 => ("holds".to_string(), String::new()),
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
