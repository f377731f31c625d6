//! The runner's side of power loss: after every worker is dead, read the undo log back and
//! undo, file by file and newest first, every logged change made after that file's last
//! completed sync began; then discard `-shm` (SQLite rebuilds it during recovery). What a
//! real disk keeps of unsynced data is any subset; this keeps none of what was logged, the
//! harshest outcome a correct sync discipline must survive. On a device that does not
//! promise atomic writes (`[io.device]`), each sector an unsynced write overwrote keeps its
//! new bytes or gets its old ones back (a seeded choice, as SQLite's crash VFS does in one
//! process); without power-safe overwrite it may also come back garbled whole, bytes beside
//! the write included. Appended bytes are lost whole either way.

use std::collections::BTreeSet;
use std::io::Write;
use std::os::unix::fs::FileExt;
use std::path::Path;

use rand::{Rng, RngExt};

use super::VfsError;
use crate::observe::io::{PowerLossReport, TearReport};
use crate::scenario::io_device::Tearing;

/// How this power loss tears unsynced writes: the device's tearing, and the run's seed for
/// the choices (stream `power-tear`, index = the record's position in the log).
#[derive(Debug, Clone, Copy)]
pub struct Tear {
    pub tearing: Tearing,
    pub seed: u64,
}

/// Undoes one unsynced write on a tearing device, sector by sector (see the module doc);
/// the caller then cuts the file back to its old size.
fn tear_write(
    f: &std::fs::File,
    off: u64,
    old_size: u64,
    pre: &[u8],
    index: u64,
    t: Tear,
    counts: &mut TearReport,
) -> std::io::Result<()> {
    let ss = t.tearing.sector_size;
    let end = off + pre.len() as u64;
    let mut rng = crate::plan::stream(t.seed, "power-tear", index, 0);
    for k in off / ss..=(end.max(off + 1) - 1) / ss {
        // The sector's bytes below the old size; beyond it everything is cut anyway.
        let (s_lo, s_hi) = (k * ss, ((k + 1) * ss).min(old_size));
        if s_lo >= s_hi {
            continue;
        }
        let (w_lo, w_hi) = (off.max(s_lo), end.min(s_hi));
        // An append that starts inside this sector overwrote none of its old bytes: only a
        // device without power-safe overwrite can hurt them (garbage, or nothing).
        let choices = match (w_lo < w_hi, t.tearing.garble) {
            (false, false) => continue,
            (false, true) => [1, 2][rng.random_range(0..2usize)],
            (true, garble) => rng.random_range(0..if garble { 3 } else { 2 }),
        };
        match choices {
            0 => counts.sectors_kept += 1,
            1 if w_lo >= w_hi => {}
            1 => {
                f.write_all_at(&pre[(w_lo - off) as usize..(w_hi - off) as usize], w_lo)?;
                counts.sectors_restored += 1;
            }
            _ => {
                let mut garbage = vec![0u8; (s_hi - s_lo) as usize];
                rng.fill_bytes(&mut garbage);
                f.write_all_at(&garbage, s_lo)?;
                counts.sectors_garbled += 1;
            }
        }
    }
    Ok(())
}

const MAGIC: u32 = 0x5742_554c; // "WBUL"

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[repr(u8)]
pub enum Tag {
    /// a = offset, b = file size before, data = bytes it overwrote (below the old size).
    Write = 1,
    /// a = new size, b = old size, data = the bytes cut off.
    Truncate = 2,
    /// a = token.
    SyncBegin = 3,
    SyncEnd = 4,
    /// The file did not exist before SQLite opened it.
    Create = 5,
    /// a = 1 when the directory was synced after the unlink; data = content before.
    Delete = 6,
}

impl Tag {
    fn from_u8(b: u8) -> Option<Tag> {
        Some(match b {
            1 => Tag::Write,
            2 => Tag::Truncate,
            3 => Tag::SyncBegin,
            4 => Tag::SyncEnd,
            5 => Tag::Create,
            6 => Tag::Delete,
            _ => return None,
        })
    }
}

/// magic u32, total length u32, tag u8, pid u32, path length u16, path, a i64, b i64,
/// data length u32, data (little-endian).
pub(super) fn encode(tag: Tag, pid: u32, path: &str, a: i64, b: i64, data: &[u8]) -> Vec<u8> {
    let len = 4 + 4 + 1 + 4 + 2 + path.len() + 8 + 8 + 4 + data.len();
    let mut v = Vec::with_capacity(len);
    v.extend_from_slice(&MAGIC.to_le_bytes());
    v.extend_from_slice(&(len as u32).to_le_bytes());
    v.push(tag as u8);
    v.extend_from_slice(&pid.to_le_bytes());
    v.extend_from_slice(&(path.len() as u16).to_le_bytes());
    v.extend_from_slice(path.as_bytes());
    v.extend_from_slice(&a.to_le_bytes());
    v.extend_from_slice(&b.to_le_bytes());
    v.extend_from_slice(&(data.len() as u32).to_le_bytes());
    v.extend_from_slice(data);
    v
}

