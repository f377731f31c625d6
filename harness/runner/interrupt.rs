//! SIGINT/SIGTERM as the runner sees it: a flag every wait checks, and a wake-up sent into
//! the event channel of every run in progress, so an interrupt is noticed at once instead of
//! on a timer.

use std::sync::Mutex;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::mpsc::SyncSender;

use super::event::Event;

/// Set by SIGINT/SIGTERM; every wait of the runner checks it.
pub static INTERRUPTED: AtomicBool = AtomicBool::new(false);

/// The event channels of the runs in progress, by listener id.
static LISTENERS: Mutex<Vec<(u64, SyncSender<Event>)>> = Mutex::new(Vec::new());
static NEXT_LISTENER: AtomicU64 = AtomicU64::new(0);

/// A pipe that becomes readable, and stays so, when the process is interrupted: a wait on a
/// file descriptor (a pidfd, for a child's exit) also waits on it, so the interrupt wakes
/// it at once. Nobody reads it; an interrupt is never taken back.
fn wake_pipe() -> &'static (std::io::PipeReader, std::io::PipeWriter) {
    static PIPE: std::sync::OnceLock<(std::io::PipeReader, std::io::PipeWriter)> =
        std::sync::OnceLock::new();
    PIPE.get_or_init(|| std::io::pipe().expect("a pipe for the interrupt wake-up"))
}

/// Readable once the process is interrupted (see [`wake_pipe`]).
pub fn wake_fd() -> std::os::fd::BorrowedFd<'static> {
    use std::os::fd::AsFd;
    wake_pipe().0.as_fd()
}

/// Marks the process interrupted and wakes every run waiting for an event. Called from the
/// interrupt handler's thread (never from a signal handler itself).
pub fn interrupt() {
    // One byte, on the first interrupt only: the pipe stays readable after it, and a
    // blocking write can never fill it however many signals arrive.
    if !INTERRUPTED.swap(true, Ordering::SeqCst) {
        use std::io::Write;
        let _ = (&wake_pipe().1).write(&[1]);
    }
    let listeners = LISTENERS.lock().unwrap_or_else(|p| p.into_inner());
    for (_, tx) in listeners.iter() {
        // A full channel already has events to wake the runner, which checks the flag first.
        let _ = tx.try_send(Event::Interrupt);
    }
}

/// Registers a run's event channel; returns the id to [`unlisten`] with.
pub(super) fn listen(tx: SyncSender<Event>) -> u64 {
    let id = NEXT_LISTENER.fetch_add(1, Ordering::Relaxed);
    LISTENERS
        .lock()
        .unwrap_or_else(|p| p.into_inner())
        .push((id, tx));
    id
}

pub(super) fn unlisten(id: u64) {
    LISTENERS
        .lock()
        .unwrap_or_else(|p| p.into_inner())
        .retain(|(i, _)| *i != id);
}
