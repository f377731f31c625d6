//! PROTOCOL.md, PROTOCOL.schema.json and the code agree (issue 20, item 12): every JSON
//! example in the document is valid JSON, validates against the schema and parses as the
//! runner reads it; every message type of the schema has an example; each field table names
//! exactly the schema's fields; every field the schema defines anywhere in a message is
//! named in the document.

use std::collections::BTreeSet;

use serde_json::Value as V;

use super::schema_check::{conforms_to, schema};
use super::{RunnerMsg, WorkerMsg, WorkerOp};

const DOC: &str = include_str!("../../PROTOCOL.md");

/// A JSON example of the document: its line and text.
struct Example {
    line: usize,
    text: String,
}

/// Fenced `json` blocks, and inline code spans that open a JSON object (`{"...`).
fn examples(doc: &str) -> Vec<Example> {
    let mut out = Vec::new();
    let mut fence: Option<(usize, String)> = None;
    for (i, line) in doc.lines().enumerate() {
        let n = i + 1;
        match (&mut fence, line.trim()) {
            (None, "```json") => fence = Some((n, String::new())),
            (Some(_), "```") => {
                let (line, text) = fence.take().expect("in a fence");
                out.push(Example { line, text });
            }
            (Some((_, text)), _) => {
                text.push_str(line);
                text.push('\n');
            }
            (None, l) if l.starts_with("```") => {}
            (None, _) => {
                // Odd segments between backticks are code spans.
                for span in line.split('`').skip(1).step_by(2) {
                    if span.starts_with("{\"") {
                        out.push(Example {
                            line: n,
                            text: span.to_string(),
                        });
                    }
                }
            }
        }
    }
    out
}

/// The schema definition an example is an instance of.
fn def_of(v: &V) -> Option<String> {
    let o = v.as_object()?;
    if let Some(m) = o.get("msg").and_then(V::as_str) {
        return Some(m.to_string());
    }
    // serde_json's maps are sorted: pick by the keys each definition has.
    let has = |k: &str| o.contains_key(k);
    let def = if has("seq") && has("payload") {
        "planned_op"
    } else if has("claimed_pages") {
        "guard_report"
    } else if has("f") {
        "list_mop"
    } else if has("kind") && has("code") {
        "step_result"
    } else if has("kind") {
        "step_action"
    } else if has("code") {
        "sql_error"
    } else {
        return None;
    };
    Some(def.to_string())
}

const RUNNER_MSGS: [&str; 3] = ["start", "go", "grant"];

/// What is wrong with the examples of `doc`: not JSON, an instance of nothing, not valid
/// against the schema, or not readable by the runner.
fn example_problems(doc: &str) -> Vec<String> {
    let root = schema();
    let mut problems = Vec::new();
    for e in &examples(doc) {
        let v: V = match serde_json::from_str(&e.text) {
            Ok(v) => v,
            // A fragment with placeholders (`"key":K`) is prose, not an example; a message
            // never is.
            Err(_) if !e.text.starts_with("{\"msg\"") => continue,
            Err(err) => {
                problems.push(format!("line {}: not JSON ({err}): {}", e.line, e.text));
                continue;
            }
        };
        let Some(def) = def_of(&v) else {
            problems.push(format!("line {}: an example of what? {}", e.line, e.text));
            continue;
        };
        if let Err(err) = conforms_to(&root, &def, &v) {
            problems.push(format!("line {}: {err}", e.line));
        }
        // The code reads it as the document says.
        let parsed = if RUNNER_MSGS.contains(&def.as_str()) {
            serde_json::from_value::<RunnerMsg>(v.clone()).map(|_| ())
        } else if def == "planned_op" {
            serde_json::from_value::<WorkerOp>(v.clone()).map(|_| ())
        } else if v.get("msg").is_some() {
            serde_json::from_value::<WorkerMsg>(v.clone()).map(|_| ())
        } else {
            Ok(())
        };
        if let Err(err) = parsed {
            problems.push(format!("line {}: the runner cannot read it: {err}", e.line));
        }
    }
    problems
}

#[test]
fn every_json_example_validates_against_the_schema_and_parses() {
    let n = examples(DOC).len();
    assert!(n >= 18, "found only {n} examples");
    let problems = example_problems(DOC);
    assert!(problems.is_empty(), "{}", problems.join("\n"));
}

/// The `msg` of every message type the schema defines.
fn message_types(root: &V) -> Vec<String> {
    ["runner_message", "worker_message"]
        .iter()
        .flat_map(|m| root["$defs"][*m]["oneOf"].as_array().unwrap().clone())
        .map(|r| {
            let name = r["$ref"].as_str().unwrap().trim_start_matches("#/$defs/");
            root["$defs"][name]["properties"]["msg"]["const"]
                .as_str()
                .unwrap()
                .to_string()
        })
        .collect()
}

