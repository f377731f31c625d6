//! The page's isolation section (`list-append` runs, and kanban runs' claims): the checker's counts, then each
//! reported anomaly with its explanation and, for a cycle, one row per edge (which
//! transactions, which op each is, which edge kind and key).

use std::fmt::Write;

use super::html::{escape, table};
use crate::check::isolation::Anomaly;
use crate::check::isolation::edges::Why;
use crate::report::Report;

pub fn section(b: &mut String, r: &Report) {
    let Some(iso) = &r.checks.isolation else {
        return;
    };
    b.push_str("<h2 id=\"isolation\">Isolation</h2>\n");
    let edges: Vec<String> = iso
        .edges
        .iter()
        .map(|(k, n)| format!("{} {n}", k.name()))
        .collect();
    let _ = writeln!(
        b,
        "<p>{} {} transactions, {} keys; edges: {}; anomalies: {}.</p>",
        iso.txns,
        escape(iso.transactions.as_deref().unwrap_or("list-append")),
        iso.keys,
        escape(&edges.join(", ")),
        iso.anomaly_count
    );
    if iso.unjudged_reads > 0 {
        let _ = writeln!(
            b,
            "<p>{} committed claim(s) reported no read of their task: judged as writes alone.</p>",
            iso.unjudged_reads
        );
    }
    if let Some(e) = &iso.error {
        let _ = writeln!(b, "<p>The history could not be checked: {}</p>", escape(e));
    }
    let op = |t: usize| {
        iso.txn_ops
            .get(&format!("T{t}"))
            .map_or(format!("T{t}"), |o| format!("T{t} ({o})"))
    };
    for found in &iso.anomalies {
        let _ = writeln!(
            b,
            "<p><b>{}</b>: {}</p>",
            escape(found.class.name()),
            escape(&found.explanation)
        );
        let Anomaly::Cycle { steps } = &found.anomaly else {
            continue;
        };
        let rows: Vec<Vec<String>> = steps
            .iter()
            .map(|s| {
                let key = match s.why {
                    Why::Ww { key, .. } | Why::Wr { key, .. } | Why::Rw { key, .. } => {
                        match iso.key_names.get(&key.to_string()) {
                            Some(name) => format!("{key} ({})", escape(name)),
                            None => key.to_string(),
                        }
                    }
                    Why::Rt { .. } => "-".to_string(),
                };
                vec![
                    escape(&op(s.from)),
                    escape(s.why.kind().name()),
                    key,
                    escape(&op(s.to)),
                ]
            })
            .collect();
        b.push_str(&table(&["from", "edge", "key", "to"], &rows));
    }
}
