//! `--partition` as cargo-nextest has it (`slice:K/N`, `count:K/N`, `hash:K/N`, `KIND:ci`)
//! beside today's `--shard K/N`: which pairs each partition runs (dry runs of a tiny matrix),
//! and that the merged partitions are the unpartitioned sweep, pair by pair, down to the
//! lockstep trace and content hashes. The real binary, in temporary directories.

use std::collections::{BTreeMap, BTreeSet};
use std::path::Path;
use std::process::Command;

use serde_json::Value;
use walburst::nightly::shard::CI_VARIABLES;

const BIN: &str = env!("CARGO_BIN_EXE_walburst");

/// Four cases (WAL x {none, page-count}, DELETE x {none, page-count}); the WAL page-count
/// case fails (false reports) by design, so failures must land in the same place too.
const TINY: &str = r#"
name = "tiny"
seeds = [1]

[sqlite]
synchronous = "off"

[workload]
workers = 2
ops_per_worker = 8

[matrix]
journal_mode = ["wal", "delete"]
guard = ["none", "page-count"]
"#;

struct Out {
    code: i32,
    stdout: String,
    stderr: String,
}

impl Out {
    fn show(&self) -> String {
        format!("stdout:\n{}\nstderr:\n{}", self.stdout, self.stderr)
    }
}

/// `walburst ARGS` in `dir`, with none of the CIs' partition variables set unless `env`
/// sets them.
fn exec(dir: &Path, args: &[&str], env: &[(&str, &str)]) -> Out {
    let mut cmd = Command::new(BIN);
    cmd.args(args).current_dir(dir);
    for (index, count, _) in CI_VARIABLES {
        cmd.env_remove(index).env_remove(count);
    }
    cmd.envs(env.iter().copied());
    let o = cmd.output().expect("walburst runs");
    Out {
        code: o.status.code().unwrap_or(-1),
        stdout: String::from_utf8_lossy(&o.stdout).into_owned(),
        stderr: String::from_utf8_lossy(&o.stderr).into_owned(),
    }
}

fn setup() -> tempfile::TempDir {
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(dir.path().join("tiny.toml"), TINY).unwrap();
    dir
}

/// The pair keys a dry run of `tiny.toml --seeds SEEDS EXTRA` lists, in order.
fn dry(dir: &Path, seeds: &str, extra: &[&str], env: &[(&str, &str)]) -> Vec<String> {
    let mut args = vec!["run", "tiny.toml", "--seeds", seeds, "--dry-run"];
    args.extend_from_slice(extra);
    let o = exec(dir, &args, env);
    assert_eq!(o.code, 0, "{}", o.show());
    let mut lines: Vec<&str> = o.stdout.lines().collect();
    let last = lines.pop().unwrap_or_default();
    assert!(last.ends_with("nothing run"), "{}", o.show());
    // `<index> <key>\t<reproduce>`: the index is the pair's place in the whole sweep.
    lines
        .into_iter()
        .map(|l| {
            let pair = l.split('\t').next().unwrap();
            pair.split_once(' ')
                .map_or(pair, |(_, key)| key)
                .to_string()
        })
        .collect()
}

#[test]
fn slices_are_what_shard_did_and_hash_partitions_stay_put_when_the_sweep_grows() {
    let dir = setup();
    let d = dir.path();
    let all = dry(d, "3", &[], &[]);
    assert_eq!(all.len(), 12, "{all:?}");
    for k in 1..=3 {
        let shard = dry(d, "3", &["--shard", &format!("{k}/3")], &[]);
        assert_eq!(
            shard,
            dry(d, "3", &["--partition", &format!("slice:{k}/3")], &[])
        );
        assert_eq!(
            shard,
            dry(d, "3", &["--partition", &format!("count:{k}/3")], &[])
        );
        // Round robin over the canonical order.
        let every_third: Vec<String> = all.iter().skip(k - 1).step_by(3).cloned().collect();
        assert_eq!(shard, every_third);
    }

    let hash = |seeds: &str, k: u32| dry(d, seeds, &["--partition", &format!("hash:{k}/3")], &[]);
    let parts: Vec<Vec<String>> = (1..=3).map(|k| hash("3", k)).collect();
    let union: BTreeSet<&String> = parts.iter().flatten().collect();
    assert_eq!(
        parts.iter().map(Vec::len).sum::<usize>(),
        all.len(),
        "{parts:?}"
    );
    assert_eq!(
        union,
        all.iter().collect(),
        "the hash partitions cover every pair once"
    );
    assert!(
        parts.iter().filter(|p| !p.is_empty()).count() > 1,
        "a hash that puts every pair in one partition partitions nothing: {parts:?}"
    );
    // What hash partitions are for: one more seed adds pairs but moves none.
    for k in 1..=3u32 {
        let grown: BTreeSet<String> = hash("3", k).into_iter().collect();
        let before: BTreeSet<String> = hash("2", k).into_iter().collect();
        let old_pairs: BTreeSet<String> = dry(d, "2", &[], &[]).into_iter().collect();
        assert_eq!(
            grown
                .intersection(&old_pairs)
                .cloned()
                .collect::<BTreeSet<_>>(),
            before,
            "hash:{k}/3 moved pairs when the sweep grew"
        );
    }

    // KIND:ci reads the CI's variables, and only then (each CI counts its own way).
    let gitlab = [("CI_NODE_INDEX", "2"), ("CI_NODE_TOTAL", "3")];
    assert_eq!(dry(d, "3", &["--partition", "hash:ci"], &gitlab), parts[1]);
    let circle = [("CIRCLE_NODE_INDEX", "0"), ("CIRCLE_NODE_TOTAL", "3")];
    assert_eq!(dry(d, "3", &["--partition", "hash:ci"], &circle), parts[0]);
    assert_eq!(dry(d, "3", &["--partition", "hash:3/3"], &gitlab), parts[2]);
    assert_eq!(
        dry(d, "3", &["--partition", "slice:ci"], &gitlab),
        dry(d, "3", &["--shard", "2/3"], &[])
    );

    // Refused before anything runs: exit 2, naming the flag and what is allowed.
    let refused = |args: &[&str], env: &[(&str, &str)], says: &str| {
        let mut all_args = vec!["run", "tiny.toml", "--seeds", "2"];
        all_args.extend_from_slice(args);
        all_args.extend_from_slice(&["--out", "out"]);
        let o = exec(d, &all_args, env);
        assert_eq!(o.code, 2, "{args:?}\n{}", o.show());
        assert!(
            o.stderr.contains(says),
            "{args:?} should say {says:?}\n{}",
            o.show()
        );
        assert!(!d.join("out").exists(), "{args:?} wrote something");
    };
    refused(
        &["--partition", "hash:ci"],
        &[],
        "CI_NODE_INDEX/CI_NODE_TOTAL",
    );
    refused(
        &["--partition", "hash:ci"],
        &[("CI_NODE_INDEX", "4"), ("CI_NODE_TOTAL", "3")],
        "CI_NODE_INDEX=4 and CI_NODE_TOTAL=3 are not a partition",
    );
    refused(&["--partition", "hash:4/3"], &[], "KIND:K/N");
    refused(&["--partition", "mod:1/3"], &[], "slice, count or hash");
    refused(
        &["--partition", "hash:1/3", "--shard", "1/3"],
        &[],
        "--shard",
    );
}