/// Message types of the schema without an example in `doc`.
fn missing_examples(doc: &str) -> Vec<String> {
    let shown: BTreeSet<String> = examples(doc)
        .iter()
        .filter_map(|e| serde_json::from_str::<V>(&e.text).ok())
        .filter_map(|v| v.get("msg").and_then(V::as_str).map(str::to_string))
        .collect();
    message_types(&schema())
        .into_iter()
        .filter(|t| !shown.contains(t))
        .collect()
}

#[test]
fn every_message_type_has_an_example() {
    assert_eq!(message_types(&schema()).len(), 17);
    let missing = missing_examples(DOC);
    assert!(
        missing.is_empty(),
        "no example in PROTOCOL.md of {missing:?}"
    );
}

/// The backticked names in the first column of the first table after `heading`.
fn table_names(doc: &str, heading: &str) -> BTreeSet<String> {
    let from = doc
        .lines()
        .position(|l| l.starts_with(heading))
        .unwrap_or_else(|| panic!("no heading `{heading}` in PROTOCOL.md"));
    doc.lines()
        .skip(from)
        .skip_while(|l| !l.starts_with('|'))
        .take_while(|l| l.starts_with('|'))
        .skip(2) // the header and its separator
        .flat_map(|row| {
            let first = row.split('|').nth(1).unwrap_or_default();
            first
                .split('`')
                .skip(1)
                .step_by(2)
                .map(str::to_string)
                .collect::<Vec<_>>()
        })
        .collect()
}

fn properties(root: &V, def: &str) -> BTreeSet<String> {
    root["$defs"][def]["properties"]
        .as_object()
        .unwrap()
        .keys()
        .filter(|k| *k != "msg")
        .cloned()
        .collect()
}

fn kinds(root: &V, def: &str) -> BTreeSet<String> {
    root["$defs"][def]["oneOf"]
        .as_array()
        .unwrap()
        .iter()
        .map(|b| {
            b["properties"]["kind"]["const"]
                .as_str()
                .unwrap()
                .to_string()
        })
        .collect()
}

