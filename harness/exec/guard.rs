//! The application-level corruption guards under test (BRIEF section 2), reproduced
//! faithfully, including the hazard of the old one.

use std::fs::File;
use std::io::Read;
use std::os::unix::fs::FileExt;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};

use rusqlite::Connection;

use crate::observe::GuardReport;
use crate::scenario::{GuardAt, GuardKind};

/// One guard per worker process; cheap to clone into each actor thread.
#[derive(Clone)]
pub struct Guard {
    kind: GuardKind,
    at: GuardAt,
    db: PathBuf,
    /// `header-probe-fd`: one descriptor per process, opened at first use and kept open
    /// (the database may not exist yet when workers race on setup).
    kept_fd: Arc<Mutex<Option<Arc<File>>>>,
}

/// The 100-byte header fields the probes read.
struct Header {
    page_size: u64,
    page_count: u64,
}

fn parse_header(buf: &[u8; 32]) -> Header {
    let raw = u16::from_be_bytes([buf[16], buf[17]]);
    let page_size = if raw == 1 { 65536 } else { u64::from(raw) };
    let page_count = u64::from(u32::from_be_bytes([buf[28], buf[29], buf[30], buf[31]]));
    Header {
        page_size,
        page_count,
    }
}

impl Guard {
    pub fn new(kind: GuardKind, at: GuardAt, db: &Path) -> Guard {
        Guard {
            kind,
            at,
            db: db.to_path_buf(),
            kept_fd: Arc::new(Mutex::new(None)),
        }
    }

    fn kept_fd(&self) -> Result<Arc<File>, String> {
        let mut slot = self.kept_fd.lock().unwrap_or_else(|p| p.into_inner());
        if let Some(f) = slot.as_ref() {
            return Ok(Arc::clone(f));
        }
        let f = Arc::new(File::open(&self.db).map_err(|e| format!("header probe open: {e}"))?);
        *slot = Some(Arc::clone(&f));
        Ok(f)
    }

    pub fn at(&self) -> GuardAt {
        self.at
    }

    pub fn is_active(&self) -> bool {
        self.kind != GuardKind::None
    }

    /// Runs the guard on the connection that just wrote; `Some` when it fires.
    pub fn check(&self, conn: &Connection) -> Result<Option<GuardReport>, String> {
        match self.kind {
            GuardKind::None => Ok(None),
            GuardKind::HeaderProbe => {
                // The old field check, bare open/close included: closing this descriptor
                // drops every POSIX lock this process holds on the database file. That
                // hazard is part of what is under test; do not "fix" it.
                let mut f = File::open(&self.db).map_err(|e| format!("header probe open: {e}"))?;
                let mut buf = [0u8; 32];
                f.read_exact(&mut buf)
                    .map_err(|e| format!("header probe read: {e}"))?;
                let size = f
                    .metadata()
                    .map_err(|e| format!("header probe stat: {e}"))?
                    .len();
                drop(f);
                Ok(self.judge_header(&parse_header(&buf), size, conn))
            }
            GuardKind::HeaderProbeFd => {
                let f = self.kept_fd()?;
                let mut buf = [0u8; 32];
                f.read_exact_at(&mut buf, 0)
                    .map_err(|e| format!("header probe read: {e}"))?;
                let size = f
                    .metadata()
                    .map_err(|e| format!("header probe stat: {e}"))?
                    .len();
                Ok(self.judge_header(&parse_header(&buf), size, conn))
            }
            GuardKind::PageCount => self.page_count(conn),
            GuardKind::WalAware => {
                let mode: String = conn
                    .query_row("PRAGMA journal_mode", [], |r| r.get(0))
                    .map_err(|e| format!("journal_mode query: {e}"))?;
                if mode.eq_ignore_ascii_case("wal") {
                    // Committed pages legitimately live in -wal until a checkpoint.
                    Ok(None)
                } else {
                    self.page_count(conn)
                }
            }
        }
    }

    fn page_count(&self, conn: &Connection) -> Result<Option<GuardReport>, String> {
        let pages: u64 = conn
            .query_row("PRAGMA page_count", [], |r| {
                r.get::<_, i64>(0).map(|v| v as u64)
            })
            .map_err(|e| format!("page_count query: {e}"))?;
        let page_size: u64 = conn
            .query_row("PRAGMA page_size", [], |r| {
                r.get::<_, i64>(0).map(|v| v as u64)
            })
            .map_err(|e| format!("page_size query: {e}"))?;
        // stat() by path: no descriptor is opened, so no POSIX lock is dropped.
        let size = std::fs::metadata(&self.db)
            .map_err(|e| format!("stat {}: {e}", self.db.display()))?
            .len();
        let header = Header {
            page_size,
            page_count: pages,
        };
        Ok(self.judge(&header, size, conn))
    }

    fn judge_header(&self, h: &Header, size: u64, conn: &Connection) -> Option<GuardReport> {
        if h.page_size == 0 {
            return None; // an empty file has no header yet
        }
        self.judge(h, size, conn)
    }

    fn judge(&self, h: &Header, size: u64, conn: &Connection) -> Option<GuardReport> {
        let file_pages = size / h.page_size;
        if file_pages >= h.page_count {
            return None;
        }
        let journal_mode: String = conn
            .query_row("PRAGMA journal_mode", [], |r| r.get(0))
            .unwrap_or_else(|e| format!("unknown ({e})"));
        Some(GuardReport {
            guard: self.kind.name().to_string(),
            at: match self.at {
                GuardAt::AfterCommit => "after-commit",
                GuardAt::InTransaction => "in-transaction",
            }
            .to_string(),
            claimed_pages: h.page_count,
            file_pages,
            deficit: h.page_count - file_pages,
            page_size: h.page_size,
            file_size: size,
            journal_mode,
            message: format!(
                "torn-extend detected: page count mismatch on {}: header claims {} pages, file has {} pages",
                self.db.display(),
                h.page_count,
                file_pages
            ),
        })
    }
}
