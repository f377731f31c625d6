//! The built-in worker's checkpoint op: `PRAGMA wal_checkpoint(MODE)` as a gated step, with
//! a seeded kill inside it where the scenario asks for one, and the WAL's size after it.

use super::*;

impl Actor<'_> {
    pub(super) fn checkpoint(&self, conn: &Connection, rec: &mut OpRecord) {
        let st = &self.spec.strategy;
        let wanted = st.lock_checkpoints && st.write_lock_scope == LockScope::Transaction;
        let Ok(_held) = self.transaction_lock(wanted, rec) else {
            return;
        };
        let lockstep = self.gate.is_lockstep();
        if !lockstep
            && self
                .kills
                .iter()
                .any(|k| k.seq == rec.seq && k.point == KillPoint::Checkpoint)
        {
            // Free mode: land the kill while the checkpoint runs, a timer a seeded few
            // microseconds in ("somewhere during"). Lockstep uses a fixed point instead.
            let delay = stream(
                self.spec.seed,
                "kill-timer",
                u64::from(self.worker),
                u64::from(rec.seq),
            )
            .random_range(0..2000u64);
            let (w, a, seq) = (self.worker, self.actor, rec.seq);
            std::thread::spawn(move || {
                std::thread::sleep(Duration::from_micros(delay));
                die(RecordSink::global(), w, a, seq, KillPoint::Checkpoint);
            });
        }
        let mode = self.spec.workload.checkpoint_mode.as_sql();
        let res = self.gate.step(
            StepAction::Checkpoint,
            || {
                let r = conn.query_row(&format!("PRAGMA wal_checkpoint({mode})"), [], |r| {
                    Ok([r.get(0)?, r.get(1)?, r.get(2)?])
                });
                // Lockstep: a fixed point inside the gated step, after SQLite's checkpoint
                // returned and before its result is reported, the same in every run.
                if lockstep {
                    self.maybe_die(rec.seq, KillPoint::Checkpoint);
                }
                r
            },
            |r| match r {
                Ok([busy, ..]) if *busy != 0 => StepResult::Busy {
                    code: "SQLITE_BUSY".into(),
                },
                other => sql_result(other),
            },
        );
        // If the timer has not landed yet, the kill lands now: never after the op reports.
        self.maybe_die(rec.seq, KillPoint::Checkpoint);
        match res {
            Ok(res) => {
                rec.outcome = Outcome::Done;
                rec.checkpoint = Some(res);
                rec.wal_frames = self.wal_frames();
            }
            Err(e) => {
                rec.outcome = Outcome::Failed;
                rec.error = Some(SqlError::from_rusqlite(&e));
            }
        }
    }

    /// The WAL's size in frames now (`wal_size`), in WAL mode only.
    pub(super) fn wal_frames(&self) -> Option<u64> {
        (self.spec.sqlite.journal_mode == JournalMode::Wal)
            .then(|| crate::worker::wal_size::wal_frames(&self.spec.db_path))
            .flatten()
    }
}
