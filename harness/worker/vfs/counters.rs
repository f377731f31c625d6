//! Per-file-kind counters of the VFS methods that matter (write, sync, truncate, shm lock,
//! shm map), split by whether SQLite was copying checkpoint pages at the time. Atomics:
//! every connection thread of the worker counts into the same table.

use std::collections::BTreeMap;
use std::sync::atomic::{AtomicU64, Ordering};

use crate::scenario::{FileKind, IoOp};

const KINDS: usize = FileKind::ALL.len();
const OPS: usize = IoOp::ALL.len();

/// [in checkpoint phase][file kind][op].
static COUNTS: [[[AtomicU64; OPS]; KINDS]; 2] =
    [const { [const { [const { AtomicU64::new(0) }; OPS] }; KINDS] }; 2];

pub(super) fn count(kind: FileKind, op: IoOp, in_checkpoint: bool) {
    COUNTS[usize::from(in_checkpoint)][kind as usize][op as usize].fetch_add(1, Ordering::Relaxed);
}

use crate::observe::io::IoCounts;

/// The counts so far in this process.
pub fn snapshot() -> IoCounts {
    let mut out = IoCounts::default();
    for (phase, table) in COUNTS.iter().enumerate() {
        for kind in FileKind::ALL {
            for op in IoOp::ALL {
                let n = table[kind as usize][op as usize].load(Ordering::Relaxed);
                if n == 0 {
                    continue;
                }
                let add = |m: &mut BTreeMap<String, BTreeMap<String, u64>>| {
                    *m.entry(kind.name().to_string())
                        .or_default()
                        .entry(op.name().to_string())
                        .or_default() += n;
                };
                add(&mut out.total);
                if phase == 1 {
                    add(&mut out.in_checkpoint);
                }
            }
        }
    }
    out
}
