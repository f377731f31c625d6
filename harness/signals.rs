//! SIGINT/SIGTERM: from the moment a command installs the handler, an interrupt sets the
//! flag every wait of the runner checks (`runner::interrupt::INTERRUPTED`), so the current run
//! stops cleanly (workers killed, an `interrupted` report, the run directory kept).

/// From here on SIGINT/SIGTERM stop the current run cleanly: workers killed, an
/// `interrupted` report written, the run directory kept.
pub fn install_interrupt_handler() {
    // ctrlc runs this on its own thread (the signal handler only writes to a pipe), so
    // taking a lock and sending on channels here is safe.
    let _ = ctrlc::set_handler(crate::runner::interrupt::interrupt);
}

pub fn interrupted() -> bool {
    crate::runner::interrupt::INTERRUPTED.load(std::sync::atomic::Ordering::SeqCst)
}
