//! SIGINT/SIGTERM: from the moment a command installs the handler, an interrupt sets the
//! flag every wait of the runner checks (`exec::procs::INTERRUPTED`), so the current run
//! stops cleanly (workers killed, an `interrupted` report, the run directory kept).

/// From here on SIGINT/SIGTERM stop the current run cleanly: workers killed, an
/// `interrupted` report written, the run directory kept.
pub fn install_interrupt_handler() {
    let _ = ctrlc::set_handler(|| {
        crate::exec::procs::INTERRUPTED.store(true, std::sync::atomic::Ordering::SeqCst);
    });
}

pub fn interrupted() -> bool {
    crate::exec::procs::INTERRUPTED.load(std::sync::atomic::Ordering::SeqCst)
}
