//! Pictures of runs: the timeline SVG, latency views and one self-contained HTML page per
//! run, per comparison and per merged nightly. A layer after `report`: it reads reports and
//! op records and never feeds anything back, so drawing cannot change a verdict; callers
//! write the JSON report first and turn a drawing error into a note.

mod frame;
pub mod html;
mod invariants;
mod isolation;
pub mod latency;
mod marks;
mod page;
pub mod paths;
pub mod steps;
pub mod svg;
pub mod timeline;

use std::path::{Path, PathBuf};
use std::time::Instant;

use crate::check::verdict::VerdictKind;
use crate::observe::lockstep::TraceEntry;
use crate::observe::{OpRecord, RunTimes};
use crate::report::Report;

/// Run-directory files the renderer reads (written by `run` for kept runs).
pub const RECORDS_FILE: &str = "records.jsonl";
pub const TRACE_FILE: &str = "trace.jsonl";
pub const EVENTS_FILE: &str = "events.json";

/// Colours shared by the timelines and the HTML legend.
pub mod colors {
    pub const COMMITTED: &str = "#2ca02c";
    pub const COMMIT_PHASE: &str = "#145214";
    pub const ROLLED_BACK: &str = "#9e9e9e";
    pub const FAILED: &str = "#d62728";
    pub const AMBIGUOUS: &str = "#e6b800";
    pub const BUSY_WAIT: &str = "#ff7f0e";
    pub const FLOCK_WAIT: &str = "#9467bd";
    pub const CHECKPOINT: &str = "#1f77b4";
    pub const GUARD_FALSE: &str = "#e377c2";
    pub const GUARD_REAL: &str = "#d62728";
    pub const KILL: &str = "#000000";
    pub const RESPAWN: &str = "#17becf";
    pub const STALL: &str = "#d62728";
    pub const SIDECAR: &str = "#d62728";
    pub const INIT_LOCK: &str = "#7f7f7f";
    pub const IO_FAULT: &str = "#8c564b";
    pub const BREACH: &str = "#d62728";
    /// Shm steps (`[lockstep] points = "shm"`), by the wal-index slot they lock or release.
    pub const SHM_WRITE: &str = "#8b0000";
    pub const SHM_CKPT: &str = "#0b4f8a";
    pub const SHM_READ: &str = "#6fbf73";
    pub const SHM_RECOVER: &str = "#bcbd22";
    pub const SHM_BARRIER: &str = "#b0b0b0";
    /// The WAL-header write and the checkpoint's xUnfetch: colours no other mark uses.
    pub const SHM_WAL_HEADER: &str = "#6a3d9a";
    pub const SHM_UNFETCH: &str = "#ff00ff";
}

/// Everything a run's pictures are drawn from. `records`, `trace` and `times` are empty /
/// absent when the run directory is gone: the page then says so instead of a timeline.
pub struct RunData<'a> {
    pub report: &'a Report,
    pub records: &'a [OpRecord],
    pub trace: &'a [TraceEntry],
    pub times: Option<&'a RunTimes>,
}

pub fn verdict_word(r: &Report) -> &'static str {
    match r.verdict {
        VerdictKind::Pass => "PASS",
        VerdictKind::Fail => "FAIL",
        VerdictKind::Interrupted => "INTERRUPTED",
    }
}

/// `none`, `false` or `real`, as in the report.
pub fn classification_word(c: crate::check::Classification) -> &'static str {
    use crate::check::Classification as C;
    match c {
        C::None => "none",
        C::False => "false",
        C::Real => "real",
    }
}

/// The timeline of a run: the step axis in lockstep, time otherwise. `None` when there is
/// nothing to draw from.
pub fn timeline_svg(d: &RunData) -> Option<String> {
    if !d.trace.is_empty() {
        steps::render(d)
    } else {
        timeline::render(d)
    }
}

/// What a run directory still holds for drawing.
#[derive(Default)]
pub struct RunFiles {
    pub records: Vec<OpRecord>,
    pub trace: Vec<TraceEntry>,
    pub times: Option<RunTimes>,
    /// Why something could not be read (the page shows these).
    pub notes: Vec<String>,
}

fn read_jsonl<T: serde::de::DeserializeOwned>(path: &Path) -> anyhow::Result<Vec<T>> {
    let text = std::fs::read_to_string(path)?;
    text.lines()
        .filter(|l| !l.trim().is_empty())
        .enumerate()
        .map(|(i, l)| {
            serde_json::from_str(l)
                .map_err(|e| anyhow::anyhow!("{} line {}: {e}", path.display(), i + 1))
        })
        .collect()
}

/// Reads records, trace and events from a kept run directory.
pub fn load_run_dir(report: &Report) -> RunFiles {
    let mut f = RunFiles::default();
    let Some(dir) = &report.run_dir else {
        f.notes.push(
            "the run directory was deleted (a passing run without --keep): no op records, so no timeline or lock-wait view; run again with --keep to draw them".into(),
        );
        return f;
    };
    if !dir.is_dir() {
        f.notes.push(format!(
            "the run directory {} is gone: no op records, so no timeline or lock-wait view",
            dir.display()
        ));
        return f;
    }
    match read_jsonl(&dir.join(RECORDS_FILE)) {
        Ok(r) => f.records = r,
        Err(e) => f.notes.push(format!("cannot read the op records: {e:#}")),
    }
    let trace = dir.join(TRACE_FILE);
    if trace.is_file() {
        match read_jsonl(&trace) {
            Ok(t) => f.trace = t,
            Err(e) => f
                .notes
                .push(format!("cannot read the lockstep trace: {e:#}")),
        }
    }
    let events = dir.join(EVENTS_FILE);
    if events.is_file() {
        match std::fs::read(&events)
            .map_err(anyhow::Error::from)
            .and_then(|b| serde_json::from_slice(&b).map_err(anyhow::Error::from))
        {
            Ok(t) => f.times = Some(t),
            Err(e) => f.notes.push(format!(
                "cannot read {}: {e:#}; kills are placed approximately",
                events.display()
            )),
        }
    }
    f
}

/// `reports/X.json` -> `reports/X.html`.
pub fn html_path_for(json: &Path) -> PathBuf {
    json.with_extension("html")
}

/// What drawing a run's page produced.
pub struct Rendered {
    pub html: PathBuf,
    pub svg: Option<PathBuf>,
    pub millis: f64,
}

/// Draws a run's page (and, if asked, its timeline alone) and writes them atomically.
pub fn write_run_page(
    d: &RunData,
    notes: &[String],
    html: &Path,
    svg: Option<&Path>,
) -> anyhow::Result<Rendered> {
    let t = Instant::now();
    let timeline = timeline_svg(d);
    let page = page::run_page(d, timeline.as_deref(), notes);
    crate::report::write_atomic(html, page.as_bytes())?;
    let svg = match (svg, &timeline) {
        (Some(p), Some(s)) => {
            crate::report::write_atomic(p, s.as_bytes())?;
            Some(p.to_path_buf())
        }
        (Some(_), None) => {
            anyhow::bail!("there is no timeline to write: the run has no op records")
        }
        (None, _) => None,
    };
    Ok(Rendered {
        html: html.to_path_buf(),
        svg,
        millis: t.elapsed().as_secs_f64() * 1e3,
    })
}

#[cfg(test)]
mod tests;
