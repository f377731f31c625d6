//! The worker's side of the record stream: buffered JSON lines on stdout, flushed at most
//! every few hundred milliseconds so the harness stays off the hot path.

use std::io::{BufWriter, Write};
use std::sync::Mutex;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant};

use crate::observe::OpRecord;
use crate::protocol::WorkerMsg;

const FLUSH_EVERY: Duration = Duration::from_millis(200);

/// Set in power-loss runs: every record goes out at once, because the runner SIGKILLs every
/// worker at the power loss and a commit it never heard of is not acknowledged to the oracle.
static FLUSH_EACH_RECORD: AtomicBool = AtomicBool::new(false);

pub fn flush_each_record() {
    FLUSH_EACH_RECORD.store(true, Ordering::Relaxed);
}

pub struct RecordSink {
    inner: Mutex<(BufWriter<Box<dyn Write + Send>>, Instant)>,
}

/// In an external worker's process (the preloaded fault VFS) stdout is the app's: the VFS's
/// messages go to the pipe the runner passed for them instead (PROTOCOL.md, "The fault VFS
/// in an external worker"). Set before the first message.
static CHANNEL: std::sync::OnceLock<std::fs::File> = std::sync::OnceLock::new();

/// Sends every message of [`RecordSink::global`] to `channel` instead of stdout.
pub fn use_channel(channel: std::fs::File) {
    let _ = CHANNEL.set(channel);
}

impl Default for RecordSink {
    fn default() -> Self {
        Self::stdout()
    }
}

impl RecordSink {
    /// The worker process's one record stream (stdout belongs to the runner's pipe).
    pub fn global() -> &'static RecordSink {
        static SINK: std::sync::OnceLock<RecordSink> = std::sync::OnceLock::new();
        SINK.get_or_init(|| {
            // Records written before a stall must still reach the runner, or its watchdog
            // would name the wrong op: flush on a timer, not only when the next record comes.
            std::thread::spawn(|| {
                loop {
                    std::thread::sleep(FLUSH_EVERY);
                    if let Some(sink) = SINK.get() {
                        sink.flush();
                    }
                }
            });
            match CHANNEL.get().and_then(|f| f.try_clone().ok()) {
                Some(f) => RecordSink::to(Box::new(f)),
                None => RecordSink::stdout(),
            }
        })
    }

    fn flush(&self) {
        let mut guard = self.inner.lock().unwrap_or_else(|p| p.into_inner());
        let (out, last) = &mut *guard;
        if out.flush().is_err() {
            std::process::exit(3);
        }
        *last = Instant::now();
    }

    pub fn stdout() -> RecordSink {
        RecordSink::to(Box::new(std::io::stdout()))
    }

    fn to(out: Box<dyn Write + Send>) -> RecordSink {
        RecordSink {
            inner: Mutex::new((BufWriter::with_capacity(1 << 16, out), Instant::now())),
        }
    }

    pub fn op(&self, rec: OpRecord) {
        self.send(
            &WorkerMsg::Op(Box::new(rec)),
            FLUSH_EACH_RECORD.load(Ordering::Relaxed),
        );
    }

    /// Writes `msg`, flushes it, and runs `then` while still holding the stream, which never
    /// returns: the worker's last words (`dying`, then SIGKILL). Holding the stream is what
    /// makes a respawn exact: no sibling actor can write a record after the announcement, and
    /// since an actor writes each op's record before it starts its next op, every sibling
    /// has at most one op past its last report when the process dies: the one the runner
    /// skips as in flight and the ledger settles by probing. (Releasing the stream before the
    /// kill let a sibling scheduled in that gap commit an op, lose its record with the
    /// process, and commit the next one too, which the successor then ran again.)
    pub fn last_words(&self, msg: &WorkerMsg, then: impl FnOnce()) -> ! {
        let mut guard = self.inner.lock().unwrap_or_else(|p| p.into_inner());
        let (out, _) = &mut *guard;
        let ok = serde_json::to_writer(&mut *out, msg).is_ok()
            && out.write_all(b"\n").is_ok()
            && out.flush().is_ok();
        if !ok {
            std::process::exit(3);
        }
        then();
        // `then` ends the process; should it not, nothing more may be written.
        std::process::abort()
    }

    /// Writes one message; `flush` forces it out now (barrier, end of run).
    pub fn send(&self, msg: &WorkerMsg, flush: bool) {
        let mut guard = self.inner.lock().unwrap_or_else(|p| p.into_inner());
        let (out, last) = &mut *guard;
        let ok = serde_json::to_writer(&mut *out, msg).is_ok() && out.write_all(b"\n").is_ok();
        let ok = ok
            && if flush || last.elapsed() >= FLUSH_EVERY {
                *last = Instant::now();
                out.flush().is_ok()
            } else {
                true
            };
        if !ok {
            // The runner is gone (broken pipe): nobody is left to report to.
            std::process::exit(3);
        }
    }
}
