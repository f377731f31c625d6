//! `walburst merge DIR...`: shard results (their run indexes) back into one summary JSON,
//! one JUnit file and one markdown summary. Every pair of the sweep appears exactly once:
//! a shard that is missing, or stopped before a pair finished, shows as `not run`, never
//! as a pass.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use clap::Args;

use super::progress::Progress;
use super::summary::{Entry, PairResult, ShardInfo, Summary};
use super::sweep::{INDEX_FORMAT, IndexLine, SweepHeader, print_recap, read_index, write_summary};
use crate::exit::{EXIT_FAIL, EXIT_PASS, EXIT_USAGE};

#[derive(Debug, Args)]
pub struct MergeArgs {
    /// Shard result directories (each a sweep's --out, holding sweep-index*.jsonl), or
    /// index files themselves.
    #[arg(value_name = "DIR", required = true)]
    pub dirs: Vec<PathBuf>,
    /// Where merged-summary.json, merged-junit.xml and merged-summary.md go.
    #[arg(long, value_name = "DIR", default_value = "reports/merged")]
    pub out: PathBuf,
    /// Print only the failures and the totals.
    #[arg(long, short)]
    pub quiet: bool,
}

fn is_index_name(p: &Path) -> bool {
    p.file_name()
        .and_then(|n| n.to_str())
        .is_some_and(|n| n.starts_with("sweep-index") && n.ends_with(".jsonl"))
}

fn index_files(dirs: &[PathBuf]) -> Result<Vec<PathBuf>, String> {
    let mut files = Vec::new();
    for d in dirs {
        if d.is_file() {
            files.push(d.clone());
            continue;
        }
        let rd = std::fs::read_dir(d).map_err(|e| format!("{}: cannot read: {e}", d.display()))?;
        let mut found: Vec<PathBuf> = rd
            .filter_map(|e| e.ok().map(|e| e.path()))
            .filter(|p| p.is_file() && is_index_name(p))
            .collect();
        if found.is_empty() {
            return Err(format!(
                "{}: no sweep-index*.jsonl here (give the --out directory of a sweep)",
                d.display()
            ));
        }
        found.sort();
        files.extend(found);
    }
    Ok(files)
}

struct Part {
    path: PathBuf,
    header: SweepHeader,
    results: BTreeMap<usize, PairResult>,
    started: Vec<usize>,
    wall_secs: Option<f64>,
}

fn read_part(path: &Path) -> Result<Part, String> {
    let lines = read_index(path).map_err(|e| format!("{e:#}"))?;
    let mut it = lines.into_iter();
    let header = match it.next() {
        Some(IndexLine::Sweep(h)) if h.format == INDEX_FORMAT => h,
        Some(IndexLine::Sweep(h)) => {
            return Err(format!(
                "{}: index format {} (this walburst reads {INDEX_FORMAT})",
                path.display(),
                h.format
            ));
        }
        _ => {
            return Err(format!(
                "{}: does not start with a sweep header",
                path.display()
            ));
        }
    };
    let mut part = Part {
        path: path.to_path_buf(),
        header,
        results: BTreeMap::new(),
        started: Vec::new(),
        wall_secs: None,
    };
    for line in it {
        match line {
            IndexLine::Start { index, .. } => part.started.push(index),
            IndexLine::Result { index, result, .. } => {
                part.results.insert(index, result);
            }
            IndexLine::End { wall_secs, .. } => part.wall_secs = Some(wall_secs),
            IndexLine::Sweep(_) => {
                return Err(format!("{}: a second sweep header", path.display()));
            }
        }
    }
    Ok(part)
}

