//! The history as Elle reads it, so anyone can cross-check a run with Jepsen's Elle
//! (`elle-cli --model list-append`): an `invoke` event when a transaction starts (reads
//! unknown, `nil`) and a completion (`ok`, `fail` or `info`, with what was read) when it
//! ends, ordered by time, with `:f :txn`, `:value [[:append k v] [:r k [v...]]]`,
//! `:process`, `:time` (monotonic nanoseconds) and `:index`. JSON lines and EDN carry the
//! same events.
//!
//! Elle assumes a process that saw an ambiguous (`info`) outcome has crashed and never runs
//! again; a walburst actor does carry on, so each of its later transactions is exported as a
//! fresh process: `process + generation x stride`, where `stride` is one more than the
//! largest process id.

use std::collections::BTreeMap;
use std::io::{self, Write};

use serde::Serialize;

use super::history::{History, Key, Mop, Outcome, TxnId, Value};

#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum EventType {
    Invoke,
    Ok,
    Fail,
    Info,
}

impl EventType {
    fn name(self) -> &'static str {
        match self {
            EventType::Invoke => "invoke",
            EventType::Ok => "ok",
            EventType::Fail => "fail",
            EventType::Info => "info",
        }
    }
}

/// One micro-op as Elle spells it: `["append", k, v]` or `["r", k, [v...] | null]`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(untagged)]
pub enum ElleMop {
    Append(&'static str, Key, Value),
    Read(&'static str, Key, Option<Vec<Value>>),
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Event {
    pub index: usize,
    #[serde(rename = "type")]
    pub kind: EventType,
    pub f: &'static str,
    pub value: Vec<ElleMop>,
    pub process: u64,
    pub time: u64,
    /// The transaction's id in walburst's history (Elle ignores unknown fields).
    pub txn: TxnId,
}

fn elle_mops(mops: &[Mop], with_reads: bool) -> Vec<ElleMop> {
    mops.iter()
        .map(|m| match m {
            Mop::Append { key, value } => ElleMop::Append("append", *key, *value),
            Mop::Read { key, values } => {
                ElleMop::Read("r", *key, values.clone().filter(|_| with_reads))
            }
        })
        .collect()
}

/// The events, in time order (at equal times invocations first, so an end at the same
/// nanosecond as a start is not before it, as the checker sees it). A transaction that
/// never ended completes as `info` after every other event.
pub fn events(history: &History) -> Vec<Event> {
    let stride = history.txns.iter().map(|t| t.process).max().unwrap_or(0) + 1;
    let last_ns = history
        .txns
        .iter()
        .map(|t| t.end_ns.unwrap_or(t.start_ns))
        .max()
        .unwrap_or(0);
    // (time, phase, txn): one invocation and one completion per transaction.
    let mut order: Vec<(u64, u8, TxnId)> = Vec::with_capacity(history.txns.len() * 2);
    for (id, txn) in history.txns.iter().enumerate() {
        order.push((txn.start_ns, 0, id));
        order.push((txn.end_ns.unwrap_or(last_ns + 1), 1, id));
    }
    order.sort_unstable();
    // Each actor's generation grows after every ambiguous completion it exported.
    let mut generation: BTreeMap<u64, u64> = BTreeMap::new();
    let mut process_of: BTreeMap<TxnId, u64> = BTreeMap::new();
    let mut out = Vec::with_capacity(order.len());
    for (index, (time, phase, id)) in order.into_iter().enumerate() {
        let txn = &history.txns[id];
        let (kind, value) = if phase == 0 {
            let g = generation.get(&txn.process).copied().unwrap_or(0);
            process_of.insert(id, txn.process + g * stride);
            (EventType::Invoke, elle_mops(&txn.mops, false))
        } else {
            let kind = match txn.outcome {
                Outcome::Ok => EventType::Ok,
                Outcome::Fail => EventType::Fail,
                Outcome::Info => EventType::Info,
            };
            if kind == EventType::Info {
                *generation.entry(txn.process).or_default() += 1;
            }
            (kind, elle_mops(&txn.mops, kind == EventType::Ok))
        };
        out.push(Event {
            index,
            kind,
            f: "txn",
            value,
            process: process_of.get(&id).copied().unwrap_or(txn.process),
            time,
            txn: id,
        });
    }
    out
}

/// One JSON object per line.
pub fn write_jsonl(history: &History, mut w: impl Write) -> io::Result<()> {
    for event in events(history) {
        serde_json::to_writer(&mut w, &event)?;
        w.write_all(b"\n")?;
    }
    Ok(())
}

/// One EDN map per line, as Jepsen stores `history.edn`.
pub fn write_edn(history: &History, mut w: impl Write) -> io::Result<()> {
    for event in events(history) {
        writeln!(w, "{}", edn(&event))?;
    }
    Ok(())
}

fn edn_list(values: &[Value]) -> String {
    let items: Vec<String> = values.iter().map(u64::to_string).collect();
    format!("[{}]", items.join(" "))
}

pub fn edn(event: &Event) -> String {
    let mops: Vec<String> = event
        .value
        .iter()
        .map(|m| match m {
            ElleMop::Append(_, k, v) => format!("[:append {k} {v}]"),
            ElleMop::Read(_, k, Some(values)) => format!("[:r {k} {}]", edn_list(values)),
            ElleMop::Read(_, k, None) => format!("[:r {k} nil]"),
        })
        .collect();
    format!(
        "{{:index {}, :type :{}, :f :txn, :value [{}], :process {}, :time {}, :txn {}}}",
        event.index,
        event.kind.name(),
        mops.join(" "),
        event.process,
        event.time,
        event.txn
    )
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::check::isolation::history::Txn;

    fn two_txns() -> History {
        History {
            txns: vec![
                Txn {
                    process: 0,
                    outcome: Outcome::Ok,
                    start_ns: 100,
                    end_ns: Some(200),
                    mops: vec![
                        Mop::Append { key: 1, value: 2 },
                        Mop::Read {
                            key: 1,
                            values: Some(vec![1, 2]),
                        },
                    ],
                },
                Txn {
                    process: 1,
                    outcome: Outcome::Fail,
                    start_ns: 150,
                    end_ns: Some(160),
                    mops: vec![Mop::Read {
                        key: 3,
                        values: None,
                    }],
                },
            ],
        }
    }

    #[test]
    fn json_lines_are_elle_ops() {
        let mut out = Vec::new();
        write_jsonl(&two_txns(), &mut out).unwrap();
        let lines: Vec<serde_json::Value> = String::from_utf8(out)
            .unwrap()
            .lines()
            .map(|l| serde_json::from_str(l).unwrap())
            .collect();
        let expected = [
            r#"{"index":0,"type":"invoke","f":"txn","value":[["append",1,2],["r",1,null]],"process":0,"time":100,"txn":0}"#,
            r#"{"index":1,"type":"invoke","f":"txn","value":[["r",3,null]],"process":1,"time":150,"txn":1}"#,
            r#"{"index":2,"type":"fail","f":"txn","value":[["r",3,null]],"process":1,"time":160,"txn":1}"#,
            r#"{"index":3,"type":"ok","f":"txn","value":[["append",1,2],["r",1,[1,2]]],"process":0,"time":200,"txn":0}"#,
        ];
        assert_eq!(lines.len(), expected.len());
        for (line, want) in lines.iter().zip(expected) {
            assert_eq!(
                line,
                &serde_json::from_str::<serde_json::Value>(want).unwrap()
            );
        }
    }

    #[test]
    fn edn_is_what_elle_reads() {
        let mut out = Vec::new();
        write_edn(&two_txns(), &mut out).unwrap();
        let text = String::from_utf8(out).unwrap();
        let lines: Vec<&str> = text.lines().collect();
        assert_eq!(
            lines[0],
            "{:index 0, :type :invoke, :f :txn, :value [[:append 1 2] [:r 1 nil]], :process 0, :time 100, :txn 0}"
        );
        assert_eq!(
            lines[3],
            "{:index 3, :type :ok, :f :txn, :value [[:append 1 2] [:r 1 [1 2]]], :process 0, :time 200, :txn 0}"
        );
        assert_eq!(lines.len(), 4);
    }

    /// Elle retires a process after an `info`; the actor's next transaction becomes a
    /// fresh process, and a transaction that never ended completes last, as `info`.
    #[test]
    fn ambiguous_outcomes_retire_the_process() {
        let txn = |start_ns, end_ns, outcome| Txn {
            process: 1,
            outcome,
            start_ns,
            end_ns,
            mops: vec![Mop::Append {
                key: 1,
                value: start_ns,
            }],
        };
        let h = History {
            txns: vec![
                txn(10, Some(20), Outcome::Info),
                txn(30, Some(40), Outcome::Ok),
                txn(50, None, Outcome::Info),
            ],
        };
        let events = events(&h);
        let shown: Vec<(EventType, u64, u64)> =
            events.iter().map(|e| (e.kind, e.process, e.time)).collect();
        // stride = 2 (processes 0..=1): generation 1 of actor 1 is process 3.
        assert_eq!(
            shown,
            [
                (EventType::Invoke, 1, 10),
                (EventType::Info, 1, 20),
                (EventType::Invoke, 3, 30),
                (EventType::Ok, 3, 40),
                (EventType::Invoke, 3, 50),
                (EventType::Info, 3, 51),
            ]
        );
        assert!(events.iter().enumerate().all(|(i, e)| e.index == i));
    }
}
