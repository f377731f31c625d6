//! Reaping worker processes: waiting for an exit with a deadline (on a pidfd, woken by the
//! exit itself), and the tail of a worker's stderr for the report.

use std::path::Path;
use std::process::Child;
use std::sync::atomic::Ordering;
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
    reap_group(exit);
    status
}

/// The worker ran as the leader of a process group of its own (`procs::Workers::start`):
/// whatever is still alive in that group after it exited is a process it started and left
/// running, which could go on writing while the runner verifies. Each is killed and the
/// worker is marked (`children_outlived`), a liveness failure.
fn reap_group(exit: &mut WorkerExit) {
    let left = live_group_members(exit.pid);
    if left.is_empty() {
        return;
    }
    if let Some(pgid) = rustix::process::Pid::from_raw(exit.pid as i32) {
        let _ = rustix::process::kill_process_group(pgid, rustix::process::Signal::KILL);
    }
    exit.children_outlived.extend(left);
    exit.children_outlived.sort_unstable();
    exit.children_outlived.dedup();
}

/// Live (not zombie) processes whose process group is `pgid`, from `/proc`.
fn live_group_members(pgid: u32) -> Vec<u32> {
    let Ok(dir) = std::fs::read_dir("/proc") else {
        return Vec::new();
    };
    let mut out = Vec::new();
    for entry in dir.flatten() {
        let Some(pid) = entry
            .file_name()
            .to_str()
            .and_then(|s| s.parse::<u32>().ok())
        else {
            continue;
        };
        let Ok(stat) = std::fs::read_to_string(format!("/proc/{pid}/stat")) else {
            continue;
        };
        // "pid (comm) state ppid pgrp ...": comm may hold spaces and parentheses.
        let Some(rest) = stat.rfind(')').map(|i| &stat[i + 1..]) else {
            continue;
        };
        let mut f = rest.split_whitespace();
        let (state, _ppid, pgrp) = (f.next(), f.next(), f.next());
        if pgrp.and_then(|g| g.parse::<u32>().ok()) == Some(pgid) && state != Some("Z") {
            out.push(pid);
        }
    }
    out
}

/// Waits up to `limit` for `child` to exit, sleeping on a pidfd (woken by the exit itself,
/// not by a polling interval); `Ok(None)` when it is still running at the deadline.
pub fn wait_exit(
    child: &mut Child,
    limit: Duration,
) -> std::io::Result<Option<std::process::ExitStatus>> {
    match wait(child, limit, false)? {
        Waited::Exited(st) => Ok(Some(st)),
        Waited::TimedOut | Waited::Interrupted => Ok(None),
    }
}

/// How a [`wait_exit_or_interrupt`] ended.
#[derive(Debug)]
pub enum Waited {
    Exited(std::process::ExitStatus),
    /// SIGINT/SIGTERM reached this process first (the child still runs).
    Interrupted,
    TimedOut,
}

/// As [`wait_exit`], but also woken at once by SIGINT/SIGTERM (the interrupt's wake-up
/// pipe), so a caller can pass the interrupt on without polling for it.
pub fn wait_exit_or_interrupt(child: &mut Child, limit: Duration) -> std::io::Result<Waited> {
    wait(child, limit, true)
}

fn wait(child: &mut Child, limit: Duration, interruptible: bool) -> std::io::Result<Waited> {
    use rustix::event::{PollFd, PollFlags, Timespec, poll};
    use rustix::process::{Pid, PidfdFlags, pidfd_open};
    let interrupted = || interruptible && super::interrupt::INTERRUPTED.load(Ordering::SeqCst);
    if let Some(st) = child.try_wait()? {
        return Ok(Waited::Exited(st));
    }
    if interrupted() {
        return Ok(Waited::Interrupted);
    }
    let pid = Pid::from_raw(child.id() as i32).expect("a child's pid is positive");
    // The child is unreaped, so its pid cannot have been reused: the pidfd names it.
    let pidfd = pidfd_open(pid, PidfdFlags::empty())?;
    // `None`: no deadline (a limit too far away to add to the clock).
    let deadline = Instant::now().checked_add(limit);
    loop {
        let left = deadline.map(|d| d.saturating_duration_since(Instant::now()));
        // A timeout too large for a timespec waits without one: only the exit (or the
        // interrupt) wakes the poll then.
        let timeout = left.and_then(|l| Timespec::try_from(l).ok());
        let wake = super::interrupt::wake_fd();
        let mut fds = [
            PollFd::new(&pidfd, PollFlags::IN),
            PollFd::new(&wake, PollFlags::IN),
        ];
        let watched = if interruptible { 2 } else { 1 };
        match poll(&mut fds[..watched], timeout.as_ref()) {
            Ok(_) | Err(rustix::io::Errno::INTR) => {}
            Err(e) => return Err(e.into()),
        }
        if let Some(st) = child.try_wait()? {
            return Ok(Waited::Exited(st));
        }
        if interrupted() {
            return Ok(Waited::Interrupted);
        }
        if left.is_some_and(|l| l.is_zero()) {
            return Ok(Waited::TimedOut);
        }
    }
}