struct Rec {
    tag: Tag,
    path: String,
    a: i64,
    b: i64,
    data: Vec<u8>,
}

fn decode(buf: &[u8]) -> (Vec<Rec>, bool) {
    let mut out = Vec::new();
    let mut i = 0;
    let rd = |s: &[u8]| -> u64 {
        s.iter()
            .rev()
            .fold(0u64, |acc, &b| (acc << 8) | u64::from(b))
    };
    while i + 8 <= buf.len() {
        let magic = rd(&buf[i..i + 4]) as u32;
        let len = rd(&buf[i + 4..i + 8]) as usize;
        if magic != MAGIC || len < 35 || i + len > buf.len() {
            return (out, true);
        }
        let r = &buf[i..i + len];
        let Some(tag) = Tag::from_u8(r[8]) else {
            return (out, true);
        };
        let plen = rd(&r[13..15]) as usize;
        let p = 15 + plen;
        if p + 20 > len {
            return (out, true);
        }
        let path = String::from_utf8_lossy(&r[15..p]).into_owned();
        let a = rd(&r[p..p + 8]) as i64;
        let b = rd(&r[p + 8..p + 16]) as i64;
        let dlen = rd(&r[p + 16..p + 20]) as usize;
        if p + 20 + dlen != len {
            return (out, true);
        }
        out.push(Rec {
            tag,
            path,
            a,
            b,
            data: r[p + 20..].to_vec(),
        });
        i += len;
    }
    (out, i != buf.len())
}

fn open_rw(path: &str) -> std::io::Result<std::fs::File> {
    std::fs::OpenOptions::new()
        .read(true)
        .write(true)
        .create(true)
        .truncate(false)
        .open(path)
}