fn json(path: &Path) -> Value {
    serde_json::from_str(&std::fs::read_to_string(path).unwrap())
        .unwrap_or_else(|e| panic!("{}: {e}", path.display()))
}

/// Pair name -> (status, schedule hash, trace hash, content hash) of a sweep summary, each
/// read from the pair's own report.
fn outcomes(dir: &Path, summary: &Value) -> BTreeMap<String, [String; 4]> {
    summary["results"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| {
            let report = e["result"]["report"]
                .as_str()
                .unwrap_or_else(|| panic!("no report for {e}"));
            let r = json(&dir.join(report));
            let s = |v: &Value| v.as_str().unwrap_or("(none)").to_string();
            (
                s(&e["pair"]["name"]),
                [
                    s(&e["result"]["status"]),
                    s(&r["schedule_hash"]),
                    s(&r["trace_hash"]),
                    s(&r["content_hash"]),
                ],
            )
        })
        .collect()
}

#[test]
fn merged_hash_partitions_are_the_unpartitioned_sweep() {
    let dir = setup();
    let d = dir.path();
    // Lockstep: the interleaving is the seed's, so each pair's trace and content hashes
    // must come back the same wherever it ran.
    let sweep = |out: &str, extra: &[&str]| {
        let mut args = vec![
            "run",
            "tiny.toml",
            "--seeds",
            "2",
            "--mode",
            "lockstep",
            "-q",
            "--out",
            out,
            "--work-dir",
            "work",
        ];
        args.extend_from_slice(extra);
        let o = exec(d, &args, &[]);
        assert!(o.code == 0 || o.code == 1, "{}", o.show());
        o
    };
    let whole = sweep("all", &[]);
    assert_eq!(
        whole.code,
        1,
        "the WAL page-count case fails\n{}",
        whole.show()
    );
    for k in 1..=3 {
        sweep(&format!("p{k}"), &["--partition", &format!("hash:{k}/3")]);
    }
    assert!(d.join("p2/sweep-index-hash2of3.jsonl").is_file());
    let m = exec(d, &["merge", "p1", "p2", "p3", "--out", "merged"], &[]);
    assert_eq!(m.code, 1, "{}", m.show());
    assert!(
        m.stdout.contains("hash partitions present 3/3"),
        "{}",
        m.show()
    );

    let unpartitioned = json(&d.join("all/sweep-summary.json"));
    let merged = json(&d.join("merged/merged-summary.json"));
    assert_eq!(merged["sweep_hash"], unpartitioned["sweep_hash"]);
    assert_eq!(merged["totals"], unpartitioned["totals"]);
    assert_eq!(merged["shards"]["kind"], "hash");
    let (a, b) = (outcomes(d, &unpartitioned), outcomes(d, &merged));
    assert_eq!(a.len(), 8);
    assert_eq!(
        a, b,
        "pair by pair: status, schedule, trace and content hashes"
    );
    assert!(a.values().any(|v| v[0] == "fail") && a.values().any(|v| v[0] == "pass"));
    assert!(a.values().all(|v| v[2].starts_with("sha256:")), "{a:?}");

    // Partitions of two kinds are not one sweep's partitions.
    let s = sweep("s1", &["--shard", "1/3"]);
    assert!(s.code <= 1);
    let mixed = exec(d, &["merge", "s1", "p2", "p3", "--out", "mixed"], &[]);
    assert_eq!(mixed.code, 2, "{}", mixed.show());
    assert!(
        mixed.stderr.contains("merge the partitions of one kind"),
        "{}",
        mixed.show()
    );
    assert!(!d.join("mixed").exists());
}
