//! Reaping worker processes: waiting for an exit with a deadline (on a pidfd, woken by the
//! exit itself), and the tail of a worker's stderr for the report.

use std::path::Path;
use std::process::Child;
use std::time::{Duration, Instant};

use crate::observe::WorkerExit;

pub(super) fn tail(path: &Path, lines: usize) -> Option<String> {
    let text = std::fs::read_to_string(path).ok()?;
    let all: Vec<&str> = text.lines().filter(|l| !l.trim().is_empty()).collect();
    if all.is_empty() {
        return None;
    }
    Some(all[all.len().saturating_sub(lines)..].join(" | "))
}

pub(super) fn wait_bounded(
    child: &mut Child,
    exit: &mut WorkerExit,
) -> Option<std::process::ExitStatus> {
    use std::os::unix::process::ExitStatusExt;
    let status = match wait_exit(child, Duration::from_secs(10)) {
        Ok(Some(st)) => Some(st),
        Ok(None) => {
            exit.killed_because
                .get_or_insert("did not exit after closing its pipes".into());
            let _ = child.kill();
            child.wait().ok()
        }
        Err(_) => None,
    };
    if let Some(st) = status {
        exit.exit_code = st.code();
        exit.signal = st.signal();
    }
    status
}

/// Waits up to `limit` for `child` to exit, sleeping on a pidfd (woken by the exit itself,
/// not by a polling interval); `Ok(None)` when it is still running at the deadline.
pub fn wait_exit(
    child: &mut Child,
    limit: Duration,
) -> std::io::Result<Option<std::process::ExitStatus>> {
    use rustix::event::{PollFd, PollFlags, Timespec, poll};
    use rustix::process::{Pid, PidfdFlags, pidfd_open};
    if let Some(st) = child.try_wait()? {
        return Ok(Some(st));
    }
    let pid = Pid::from_raw(child.id() as i32).expect("a child's pid is positive");
    // The child is unreaped, so its pid cannot have been reused: the pidfd names it.
    let pidfd = pidfd_open(pid, PidfdFlags::empty())?;
    let deadline = Instant::now() + limit;
    loop {
        let left = deadline.saturating_duration_since(Instant::now());
        let timeout = Timespec::try_from(left).unwrap_or(Timespec {
            tv_sec: 0,
            tv_nsec: 0,
        });
        let mut fds = [PollFd::new(&pidfd, PollFlags::IN)];
        match poll(&mut fds, Some(&timeout)) {
            Ok(_) | Err(rustix::io::Errno::INTR) => {}
            Err(e) => return Err(e.into()),
        }
        if let Some(st) = child.try_wait()? {
            return Ok(Some(st));
        }
        if left.is_zero() {
            return Ok(None);
        }
    }
}