/// Merges the parts into one summary; errors are bad input (exit 2).
fn merge(parts: Vec<Part>) -> Result<Summary, String> {
    let first = &parts[0];
    let hash = first.header.sweep_hash.clone();
    let count = first.header.shard.map_or(1, |s| s.count);
    let mut by_shard: BTreeMap<u32, &Part> = BTreeMap::new();
    for p in &parts {
        if p.header.sweep_hash != hash {
            return Err(format!(
                "{} and {} are from different sweeps ({} vs {}): merge the shards of one sweep (same command, same --date)",
                first.path.display(),
                p.path.display(),
                super::summary::short_hash(&hash),
                super::summary::short_hash(&p.header.sweep_hash)
            ));
        }
        let (k, n) = p.header.shard.map_or((1, 1), |s| (s.index, s.count));
        if n != count {
            return Err(format!(
                "{} is shard {k}/{n} but {} is of {count} shards",
                p.path.display(),
                first.path.display()
            ));
        }
        if let Some(other) = by_shard.insert(k, p) {
            return Err(format!(
                "shard {k}/{n} appears twice: {} and {}",
                other.path.display(),
                p.path.display()
            ));
        }
    }
    let pairs = &first.header.pairs;
    let mut entries = Vec::with_capacity(pairs.len());
    for (i, pair) in pairs.iter().enumerate() {
        let k = (i % count as usize) as u32 + 1;
        let result = match by_shard.get(&k) {
            None => PairResult::not_run(&format!(
                "shard {k}/{count} is missing: its results were not given to merge"
            )),
            Some(p) => match p.results.get(&i) {
                Some(r) => r.clone(),
                None if p.started.contains(&i) => PairResult::not_run(&format!(
                    "started in shard {k}/{count} but never finished (the shard was stopped)"
                )),
                None => PairResult::not_run(&format!(
                    "never started: shard {k}/{count} stopped before it"
                )),
            },
        };
        entries.push(Entry {
            pair: pair.clone(),
            shard: (count > 1).then_some(k),
            result,
        });
    }
    let present: Vec<u32> = by_shard.keys().copied().collect();
    let missing: Vec<u32> = (1..=count).filter(|k| !by_shard.contains_key(k)).collect();
    let walls: Vec<f64> = by_shard
        .values()
        .map(|p| {
            p.wall_secs
                .unwrap_or_else(|| p.results.values().map(|r| r.wall_secs).sum())
        })
        .collect();
    let wall = walls.iter().copied().fold(0.0, f64::max);
    let shards = (count > 1 || first.header.shard.is_some()).then(|| ShardInfo {
        count,
        present,
        missing,
        wall_secs: walls
            .iter()
            .map(|w| (w * 1000.0).round() / 1000.0)
            .collect(),
    });
    Ok(Summary::new(
        hash,
        shards,
        first.header.base_seed,
        first.header.nightly_date.clone(),
        wall,
        entries,
    ))
}

pub fn merge_command(a: MergeArgs) -> i32 {
    let bad = |m: String| {
        eprintln!("error: {m}");
        EXIT_USAGE
    };
    let files = match index_files(&a.dirs) {
        Ok(f) => f,
        Err(m) => return bad(m),
    };
    let mut parts = Vec::new();
    for f in &files {
        match read_part(f) {
            Ok(p) => parts.push(p),
            Err(m) => return bad(m),
        }
    }
    let summary = match merge(parts) {
        Ok(s) => s,
        Err(m) => return bad(m),
    };
    if let Err(m) = crate::report::outputs::check_dir("--out", &a.out) {
        return bad(m.to_string());
    }
    let progress = Progress::new(0, true);
    let json = a.out.join("merged-summary.json");
    let md = a.out.join("merged-summary.md");
    let junit = a.out.join("merged-junit.xml");
    let written =
        write_summary(&summary, &json, &md).and_then(|_| super::junit::write(&summary, &junit));
    if let Err(e) = written {
        eprintln!("error: {e:#}");
        return crate::exit::EXIT_UNWRITTEN;
    }
    // The summaries are written; the page is drawn from them and can fail only on its own.
    let html = a.out.join("merged-summary.html");
    let page = super::write_atomic(&html, super::page::render(&summary).as_bytes());
    if !a.quiet {
        let shards = summary.shards.as_ref().map_or(String::new(), |s| {
            format!(
                ", shards present {}/{}{}",
                s.present.len(),
                s.count,
                if s.missing.is_empty() {
                    String::new()
                } else {
                    format!(" (MISSING {})", s.missing_list())
                }
            )
        });
        progress.line(&format!(
            "MERGE {} index files: sweep {}, {} pairs{shards}",
            files.len(),
            super::summary::short_hash(&summary.sweep_hash),
            summary.totals.pairs
        ));
    }
    print_recap(&progress, &summary);
    if !a.quiet {
        progress.line(&format!(
            "summary: {} ({}); junit: {}",
            json.display(),
            md.display(),
            junit.display()
        ));
    }
    match page {
        Ok(()) if !a.quiet => progress.line(&format!("page: {}", html.display())),
        Ok(()) => {}
        Err(e) => progress.line(&format!("note: the merged page could not be drawn: {e:#}")),
    }
    progress.line(&summary.totals.line());
    if summary.totals.not_passed() == 0 {
        EXIT_PASS
    } else {
        EXIT_FAIL
    }
}
