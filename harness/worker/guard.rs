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

/// A guard that could not look: its own read of the database file, or a PRAGMA it asks,
/// failed. The op records it as the reason; the trace hashes only that it was an error.
#[derive(Debug, thiserror::Error)]
pub enum GuardError {
    #[error("{} guard: cannot {doing} {}", guard.name(), path.display())]
    File {
        guard: GuardKind,
        doing: &'static str,
        path: PathBuf,
        #[source]
        error: std::io::Error,
    },
    #[error("{} guard: PRAGMA {pragma}", guard.name())]
    Pragma {
        guard: GuardKind,
        pragma: &'static str,
        #[source]
        error: rusqlite::Error,
    },
}

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

    fn file_error(&self, doing: &'static str) -> impl FnOnce(std::io::Error) -> GuardError {
        let (guard, path) = (self.kind, self.db.clone());
        move |error| GuardError::File {
            guard,
            doing,
            path,
            error,
        }
    }

    fn pragma_error(&self, pragma: &'static str) -> impl FnOnce(rusqlite::Error) -> GuardError {
        let guard = self.kind;
        move |error| GuardError::Pragma {
            guard,
            pragma,
            error,
        }
    }

    fn kept_fd(&self) -> Result<Arc<File>, GuardError> {
        let mut slot = self.kept_fd.lock().unwrap_or_else(|p| p.into_inner());
        if let Some(f) = slot.as_ref() {
            return Ok(Arc::clone(f));
        }
        let f = Arc::new(File::open(&self.db).map_err(self.file_error("open"))?);
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
    pub fn check(&self, conn: &Connection) -> Result<Option<GuardReport>, GuardError> {
        match self.kind {
            GuardKind::None => Ok(None),
            GuardKind::HeaderProbe => {
                // The old field check, bare open/close included: closing this descriptor
                // drops every POSIX lock this process holds on the database file. That
                // hazard is part of what is under test; do not "fix" it.
                let mut f = File::open(&self.db).map_err(self.file_error("open"))?;
                let mut buf = [0u8; 32];
                f.read_exact(&mut buf)
                    .map_err(self.file_error("read the header of"))?;
                let size = f.metadata().map_err(self.file_error("stat"))?.len();
                drop(f);
                Ok(self.judge_header(&parse_header(&buf), size, conn))
            }
            GuardKind::HeaderProbeFd => {
                let f = self.kept_fd()?;
                let mut buf = [0u8; 32];
                f.read_exact_at(&mut buf, 0)
                    .map_err(self.file_error("read the header of"))?;
                let size = f.metadata().map_err(self.file_error("stat"))?.len();
                Ok(self.judge_header(&parse_header(&buf), size, conn))
            }
            GuardKind::PageCount => self.page_count(conn),
            GuardKind::WalAware => {
                let mode: String = conn
                    .query_row("PRAGMA journal_mode", [], |r| r.get(0))
                    .map_err(self.pragma_error("journal_mode"))?;
                if mode.eq_ignore_ascii_case("wal") {
                    // Committed pages legitimately live in -wal until a checkpoint.
                    Ok(None)
                } else {
                    self.page_count(conn)
                }
            }
        }
    }

    fn page_count(&self, conn: &Connection) -> Result<Option<GuardReport>, GuardError> {
        let number = |pragma| -> Result<u64, GuardError> {
            conn.query_row(&format!("PRAGMA {pragma}"), [], |r| {
                r.get::<_, i64>(0).map(|v| v as u64)
            })
            .map_err(self.pragma_error(pragma))
        };
        let pages = number("page_count")?;
        let page_size = number("page_size")?;
        // stat() by path: no descriptor is opened, so no POSIX lock is dropped.
        let size = std::fs::metadata(&self.db)
            .map_err(self.file_error("stat"))?
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