/// Undoes every unsynced change in the log and discards `-shm`. Call only when no process
/// holds a connection to the database (every worker is dead; the runner holds none).
pub fn apply(log: &Path, db: &Path, tear: Option<Tear>) -> Result<PowerLossReport, VfsError> {
    let buf = match std::fs::read(log) {
        Ok(b) => b,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => Vec::new(),
        Err(source) => {
            return Err(VfsError::ReadUndoLog {
                path: log.to_path_buf(),
                source,
            });
        }
    };
    let (recs, torn) = decode(&buf);
    let mut rep = PowerLossReport {
        log_records: recs.len() as u64,
        log_bytes: buf.len() as u64,
        log_torn_tail: torn,
        tearing: tear.map(|t| TearReport {
            sector_size: t.tearing.sector_size,
            garble: t.tearing.garble,
            ..Default::default()
        }),
        ..Default::default()
    };
    let paths: BTreeSet<&str> = recs.iter().map(|r| r.path.as_str()).collect();
    for path in paths {
        let mine: Vec<(usize, &Rec)> = recs
            .iter()
            .enumerate()
            .filter(|(_, r)| r.path == path)
            .collect();
        let ended: BTreeSet<i64> = mine
            .iter()
            .filter(|(_, r)| r.tag == Tag::SyncEnd)
            .map(|(_, r)| r.a)
            .collect();
        // Durable: everything logged before the start of the last sync that returned, and
        // an unlink followed by a directory sync.
        let cutoff = mine
            .iter()
            .filter(|(_, r)| {
                (r.tag == Tag::SyncBegin && ended.contains(&r.a))
                    || (r.tag == Tag::Delete && r.a == 1)
            })
            .map(|(i, _)| *i)
            .max();
        let name = Path::new(path)
            .file_name()
            .map_or(path.to_string(), |n| n.to_string_lossy().into_owned());
        let fu = rep.files.entry(name).or_default();
        fu.synced = cutoff.is_some();
        for (i, r) in mine.iter().rev() {
            if !matches!(r.tag, Tag::SyncBegin | Tag::SyncEnd) {
                fu.changes += 1;
            }
            // The cutoff record itself is durable too (a sync's begin, or an unlink whose
            // directory was synced).
            if cutoff.is_some_and(|c| *i <= c) {
                continue;
            }
            let undo = |change| {
                move |source| VfsError::Undo {
                    path: path.into(),
                    change,
                    source,
                }
            };
            match r.tag {
                Tag::Write => {
                    open_rw(path)
                        .and_then(|f| {
                            match (tear, rep.tearing.as_mut()) {
                                (Some(t), Some(counts)) => tear_write(
                                    &f, r.a as u64, r.b as u64, &r.data, *i as u64, t, counts,
                                )?,
                                _ => f.write_all_at(&r.data, r.a as u64)?,
                            }
                            f.set_len(r.b as u64)
                        })
                        .map_err(undo("write"))?;
                    fu.writes_undone += 1;
                    fu.bytes_restored += r.data.len() as u64;
                }
                Tag::Truncate => {
                    open_rw(path)
                        .and_then(|f| {
                            f.set_len(r.b as u64)?;
                            f.write_all_at(&r.data, r.a as u64)
                        })
                        .map_err(undo("truncate"))?;
                    fu.truncates_undone += 1;
                    fu.bytes_restored += r.data.len() as u64;
                }
                Tag::Create => {
                    match std::fs::remove_file(path) {
                        Ok(()) => {}
                        Err(e) if e.kind() == std::io::ErrorKind::NotFound => {}
                        Err(e) => return Err(undo("creation")(e)),
                    }
                    fu.creation_undone = true;
                }
                Tag::Delete => {
                    std::fs::File::create(path)
                        .and_then(|mut f| f.write_all(&r.data))
                        .map_err(undo("unlink"))?;
                    fu.unlinks_undone += 1;
                }
                Tag::SyncBegin | Tag::SyncEnd => {}
            }
        }
    }
    let mut shm = db.as_os_str().to_owned();
    shm.push("-shm");
    rep.shm_discarded = match std::fs::remove_file(&shm) {
        Ok(()) => true,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => false,
        Err(source) => {
            return Err(VfsError::DiscardShm {
                path: shm.into(),
                source,
            });
        }
    };
    Ok(rep)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn unsynced_writes_are_undone_newest_first_and_synced_ones_kept() {
        let dir = tempfile::tempdir().unwrap();
        let db = dir.path().join("x.db");
        let p = db.to_string_lossy().into_owned();
        let log = dir.path().join("undo.log");
        let mut bytes = Vec::new();
        // Write 1 (synced), then two unsynced writes, the second over the first.
        std::fs::write(&db, b"AAAA").unwrap();
        bytes.extend(encode(Tag::Write, 1, &p, 0, 0, b""));
        bytes.extend(encode(Tag::SyncBegin, 1, &p, 7, 0, b""));
        bytes.extend(encode(Tag::SyncEnd, 1, &p, 7, 0, b""));
        std::fs::write(&db, b"AAAABBBB").unwrap();
        bytes.extend(encode(Tag::Write, 2, &p, 4, 4, b""));
        std::fs::write(&db, b"AAAACCCC").unwrap();
        bytes.extend(encode(Tag::Write, 2, &p, 4, 8, b"BBBB"));
        // A sync that began but never returned does not count.
        bytes.extend(encode(Tag::SyncBegin, 2, &p, 9, 0, b""));
        bytes.extend(&encode(Tag::Write, 1, &p, 0, 0, b"")[..10]);
        std::fs::write(&log, &bytes).unwrap();
        std::fs::write(dir.path().join("x.db-shm"), b"shm").unwrap();
        let rep = apply(&log, &db, None).unwrap();
        assert_eq!(std::fs::read(&db).unwrap(), b"AAAA");
        assert!(rep.log_torn_tail);
        assert!(rep.shm_discarded);
        assert_eq!(rep.files["x.db"].writes_undone, 2);
        assert!(rep.files["x.db"].synced);
    }

    /// On a tearing device each overwritten sector keeps its new bytes or gets its old ones
    /// back (seeded: the same seed tears the same way); without power-safe overwrite it may
    /// come back garbled instead.
    #[test]
    fn a_tearing_device_tears_unsynced_writes_by_sector_and_the_seed_decides() {
        let tear = |garble, seed| Tear {
            tearing: Tearing {
                sector_size: 512,
                garble,
            },
            seed,
        };
        let run = |t: Tear| {
            let dir = tempfile::tempdir().unwrap();
            let db = dir.path().join("x.db");
            let p = db.to_string_lossy().into_owned();
            // 8 synced sectors of A, then an unsynced overwrite of all of them with B.
            std::fs::write(&db, vec![b'B'; 4096]).unwrap();
            let bytes = encode(Tag::Write, 1, &p, 0, 4096, &[b'A'; 4096]);
            let log = dir.path().join("undo.log");
            std::fs::write(&log, &bytes).unwrap();
            let rep = apply(&log, &db, Some(t)).unwrap();
            (std::fs::read(&db).unwrap(), rep.tearing.unwrap())
        };
        let (a, ta) = run(tear(false, 1));
        assert_eq!(a.len(), 4096);
        assert_eq!(ta.sectors_kept + ta.sectors_restored, 8, "{ta:?}");
        assert!(ta.sectors_kept > 0 && ta.sectors_restored > 0, "{ta:?}");
        assert_eq!(ta.sectors_garbled, 0);
        for sector in a.chunks(512) {
            assert!(
                sector.iter().all(|&b| b == sector[0]),
                "torn inside a sector"
            );
        }
        assert_eq!(run(tear(false, 1)).0, a, "the seed decides");
        let (_, tg) = run(tear(true, 1));
        assert_eq!(
            tg.sectors_kept + tg.sectors_restored + tg.sectors_garbled,
            8
        );
        assert!(tg.sectors_garbled > 0, "{tg:?}");
    }

    #[test]
    fn an_unlink_without_directory_sync_comes_back() {
        let dir = tempfile::tempdir().unwrap();
        let j = dir.path().join("x.db-journal");
        let p = j.to_string_lossy().into_owned();
        let log = dir.path().join("undo.log");
        let mut bytes = encode(Tag::Create, 1, &p, 0, 0, b"");
        bytes.extend(encode(Tag::SyncBegin, 1, &p, 1, 0, b""));
        bytes.extend(encode(Tag::SyncEnd, 1, &p, 1, 0, b""));
        bytes.extend(encode(Tag::Delete, 1, &p, 0, 0, b"hot journal"));
        std::fs::write(&log, &bytes).unwrap();
        let rep = apply(&log, &dir.path().join("x.db"), None).unwrap();
        assert_eq!(std::fs::read(&j).unwrap(), b"hot journal");
        assert_eq!(rep.files["x.db-journal"].unlinks_undone, 1);
        assert!(!rep.files["x.db-journal"].creation_undone);
    }

    #[test]
    fn an_unlink_with_directory_sync_stays() {
        let dir = tempfile::tempdir().unwrap();
        let j = dir.path().join("x.db-journal");
        let p = j.to_string_lossy().into_owned();
        let log = dir.path().join("undo.log");
        // synchronous=EXTRA: the journal's unlink is followed by a directory sync; a new
        // journal created after it (never synced) vanishes.
        let mut bytes = encode(Tag::Delete, 1, &p, 1, 0, b"old journal");
        bytes.extend(encode(Tag::Create, 1, &p, 0, 0, b""));
        bytes.extend(encode(Tag::Write, 1, &p, 0, 0, b""));
        std::fs::write(&j, b"new").unwrap();
        std::fs::write(&log, &bytes).unwrap();
        let rep = apply(&log, &dir.path().join("x.db"), None).unwrap();
        assert!(!j.exists());
        assert_eq!(rep.files["x.db-journal"].unlinks_undone, 0);
        assert!(rep.files["x.db-journal"].creation_undone);
    }

    #[test]
    fn an_unreadable_log_or_an_undo_that_fails_names_its_file() {
        let dir = tempfile::tempdir().unwrap();
        let db = dir.path().join("x.db");
        // A directory where the log should be: reading it fails (not "no log, no records").
        match apply(dir.path(), &db, None) {
            Err(VfsError::ReadUndoLog { path, .. }) => assert_eq!(path, dir.path()),
            other => panic!("expected an unreadable log, got {other:?}"),
        }
        // An unsynced write to a file below a regular file cannot be undone.
        let blocker = dir.path().join("file");
        std::fs::write(&blocker, "x").unwrap();
        let target = blocker.join("x.db");
        let log = dir.path().join("undo.log");
        let t = target.to_string_lossy();
        std::fs::write(&log, encode(Tag::Write, 1, &t, 0, 0, b"old")).unwrap();
        match apply(&log, &db, None) {
            Err(VfsError::Undo { path, change, .. }) => {
                assert_eq!((path.as_path(), change), (target.as_path(), "write"));
            }
            other => panic!("expected a failed undo, got {other:?}"),
        }
    }

    #[test]
    fn a_worker_that_cannot_open_the_undo_log_is_told_which() {
        let dir = tempfile::tempdir().unwrap();
        let log = dir.path().join("missing").join("undo.log");
        match super::super::undo::open(&log) {
            Err(VfsError::OpenUndoLog { path, .. }) => assert_eq!(path, log),
            other => panic!("expected the undo log named, got {other:?}"),
        }
    }
}
