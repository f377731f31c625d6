//! Checkpoint starvation (issue 24, item 3), as SQLite's threadtest3 checks it: the WAL's
//! peak size in frames must stay under a bound derived from `wal_autocheckpoint`. After a
//! commit leaves the WAL at `wal_autocheckpoint` frames or more, the committing connection
//! runs a PASSIVE checkpoint; once it has copied every frame back and no reader still needs
//! the old ones, the next writer rewrites the WAL from its start. So a WAL that is not starved
//! holds at most the limit, plus the commits that land between the one that crosses it and the
//! writer that restarts it: the bound is twice the limit. Readers that keep a snapshot open
//! continuously stop the restart, and the WAL grows past any bound (threadtest3's
//! `checkpoint_starvation_1`); a RESTART or TRUNCATE checkpoint waits for them instead
//! (`checkpoint_starvation_2`).
//!
//! The input is each record's `wal_frames` (the `-wal` file's size after the op's COMMIT or
//! checkpoint, `worker::wal_size`). Judged only in WAL mode with automatic checkpoints on and
//! something measured; otherwise the report says why not.

use serde::{Deserialize, Serialize};

use crate::observe::OpRecord;
use crate::scenario::{JournalMode, Scenario};

/// The bound is this many times `wal_autocheckpoint`.
pub const BOUND_FACTOR: u64 = 2;

/// What the report's `checks.wal_growth` carries.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct WalGrowth {
    /// Records that measured the WAL.
    pub measurements: u64,
    /// The most frames any of them saw, and which op saw it first.
    pub peak_frames: u64,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub peak_at: Option<String>,
    pub wal_autocheckpoint: u32,
    /// How the WAL was checkpointed: `auto (passive)`, plus the checkpoint ops' mode if any.
    pub checkpoints: String,
    /// `BOUND_FACTOR x wal_autocheckpoint`; absent when not judged.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub bound: Option<u64>,
    /// `expect.wal_growth = "bounded"`: a peak over the bound fails the run; otherwise it is
    /// only reported.
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub asserted: bool,
    /// Why the peak was not judged against a bound.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub not_judged: Option<String>,
}

impl WalGrowth {
    /// The peak is over its bound (whether or not that is asserted).
    pub fn starved(&self) -> bool {
        self.bound.is_some_and(|b| self.peak_frames > b)
    }
}

