//! `walburst merge DIR...`: shard results (their run indexes) back into one summary JSON,
//! one JUnit file and one markdown summary. Every pair of the sweep appears exactly once:
//! a shard that is missing, or stopped before a pair finished, shows as `not run`, never
//! as a pass.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use super::event::{SweepEvent, SweepReporter};
use super::summary::{Entry, PairResult, ShardInfo, Summary};
use super::sweep::{INDEX_FORMAT, IndexLine, SweepHeader, read_index, write_summary};
use super::{Ended, MergeError};
use crate::error::Chain;

#[derive(Debug)]
pub struct MergeRequest {
    /// Shard result directories (each a sweep's --out, holding sweep-index*.jsonl), or
    /// index files themselves.
    pub dirs: Vec<PathBuf>,
    /// Where merged-summary.json, merged-junit.xml and merged-summary.md go.
    pub out: PathBuf,
}

fn is_index_name(p: &Path) -> bool {
    p.file_name()
        .and_then(|n| n.to_str())
        .is_some_and(|n| n.starts_with("sweep-index") && n.ends_with(".jsonl"))
}

fn index_files(dirs: &[PathBuf]) -> Result<Vec<PathBuf>, MergeError> {
    let mut files = Vec::new();
    for d in dirs {
        if d.is_file() {
            files.push(d.clone());
            continue;
        }
        let rd = std::fs::read_dir(d).map_err(|error| MergeError::Unreadable {
            path: d.clone(),
            error,
        })?;
        let mut found: Vec<PathBuf> = rd
            .filter_map(|e| e.ok().map(|e| e.path()))
            .filter(|p| p.is_file() && is_index_name(p))
            .collect();
        if found.is_empty() {
            return Err(MergeError::NoIndex(d.clone()));
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

fn read_part(path: &Path) -> Result<Part, MergeError> {
    let lines = read_index(path)?;
    let mut it = lines.into_iter();
    let header = match it.next() {
        Some(IndexLine::Sweep(h)) if h.format == INDEX_FORMAT => h,
        Some(IndexLine::Sweep(h)) => {
            return Err(MergeError::Format {
                path: path.to_path_buf(),
                found: h.format,
                expected: INDEX_FORMAT,
            });
        }
        _ => return Err(MergeError::NoHeader(path.to_path_buf())),
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
                return Err(MergeError::SecondHeader(path.to_path_buf()));
            }
        }
    }
    Ok(part)
}

/// Merges the parts into one summary; errors are bad input (exit 2).
fn merge(parts: Vec<Part>) -> Result<Summary, MergeError> {
    let first = &parts[0];
    let hash = first.header.sweep_hash.clone();
    let count = first.header.shard.map_or(1, |s| s.count);
    let kind = first.header.shard.map(|s| s.kind).unwrap_or_default();
    let mut by_shard: BTreeMap<u32, &Part> = BTreeMap::new();
    for p in &parts {
        if p.header.sweep_hash != hash {
            return Err(MergeError::DifferentSweeps {
                first: first.path.clone(),
                other: p.path.clone(),
                first_hash: super::summary::short_hash(&hash).to_string(),
                other_hash: super::summary::short_hash(&p.header.sweep_hash).to_string(),
            });
        }
        let (k, n) = p.header.shard.map_or((1, 1), |s| (s.index, s.count));
        let other_kind = p.header.shard.map(|s| s.kind).unwrap_or_default();
        if other_kind != kind {
            return Err(MergeError::PartitionKinds {
                path: p.path.clone(),
                kind: other_kind.word(),
                first: first.path.clone(),
                expected: kind.word(),
            });
        }
        if n != count {
            return Err(MergeError::ShardCount {
                path: p.path.clone(),
                index: k,
                count: n,
                first: first.path.clone(),
                expected: count,
            });
        }
        if let Some(other) = by_shard.insert(k, p) {
            return Err(MergeError::ShardTwice {
                index: k,
                count: n,
                a: other.path.clone(),
                b: p.path.clone(),
            });
        }
    }
    let pairs = &first.header.pairs;
    let mut entries = Vec::with_capacity(pairs.len());
    for (i, pair) in pairs.iter().enumerate() {
        let k = kind.owner(count, i, &pair.key());
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
        kind,
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

/// `walburst merge`: `Err` is bad input, found before anything is written. What it says
/// goes to `reporter` (`--quiet` is the reporter's: the failures and the totals).
pub fn merge_command(
    a: MergeRequest,
    reporter: &mut dyn SweepReporter,
) -> Result<Ended, MergeError> {
    let files = index_files(&a.dirs)?;
    let parts = files
        .iter()
        .map(|f| read_part(f))
        .collect::<Result<Vec<Part>, MergeError>>()?;
    let summary = merge(parts)?;
    crate::report::outputs::check_dir("--out", &a.out).map_err(MergeError::Output)?;
    let json = a.out.join("merged-summary.json");
    let md = a.out.join("merged-summary.md");
    let junit = a.out.join("merged-junit.xml");
    let written =
        write_summary(&summary, &json, &md).and_then(|_| super::junit::write(&summary, &junit));
    if let Err(e) = written {
        reporter.sweep_event(&SweepEvent::MergeUnwritten(Chain(&e).to_string()));
        return Ok(Ended::Unwritten);
    }
    // The summaries are written; the page is drawn from them and can fail only on its own.
    let html = a.out.join("merged-summary.html");
    let page = crate::report::write_atomic(&html, super::page::render(&summary, &a.out).as_bytes());
    reporter.sweep_event(&SweepEvent::Merge {
        files: files.len(),
        summary: &summary,
    });
    reporter.sweep_event(&SweepEvent::Recap(&summary));
    reporter.sweep_event(&SweepEvent::MergeWritten {
        json: &json,
        md: &md,
        junit: &junit,
    });
    match page {
        Ok(()) => reporter.sweep_event(&SweepEvent::MergePage(&html)),
        Err(e) => reporter.sweep_event(&SweepEvent::MergePageNotDrawn(Chain(&e).to_string())),
    }
    reporter.sweep_event(&SweepEvent::Totals {
        totals: summary.totals,
        unwritten: 0,
    });
    Ok(if summary.totals.not_passed() == 0 {
        Ended::Pass
    } else {
        Ended::Fail
    })
}
