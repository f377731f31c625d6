//! What reaches the runner's event loop: a worker's message or line from its reader thread,
//! the end of its stdout, or an interrupt. A leaf: the readers and the interrupt handler
//! send these without knowing the loop that receives them.

use crate::protocol::WorkerMsg;

pub enum Event {
    Msg(u32, WorkerMsg),
    /// A message on an external worker's fault VFS channel (not its stdout).
    Vfs(u32, WorkerMsg),
    /// SIGINT/SIGTERM arrived (`exec::interrupt`).
    Interrupt,
    /// A line that is not a protocol message.
    Garbage(u32, String),
    /// A `hello` of another protocol version.
    WrongVersion(u32, u64),
    Eof(u32),
}
