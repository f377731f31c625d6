//! How many frames the WAL holds room for, from the `-wal` file itself: its size and the page
//! size in its header. SQLite rewrites the WAL from its start once a checkpoint has copied
//! every frame back and no reader needs the old ones, and never shrinks the file (unless a
//! TRUNCATE checkpoint or `journal_size_limit` does), so the size is the WAL's high-water
//! mark: measured after every commit, its maximum is the peak the checkpoint-starvation check
//! judges (`check::wal_growth`). A plain `stat` and a 32-byte read, outside SQLite and the
//! fault VFS: no SQL statement, no lockstep step, nothing a schedule or trace could see.

use std::io::Read;
use std::path::Path;

/// The WAL header's size, and each frame's header before its page.
const WAL_HEADER: u64 = 32;
const FRAME_HEADER: u64 = 24;

/// Frames the `-wal` beside `db` has room for: `Some(0)` when there is none (or it is
/// shorter than its header); `None` when its header does not give a valid page size.
pub fn wal_frames(db: &Path) -> Option<u64> {
    let mut name = db.as_os_str().to_owned();
    name.push("-wal");
    let mut f = match std::fs::File::open(&name) {
        Ok(f) => f,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Some(0),
        Err(_) => return None,
    };
    let mut header = [0u8; WAL_HEADER as usize];
    if f.read_exact(&mut header).is_err() {
        return Some(0);
    }
    let len = f.metadata().ok()?.len();
    // Bytes 8..12: the page size, big-endian (the WAL format's own byte order).
    let page = u64::from(u32::from_be_bytes(header[8..12].try_into().ok()?));
    if !(512..=65536).contains(&page) || !page.is_power_of_two() {
        return None;
    }
    Some(len.saturating_sub(WAL_HEADER) / (FRAME_HEADER + page))
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The count from a real WAL: every frame SQLite appended, none before any.
    #[test]
    fn counts_the_frames_sqlite_wrote() {
        let dir = tempfile::tempdir().unwrap();
        let db = dir.path().join("t.db");
        assert_eq!(wal_frames(&db), Some(0), "no -wal yet");
        let conn = rusqlite::Connection::open(&db).unwrap();
        conn.execute_batch(
            "PRAGMA page_size=4096; PRAGMA journal_mode=wal; PRAGMA wal_autocheckpoint=0;
             CREATE TABLE t(x);",
        )
        .unwrap();
        let after_create = wal_frames(&db).unwrap();
        assert!(after_create >= 1);
        for _ in 0..10 {
            conn.execute("INSERT INTO t VALUES (zeroblob(3000))", [])
                .unwrap();
        }
        let frames: i64 = conn
            .query_row("PRAGMA wal_checkpoint(PASSIVE)", [], |r| r.get(1))
            .unwrap();
        assert_eq!(wal_frames(&db), Some(frames as u64));
        assert!(frames as u64 >= after_create + 10);
    }
}
