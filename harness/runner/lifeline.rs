//! Child processes die with the process that started them. A worker outliving a runner
//! killed by SIGKILL (or the OOM killer, or a CI timeout) would keep writing into a run
//! directory nobody checks, and a sweep pair outliving its sweep would keep running after
//! the sweep was stopped. Linux's parent-death signal (PR_SET_PDEATHSIG) is set in the child
//! between fork and exec.

use std::os::unix::process::CommandExt;
use std::process::Command;

use rustix::process::{Pid, Signal};

/// The child started by `cmd` receives `signal` when the thread that started it exits
/// (for walburst: when the runner or sweep process dies, since its spawning threads live as
/// long as their children matter). If the parent is already gone when the child gets to
/// set this up, the child exits at once instead of running orphaned.
pub fn die_with_parent(cmd: &mut Command, signal: Signal) {
    let parent: Pid = rustix::process::getpid();
    // SAFETY: the closure runs in the forked child before exec; it only makes two system
    // calls (prctl, getppid), both async-signal-safe, and allocates nothing.
    unsafe {
        cmd.pre_exec(move || {
            rustix::process::set_parent_process_death_signal(Some(signal))?;
            if rustix::process::getppid() != Some(parent) {
                // The parent died before the signal was armed: do not start at all (the
                // error ends the child before exec).
                return Err(rustix::io::Errno::SRCH.into());
            }
            Ok(())
        });
    }
}
