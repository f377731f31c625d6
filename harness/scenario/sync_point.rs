//! One sync point of a `walburst run --io-sweep sync`: the `nth` sync of one file kind in one
//! worker process, with power lost right before or right after it. As `--power-loss-at
//! w1:wal:3:after` it is an override: it adds that power-loss point to the scenario's `[io]`,
//! so every point of a sweep is reproduced by one plain `walburst run`.

use std::fmt;
use std::str::FromStr;

use serde::{Deserialize, Serialize};

use super::{FileKind, IoAction, IoOp, IoPhase, IoPoint, IoWhen, Nth};

/// `w<worker>:<file>:<nth>:<before|after>`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct SyncPoint {
    pub worker: u32,
    pub file: FileKind,
    /// 1 = the first sync of that file kind in that worker process.
    pub nth: u64,
    pub when: IoWhen,
}

/// The file kinds a sync point can be on (SQLite syncs temporary files too; they carry none).
pub const SYNC_FILES: [FileKind; 3] = [FileKind::Main, FileKind::Wal, FileKind::Journal];

impl SyncPoint {
    /// The `[io]` point that loses power there.
    pub fn io_point(&self) -> IoPoint {
        IoPoint {
            file: self.file,
            op: IoOp::Sync,
            phase: IoPhase::Any,
            nth: Nth::Exact(self.nth),
            worker: Some(self.worker),
            action: IoAction::PowerLoss,
            stop_ms: 500,
            when: self.when,
        }
    }
}

impl fmt::Display for SyncPoint {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "w{}:{}:{}:{}",
            self.worker,
            self.file.name(),
            self.nth,
            self.when.name()
        )
    }
}

/// Why a `--power-loss-at` value was refused, naming what is allowed.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error(
    "`{value}`: {problem}; allowed: w<worker>:<file>:<nth>:<when>, file one of main, wal, journal, nth >= 1, when one of before, after (e.g. w0:wal:3:after)"
)]
pub struct SyncPointError {
    pub value: String,
    pub problem: &'static str,
}

impl FromStr for SyncPoint {
    type Err = SyncPointError;

    fn from_str(v: &str) -> Result<SyncPoint, SyncPointError> {
        let bad = |problem| SyncPointError {
            value: v.to_string(),
            problem,
        };
        let parts: Vec<&str> = v.split(':').collect();
        let [w, file, nth, when] = parts[..] else {
            return Err(bad("not four fields separated by `:`"));
        };
        let worker = w
            .strip_prefix('w')
            .and_then(|n| n.parse().ok())
            .ok_or_else(|| bad("the worker is not w<N>"))?;
        let file = SYNC_FILES
            .into_iter()
            .find(|k| k.name() == file)
            .ok_or_else(|| bad("unknown file kind"))?;
        let nth = nth
            .parse()
            .ok()
            .filter(|&n| n >= 1)
            .ok_or_else(|| bad("nth is not a number >= 1"))?;
        let when = IoWhen::ALL
            .into_iter()
            .find(|x| x.name() == when)
            .ok_or_else(|| bad("when is neither before nor after"))?;
        Ok(SyncPoint {
            worker,
            file,
            nth,
            when,
        })
    }
}

// In reports (`overrides.power_loss_at`) a point is its command-line text.
impl Serialize for SyncPoint {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.collect_str(self)
    }
}

impl<'de> Deserialize<'de> for SyncPoint {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<SyncPoint, D::Error> {
        let text = String::deserialize(d)?;
        text.parse().map_err(serde::de::Error::custom)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_point_reads_back_from_its_text_and_bad_text_names_what_is_allowed() {
        let p: SyncPoint = "w1:wal:3:after".parse().unwrap();
        assert_eq!(
            p,
            SyncPoint {
                worker: 1,
                file: FileKind::Wal,
                nth: 3,
                when: IoWhen::After
            }
        );
        assert_eq!(p.to_string(), "w1:wal:3:after");
        let json = serde_json::to_string(&p).unwrap();
        assert_eq!(json, "\"w1:wal:3:after\"");
        assert_eq!(serde_json::from_str::<SyncPoint>(&json).unwrap(), p);
        for bad in [
            "w1:wal:3",
            "1:wal:3:after",
            "w1:shm:3:after",
            "w1:wal:0:after",
            "w1:wal:3:during",
        ] {
            let e = bad.parse::<SyncPoint>().unwrap_err();
            assert!(e.to_string().contains("allowed: w<worker>"), "{e}");
        }
        let io = p.io_point();
        assert_eq!(
            (io.op, io.action, io.worker),
            (IoOp::Sync, IoAction::PowerLoss, Some(1))
        );
    }
}
