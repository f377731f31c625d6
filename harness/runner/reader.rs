//! Reading a worker's stdout: one thread per worker turns protocol lines into events on the
//! runner's bounded channel, and names what is wrong with a line that is not one.

use std::io::{BufRead, BufReader, Read};
use std::sync::mpsc::{Receiver, SyncSender};
use std::time::Duration;

use super::event::Event;
use crate::protocol::{PROTOCOL_VERSION, WorkerMsg, hello_version};

/// A record line longer than this is a runaway worker, not a record.
const MAX_LINE: usize = 1 << 20;

/// How long the end of a worker's stdout waits for the end of its fault VFS channel (so
/// that the VFS's last words, written before the process died, come first); bounded, since
/// a child the worker left behind may hold the channel open.
const VFS_TAIL: Duration = Duration::from_secs(2);

/// Reads worker `worker`'s stdout; with `vfs_done`, its `Eof` waits (at most [`VFS_TAIL`])
/// for that worker's fault VFS channel to end first.
pub(super) fn spawn_reader(
    worker: u32,
    stdout: std::process::ChildStdout,
    tx: SyncSender<Event>,
    vfs_done: Option<Receiver<()>>,
) {
    std::thread::spawn(move || {
        read_lines(worker, stdout, &tx, Event::Msg);
        if let Some(done) = vfs_done {
            let _ = done.recv_timeout(VFS_TAIL);
        }
        let _ = tx.send(Event::Eof(worker));
    });
}

/// Reads an external worker's fault VFS channel (PROTOCOL.md, "The fault VFS in an
/// external worker"); says on `done` when it ended.
pub(super) fn spawn_vfs_reader(
    worker: u32,
    channel: std::io::PipeReader,
    tx: SyncSender<Event>,
    done: SyncSender<()>,
) {
    std::thread::spawn(move || {
        read_lines(worker, channel, &tx, Event::Vfs);
        let _ = done.send(());
    });
}

fn read_lines(
    worker: u32,
    stream: impl Read,
    tx: &SyncSender<Event>,
    wrap: fn(u32, WorkerMsg) -> Event,
) {
    let mut reader = BufReader::with_capacity(1 << 16, stream);
    let mut line = Vec::new();
    loop {
        line.clear();
        let n = match (&mut reader)
            .take(MAX_LINE as u64 + 1)
            .read_until(b'\n', &mut line)
        {
            Ok(n) => n,
            Err(_) => break,
        };
        if n == 0 {
            break;
        }
        let ev = if line.len() > MAX_LINE {
            Event::Garbage(worker, format!("a line of more than {MAX_LINE} bytes"))
        } else {
            match hello_version(&line) {
                Some(v) if v != u64::from(PROTOCOL_VERSION) => Event::WrongVersion(worker, v),
                _ => match serde_json::from_slice::<WorkerMsg>(&line) {
                    Ok(m) => wrap(worker, m),
                    Err(e) => Event::Garbage(worker, describe_garbage(&line, &e)),
                },
            }
        };
        let garbage = matches!(ev, Event::Garbage(..) | Event::WrongVersion(..));
        if tx.send(ev).is_err() || garbage {
            // The runner stopped listening, or the worker is talking nonsense: stop
            // reading (it will be killed) rather than follow a runaway stream.
            break;
        }
    }
}

/// The start of a line that is not a protocol message; for a JSON object that names a
/// message type, also what is wrong with it (a missing field, an unknown type), so that an
/// adapter's author sees why.
fn describe_garbage(line: &[u8], e: &serde_json::Error) -> String {
    let text: String = String::from_utf8_lossy(line)
        .trim_end()
        .chars()
        .take(200)
        .collect();
    let names_msg = serde_json::from_slice::<serde_json::Value>(line)
        .is_ok_and(|v| v.get("msg").is_some_and(serde_json::Value::is_string));
    if names_msg {
        format!("{text} ({e})")
    } else {
        text
    }
}
