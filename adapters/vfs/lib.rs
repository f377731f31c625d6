//! `libwalburst_vfs.so`: walburst's fault VFS for an external worker (a Python app, say).
//! The runner starts such a worker of an `[io]` scenario with this library in `LD_PRELOAD`
//! and the arming in the environment (PROTOCOL.md, "The fault VFS in an external worker");
//! the constructor below registers the VFS as SQLite's default in the app's process before
//! the app runs a line, so the app's own connections go through it unchanged. Everything
//! else (which SQLite, the channel, the points) lives in `walburst::worker::vfs::preload`.

/// Runs when the dynamic loader maps the library, before the program's `main`.
extern "C" fn walburst_vfs_init() {
    walburst::worker::vfs::preload::start();
}

/// Runs at the process's normal exit: the VFS's I/O counters, as the built-in worker sends
/// them before `done`.
extern "C" fn walburst_vfs_fini() {
    walburst::worker::vfs::preload::finish();
}

#[used]
#[unsafe(link_section = ".init_array")]
static INIT: extern "C" fn() = walburst_vfs_init;

#[used]
#[unsafe(link_section = ".fini_array")]
static FINI: extern "C" fn() = walburst_vfs_fini;