/// A field table whose names differ from the schema's: (its heading, names only in the
/// document, names only in the schema).
type Disagreement = (&'static str, Vec<String>, Vec<String>);

fn table_disagreements(doc: &str) -> Vec<Disagreement> {
    let root = schema();
    let tables = [
        ("### 1. `start`", properties(&root, "start")),
        ("#### The ops file", properties(&root, "planned_op")),
        ("## Free mode", properties(&root, "op")),
        ("### StepAction", kinds(&root, "step_action")),
        ("### StepResult", kinds(&root, "step_result")),
    ];
    let mut out = Vec::new();
    for (heading, schema_names) in tables {
        let named = table_names(doc, heading);
        if named != schema_names {
            out.push((
                heading,
                named.difference(&schema_names).cloned().collect(),
                schema_names.difference(&named).cloned().collect(),
            ));
        }
    }
    out
}

#[test]
fn each_field_table_names_exactly_the_schemas_fields() {
    let d = table_disagreements(DOC);
    assert!(
        d.is_empty(),
        "(table, only in PROTOCOL.md, only in the schema): {d:?}"
    );
}

/// Every property name of `node`, descending through `$ref`, `oneOf`, `items` and
/// `additionalProperties` (each definition once).
fn collect_fields(root: &V, node: &V, seen: &mut BTreeSet<String>, out: &mut BTreeSet<String>) {
    if let Some(r) = node.get("$ref").and_then(V::as_str) {
        let name = r.trim_start_matches("#/$defs/").to_string();
        if seen.insert(name.clone()) {
            collect_fields(root, &root["$defs"][&name], seen, out);
        }
    }
    for b in node
        .get("oneOf")
        .and_then(V::as_array)
        .into_iter()
        .flatten()
    {
        collect_fields(root, b, seen, out);
    }
    for key in ["items", "additionalProperties"] {
        if let Some(n) = node.get(key).filter(|n| n.is_object()) {
            collect_fields(root, n, seen, out);
        }
    }
    for (k, p) in node
        .get("properties")
        .and_then(V::as_object)
        .into_iter()
        .flatten()
    {
        out.insert(k.clone());
        collect_fields(root, p, seen, out);
    }
}

/// Schema fields of any message (nested objects included) that `doc` never names, as
/// `` `f` `` or `"f"`.
fn unnamed_fields(doc: &str) -> Vec<String> {
    let root = schema();
    let mut fields = BTreeSet::new();
    let mut seen = BTreeSet::new();
    for top in ["runner_message", "worker_message", "planned_op"] {
        let node = serde_json::json!({ "$ref": format!("#/$defs/{top}") });
        collect_fields(&root, &node, &mut seen, &mut fields);
    }
    fields
        .into_iter()
        .filter(|f| !doc.contains(&format!("`{f}`")) && !doc.contains(&format!("\"{f}\"")))
        .collect()
}

#[test]
fn every_field_of_every_message_is_named_in_the_document() {
    let unnamed = unnamed_fields(DOC);
    assert!(
        unnamed.is_empty(),
        "PROTOCOL.md never names these schema fields: {unnamed:?}"
    );
}

/// Negative controls: each check fires on a document that breaks its rule, for that reason.
#[test]
fn each_check_fires_on_a_document_that_breaks_it() {
    // An example the schema refuses (the old `"page_size":null`).
    let doc = DOC.replace(
        "\"checkpoint_on_close\":true},",
        "\"checkpoint_on_close\":true,\"page_size\":null},",
    );
    let p = example_problems(&doc);
    assert!(
        p.len() == 1 && p[0].contains("start.sqlite.page_size: null is not of type"),
        "{p:?}"
    );
    // A message example that is not JSON.
    let doc = DOC.replace(
        "`{\"msg\":\"ready\",\"worker\":3}`",
        "`{\"msg\":\"ready\",\"worker\":...}`",
    );
    let p = example_problems(&doc);
    assert!(p.len() == 1 && p[0].contains("not JSON"), "{p:?}");
    // A field the schema does not define.
    let doc = DOC.replace("`{\"msg\":\"go\"}`", "`{\"msg\":\"go\",\"at\":1}`");
    let p = example_problems(&doc);
    assert!(
        p.len() == 1 && p[0].contains("`at` is not in the schema"),
        "{p:?}"
    );
    // A message type shown nowhere.
    let doc = DOC.replace("`{\"msg\":\"go\"}`", "`go`");
    assert_eq!(missing_examples(&doc), ["go"]);
    // A table row renamed: one name only in the document, one only in the schema.
    let doc = DOC.replace("| `connect_early` |", "| `connect_late` |");
    let d = table_disagreements(&doc);
    assert_eq!(
        d,
        [(
            "### 1. `start`",
            vec!["connect_late".to_string()],
            vec!["connect_early".to_string()]
        )]
    );
    // A nested field the document never names.
    let doc = DOC.replace("`stop_ms`", "the stall");
    assert_eq!(unnamed_fields(&doc), ["stop_ms"]);
}

/// `reader_hold_ms` reaches an adapter: `Start::new` builds one `start` for every kind of
/// worker (the runner does not know which it talks to) and a `[worker]` scenario may set it
/// (`python-kanban-readers` does). So PROTOCOL.md must not call it the built-in worker's
/// only, as it once did, and the schema's description must not either.
#[test]
fn reader_hold_ms_is_documented_as_sent_to_every_worker() {
    use crate::protocol::{RunSpec, Start};
    use crate::scenario::{Mode, Overrides, ScenarioSource};
    let scenario = crate::scenario::parse_str(
        "name = \"s\"\n[worker]\ncommand = [\"python3\", \"w.py\"]\n\
         [workload]\nworkers = 3\nreaders = 1\nops_per_worker = 3\nreader_hold_ms = [5, 7]\n",
        &ScenarioSource::Embedded("s".into()),
    )
    .expect("an adapter's scenario may set reader_hold_ms");
    let spec = RunSpec {
        walburst_version: "0".into(),
        sqlite_version: "3".into(),
        scenario,
        source: ScenarioSource::Embedded("s".into()),
        seed: 1,
        mode: Mode::Free,
        overrides: Overrides::default(),
        schedule_hash: String::new(),
        db_path: "/r/db/kanban.db".into(),
    };
    let start = Start::new(
        &spec,
        std::path::Path::new("/r"),
        0,
        0,
        "/r/ops".into(),
        vec![],
    );
    let start = serde_json::to_value(&start).unwrap();
    assert_eq!(
        start["workload"]["reader_hold_ms"],
        serde_json::json!([5, 7])
    );
    let at = DOC
        .find("`reader_hold_ms` (")
        .expect("PROTOCOL.md's workload row names `reader_hold_ms` (...)");
    let said = &DOC[at..at + DOC[at..].find(')').unwrap()];
    assert!(
        said.contains("sent to every worker") && !said.contains("built-in worker only"),
        "{said}"
    );
    let described = schema()["$defs"]["workload"]["properties"]["reader_hold_ms"]["description"]
        .as_str()
        .map(str::to_string);
    let described = described.expect("the schema describes reader_hold_ms");
    assert!(!described.starts_with("built-in worker"), "{described}");
}