/// Judges the WAL's peak; `None` outside WAL mode (there is no WAL to starve).
pub fn check(s: &Scenario, records: &[OpRecord]) -> Option<WalGrowth> {
    if s.sqlite.journal_mode != JournalMode::Wal {
        return None;
    }
    let w = &s.workload;
    let explicit = w.checkpointers > 0 || w.mix.checkpoint > 0;
    let auto = s.sqlite.wal_autocheckpoint;
    let mut g = WalGrowth {
        wal_autocheckpoint: auto,
        asserted: s.expect.wal_growth == crate::scenario::WalGrowthExpectation::Bounded,
        checkpoints: match (auto > 0, explicit) {
            (true, false) => "auto (passive)".to_string(),
            (true, true) => format!(
                "auto (passive) and checkpoint ops ({})",
                w.checkpoint_mode.as_sql().to_lowercase()
            ),
            (false, true) => format!(
                "checkpoint ops ({}) only",
                w.checkpoint_mode.as_sql().to_lowercase()
            ),
            (false, false) => "none".to_string(),
        },
        ..WalGrowth::default()
    };
    for r in records {
        let Some(frames) = r.wal_frames else {
            continue;
        };
        g.measurements += 1;
        if frames > g.peak_frames || g.peak_at.is_none() {
            g.peak_frames = frames;
            g.peak_at = Some(format!(
                "worker {} actor {} seq {} ({})",
                r.worker,
                r.actor,
                r.seq,
                r.kind.name()
            ));
        }
    }
    if g.measurements == 0 {
        g.not_judged =
            Some("no op measured the WAL (an external worker, or none committed)".into());
    } else if auto == 0 {
        g.not_judged = Some(
            "wal_autocheckpoint = 0: no automatic checkpoint, so no bound derives from it".into(),
        );
    } else {
        g.bound = Some(BOUND_FACTOR * u64::from(auto));
    }
    Some(g)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::scenario::{ScenarioSource, parse_str};

    fn scenario(extra: &str) -> Scenario {
        let toml = format!(
            "name = \"w\"\n[sqlite]\njournal_mode = \"wal\"\nwal_autocheckpoint = 100\n{extra}"
        );
        parse_str(&toml, &ScenarioSource::Embedded("w".into())).unwrap()
    }

    fn rec(seq: u32, frames: Option<u64>) -> OpRecord {
        let mut r: OpRecord = serde_json::from_value(serde_json::json!({
            "worker": 1, "actor": 0, "seq": seq, "kind": "create_task", "outcome": "committed",
            "t_start_ns": 0, "t_end_ns": 0,
        }))
        .unwrap();
        r.wal_frames = frames;
        r
    }

    #[test]
    fn a_peak_within_twice_the_limit_passes_and_says_what_it_judged() {
        let g = check(
            &scenario(""),
            &[rec(0, Some(30)), rec(1, Some(200)), rec(2, None)],
        )
        .unwrap();
        assert_eq!(
            (g.measurements, g.peak_frames, g.bound),
            (2, 200, Some(200))
        );
        assert_eq!(
            g.peak_at.as_deref(),
            Some("worker 1 actor 0 seq 1 (create_task)")
        );
        assert_eq!(g.checkpoints, "auto (passive)");
        assert_eq!(
            g.wal_autocheckpoint, 100,
            "the limit the bound derives from"
        );
        assert!(!g.asserted, "no expect.wal_growth: only reported");
        assert!(!g.starved());
        let mut s = scenario("");
        s.expect.wal_growth = crate::scenario::WalGrowthExpectation::Bounded;
        assert!(check(&s, &[rec(0, Some(1))]).unwrap().asserted);
    }

    /// The detector's own control: one frame over the bound is starvation.
    #[test]
    fn a_peak_over_the_bound_is_starvation() {
        let g = check(
            &scenario(""),
            &[rec(0, Some(201)), rec(1, Some(5)), rec(2, Some(201))],
        )
        .unwrap();
        assert!(g.starved());
        assert_eq!(
            g.peak_at.as_deref(),
            Some("worker 1 actor 0 seq 0 (create_task)"),
            "the op that saw the peak first"
        );
    }

    /// The report says how the WAL was checkpointed: a checkpointer role alone, checkpoint
    /// ops in the mix alone, or both, each counts as explicit checkpoints.
    #[test]
    fn the_checkpoints_line_names_checkpointers_and_checkpoint_ops_each_alone() {
        let line = |checkpointers: u32, mix: u32, auto: u32| {
            let mut s = scenario("");
            s.workload.checkpointers = checkpointers;
            s.workload.mix.checkpoint = mix;
            s.sqlite.wal_autocheckpoint = auto;
            check(&s, &[rec(0, Some(1))]).unwrap().checkpoints
        };
        assert_eq!(line(0, 0, 100), "auto (passive)");
        assert_eq!(
            line(1, 0, 100),
            "auto (passive) and checkpoint ops (passive)"
        );
        assert_eq!(
            line(0, 1, 100),
            "auto (passive) and checkpoint ops (passive)"
        );
        assert_eq!(
            line(2, 3, 100),
            "auto (passive) and checkpoint ops (passive)"
        );
        assert_eq!(line(1, 0, 0), "checkpoint ops (passive) only");
        assert_eq!(line(0, 0, 0), "none");
    }

    /// A check that judged nothing says so: no measurement, or no automatic checkpoint; and
    /// outside WAL mode there is nothing to judge at all.
    #[test]
    fn unjudged_runs_say_why() {
        let g = check(&scenario(""), &[rec(0, None)]).unwrap();
        assert!(g.not_judged.unwrap().starts_with("no op measured"));
        let off = scenario("").sqlite.clone();
        let mut s = scenario("");
        s.sqlite = crate::scenario::SqliteConfig {
            wal_autocheckpoint: 0,
            ..off
        };
        let g = check(&s, &[rec(0, Some(9999))]).unwrap();
        assert!(!g.starved());
        assert!(g.not_judged.unwrap().starts_with("wal_autocheckpoint = 0"));
        s.sqlite.journal_mode = JournalMode::Delete;
        assert_eq!(check(&s, &[rec(0, Some(1))]), None);
    }
}
