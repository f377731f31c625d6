//! The fault VFS itself: a copy of SQLite's default (unix) VFS whose files carry a small
//! header in front of the real unix file. Every method forwards to the real one, so POSIX
//! locks, `-shm` mapping and all I/O stay SQLite's own; the header only says which kind of
//! file it is, so that writes, syncs, truncates and shm calls can be counted, stopped, failed
//! or (for power loss) logged first.
//!
//! Invariants the unsafe code relies on:
//! * SQLite allocates `szOsFile` bytes for every file it opens through this VFS, and we set
//!   `szOsFile = HEADER + real szOsFile`; so `file + HEADER` is a properly sized and aligned
//!   (HEADER is a multiple of 16) place for the real unix file, owned by SQLite.
//! * Our `pMethods` is set only when the real xOpen set the real file's `pMethods`, so every
//!   method below is called on a file whose `real` pointer refers to an opened unix file.
//! * The registered `sqlite3_vfs` and its name are leaked: SQLite keeps pointers to them for
//!   the life of the process.
//! * The real VFS (`sqlite3_vfs_find(NULL)` before we register; only the preload makes ours
//!   the default, after that lookup) lives in `pAppData` and is never freed by SQLite.

use std::ffi::{CStr, c_char, c_int, c_void};
use std::ptr;

use rusqlite::ffi;

use super::frozen::{self, Frozen};
use super::{
    Api, Proceed, after, before, below_sql_points, device, logging, phase, shm_point, undo,
};
use crate::observe::step::ShmCall;
use crate::scenario::{FileKind, IoOp};
use crate::worker::gate;

/// Our part of each file; the real unix file follows at offset [`HEADER`].
#[repr(C)]
struct ShimFile {
    /// Must come first: SQLite sees a `*mut sqlite3_file`.
    base: ffi::sqlite3_file,
    real: *mut ffi::sqlite3_file,
    kind: FileKind,
    /// The file's path as SQLite opened it (for the undo log), or null.
    path: *const c_char,
    /// `[io.stale_read]`: this main file's wal-index copies (a leaked box, freed at close),
    /// or null for every other file.
    frozen: *mut Frozen,
}

const HEADER: usize = std::mem::size_of::<ShimFile>().div_ceil(16) * 16;

fn kind_from_flags(flags: c_int) -> FileKind {
    if flags & ffi::SQLITE_OPEN_MAIN_DB != 0 {
        FileKind::Main
    } else if flags & ffi::SQLITE_OPEN_WAL != 0 {
        FileKind::Wal
    } else if flags & ffi::SQLITE_OPEN_MAIN_JOURNAL != 0 {
        FileKind::Journal
    } else {
        FileKind::Other
    }
}

/// The real file and its methods. Safety: `f` is one of our opened files (see module docs).
unsafe fn real(
    f: *mut ffi::sqlite3_file,
) -> (*mut ffi::sqlite3_file, &'static ffi::sqlite3_io_methods) {
    // SAFETY: `f` points at a ShimFile whose `real` was opened by the real VFS, whose
    // io_methods tables are static in the SQLite library.
    unsafe {
        let r = (*(f as *mut ShimFile)).real;
        (r, &*(*r).pMethods)
    }
}

unsafe fn shim(f: *mut ffi::sqlite3_file) -> &'static ShimFile {
    // SAFETY: as for `real`; the ShimFile lives as long as SQLite keeps the file open.
    unsafe { &*(f as *const ShimFile) }
}

/// Registers the fault VFS under `name` in `api`'s SQLite. Returns SQLite's code.
pub fn register(name: &'static CStr, api: &Api) -> c_int {
    // SAFETY: sqlite3_vfs_find initialises SQLite and returns a VFS that lives forever; we
    // copy it by value and leak our copy (SQLite keeps the pointer).
    unsafe {
        if !(api.vfs_find)(name.as_ptr()).is_null() {
            return ffi::SQLITE_OK;
        }
        let real = (api.vfs_find)(ptr::null());
        if real.is_null() {
            return ffi::SQLITE_ERROR;
        }
        let mut v: ffi::sqlite3_vfs = *real;
        v.szOsFile = (HEADER + (*real).szOsFile as usize) as c_int;
        v.zName = name.as_ptr();
        v.pNext = ptr::null_mut();
        v.pAppData = real as *mut c_void;
        v.xOpen = Some(x_open);
        v.xDelete = Some(x_delete);
        (api.vfs_register)(Box::leak(Box::new(v)), c_int::from(api.make_default))
    }
}

unsafe extern "C" fn x_open(
    vfs: *mut ffi::sqlite3_vfs,
    name: ffi::sqlite3_filename,
    file: *mut ffi::sqlite3_file,
    flags: c_int,
    out_flags: *mut c_int,
) -> c_int {
    // SAFETY: see the module invariants; `file` has szOsFile bytes.
    unsafe {
        let real_vfs = (*vfs).pAppData as *mut ffi::sqlite3_vfs;
        let real_file = (file as *mut u8).add(HEADER) as *mut ffi::sqlite3_file;
        let kind = kind_from_flags(flags);
        let path = if name.is_null() { ptr::null() } else { name };
        let frozen = if kind == FileKind::Main && frozen::take_request() {
            Box::into_raw(Box::<Frozen>::default())
        } else {
            ptr::null_mut()
        };
        ptr::write(
            file as *mut ShimFile,
            ShimFile {
                base: ffi::sqlite3_file {
                    pMethods: ptr::null(),
                },
                real: real_file,
                kind,
                path,
                frozen,
            },
        );
        (*real_file).pMethods = ptr::null();
        // Only a power-loss run models file creation (a stat, never a descriptor).
        let path_str = (logging() && !path.is_null())
            .then(|| CStr::from_ptr(path).to_string_lossy().into_owned());
        let existed = path_str
            .as_deref()
            .is_none_or(|p| std::path::Path::new(p).exists());
        let rc = ((*real_vfs).xOpen.expect("unix VFS has xOpen"))(
            real_vfs, name, real_file, flags, out_flags,
        );
        if (*real_file).pMethods.is_null() && !frozen.is_null() {
            // SAFETY: made above and never handed out: m_close will not run for this file.
            drop(Box::from_raw(frozen));
            (*(file as *mut ShimFile)).frozen = ptr::null_mut();
        }
        if !(*real_file).pMethods.is_null() {
            (*file).pMethods = &METHODS;
            if kind == FileKind::Main {
                super::opened_main();
            }
        }
        if rc == ffi::SQLITE_OK
            && !existed
            && logging()
            && kind != FileKind::Other
            && let Some(p) = &path_str
        {
            undo::created(p);
        }
        rc
    }
}

unsafe extern "C" fn x_delete(
    vfs: *mut ffi::sqlite3_vfs,
    name: *const c_char,
    sync_dir: c_int,
) -> c_int {
    // SAFETY: pAppData is the real VFS; `name` is a NUL-terminated path from SQLite.
    unsafe {
        let real_vfs = (*vfs).pAppData as *mut ffi::sqlite3_vfs;
        let path = (!name.is_null()).then(|| CStr::from_ptr(name).to_string_lossy().into_owned());
        // Power loss may bring an unlinked -wal/-journal back: keep what it held.
        let before_delete = match &path {
            Some(p) if logging() => undo::before_delete(p),
            _ => None,
        };
        let rc = ((*real_vfs).xDelete.expect("unix VFS has xDelete"))(real_vfs, name, sync_dir);
        if rc == ffi::SQLITE_OK
            && let (Some(p), Some(content)) = (&path, before_delete)
        {
            undo::deleted(p, content, sync_dir != 0);
        }
        rc
    }
}

unsafe extern "C" fn m_close(f: *mut ffi::sqlite3_file) -> c_int {
    unsafe {
        let (r, m) = real(f);
        let rc = (m.xClose.expect("xClose"))(r);
        let fz = (*(f as *mut ShimFile)).frozen;
        if !fz.is_null() {
            // SAFETY: made by Box::into_raw in x_open, freed only here, once.
            drop(Box::from_raw(fz));
            (*(f as *mut ShimFile)).frozen = ptr::null_mut();
        }
        if shim(f).kind == FileKind::Main {
            super::closed_main();
        }
        rc
    }
}

unsafe extern "C" fn m_read(
    f: *mut ffi::sqlite3_file,
    buf: *mut c_void,
    amt: c_int,
    off: i64,
) -> c_int {
    unsafe {
        let (r, m) = real(f);
        (m.xRead.expect("xRead"))(r, buf, amt, off)
    }
}

/// The size of the real file, or None.
unsafe fn size_of_real(r: *mut ffi::sqlite3_file, m: &ffi::sqlite3_io_methods) -> Option<i64> {
    let mut size: i64 = 0;
    // SAFETY: `r` is an open unix file; xFileSize fstat()s its own descriptor.
    let rc = unsafe { (m.xFileSize.expect("xFileSize"))(r, &mut size) };
    (rc == ffi::SQLITE_OK).then_some(size)
}

/// Reads `[off, off+len)` of the real file through its own descriptor (never a second one on
/// the database: closing that would drop this process's POSIX locks).
unsafe fn pre_image(
    r: *mut ffi::sqlite3_file,
    m: &ffi::sqlite3_io_methods,
    off: i64,
    len: i64,
) -> Vec<u8> {
    let mut buf = vec![0u8; len.max(0) as usize];
    if !buf.is_empty() {
        // SAFETY: buf has `len` bytes; a short read zero-fills, and we only ask for bytes
        // below the file's size.
        unsafe { (m.xRead.expect("xRead"))(r, buf.as_mut_ptr() as *mut c_void, len as c_int, off) };
    }
    buf
}

unsafe extern "C" fn m_write(
    f: *mut ffi::sqlite3_file,
    buf: *const c_void,
    amt: c_int,
    off: i64,
) -> c_int {
    unsafe {
        let s = shim(f);
        if let Some(c) = write_point(s.kind, off) {
            gate::pause_at_shm(c);
        }
        if let Proceed::Fail(code) = before(s.kind, IoOp::Write) {
            return code;
        }
        let (r, m) = real(f);
        if !(logging() && s.kind != FileKind::Other && !s.path.is_null()) {
            let rc = (m.xWrite.expect("xWrite"))(r, buf, amt, off);
            after();
            return rc;
        }
        let old_size = size_of_real(r, m).unwrap_or(0);
        let pre = pre_image(r, m, off, (off + i64::from(amt)).min(old_size) - off);
        let rc = (m.xWrite.expect("xWrite"))(r, buf, amt, off);
        if rc == ffi::SQLITE_OK {
            undo::wrote(
                &CStr::from_ptr(s.path).to_string_lossy(),
                off,
                old_size,
                &pre,
            );
        }
        after();
        rc
    }
}

/// A write that is a shm-granularity point: the WAL header (the `-wal` at offset 0, written
/// when the WAL starts or restarts) or a checkpoint's first backfill write to the database.
fn write_point(kind: FileKind, off: i64) -> Option<ShmCall> {
    if !below_sql_points() {
        return None;
    }
    match kind {
        FileKind::Wal if off == 0 => Some(ShmCall::WalHeader),
        FileKind::Main if phase::first_backfill_write() => Some(ShmCall::Backfill),
        _ => None,
    }
}

unsafe extern "C" fn m_truncate(f: *mut ffi::sqlite3_file, size: i64) -> c_int {
    unsafe {
        let s = shim(f);
        if let Proceed::Fail(code) = before(s.kind, IoOp::Truncate) {
            return code;
        }
        let (r, m) = real(f);
        if !(logging() && s.kind != FileKind::Other && !s.path.is_null()) {
            let rc = (m.xTruncate.expect("xTruncate"))(r, size);
            after();
            return rc;
        }
        let old_size = size_of_real(r, m).unwrap_or(0);
        let pre = pre_image(r, m, size, old_size - size);
        let rc = (m.xTruncate.expect("xTruncate"))(r, size);
        if rc == ffi::SQLITE_OK {
            undo::truncated(
                &CStr::from_ptr(s.path).to_string_lossy(),
                size,
                old_size,
                &pre,
            );
        }
        after();
        rc
    }
}

unsafe extern "C" fn m_sync(f: *mut ffi::sqlite3_file, flags: c_int) -> c_int {
    unsafe {
        let s = shim(f);
        if let Proceed::Fail(code) = before(s.kind, IoOp::Sync) {
            return code;
        }
        let (r, m) = real(f);
        if !(logging() && s.kind != FileKind::Other && !s.path.is_null()) {
            let rc = (m.xSync.expect("xSync"))(r, flags);
            after();
            return rc;
        }
        // The sync covers what was written before it began (by any process: the page cache
        // is shared); it counts only once it has returned.
        let path = CStr::from_ptr(s.path).to_string_lossy().into_owned();
        let token = undo::sync_begin(&path);
        let rc = (m.xSync.expect("xSync"))(r, flags);
        if rc == ffi::SQLITE_OK {
            undo::sync_end(&path, token);
        }
        // Power lost right after the sync returned: what it covered is durable.
        after();
        rc
    }
}

unsafe extern "C" fn m_file_size(f: *mut ffi::sqlite3_file, out: *mut i64) -> c_int {
    unsafe {
        let (r, m) = real(f);
        (m.xFileSize.expect("xFileSize"))(r, out)
    }
}

unsafe extern "C" fn m_lock(f: *mut ffi::sqlite3_file, level: c_int) -> c_int {
    unsafe {
        let (r, m) = real(f);
        (m.xLock.expect("xLock"))(r, level)
    }
}

unsafe extern "C" fn m_unlock(f: *mut ffi::sqlite3_file, level: c_int) -> c_int {
    unsafe {
        let (r, m) = real(f);
        (m.xUnlock.expect("xUnlock"))(r, level)
    }
}

unsafe extern "C" fn m_check_reserved(f: *mut ffi::sqlite3_file, out: *mut c_int) -> c_int {
    unsafe {
        let (r, m) = real(f);
        (m.xCheckReservedLock.expect("xCheckReservedLock"))(r, out)
    }
}

unsafe extern "C" fn m_file_control(
    f: *mut ffi::sqlite3_file,
    op: c_int,
    arg: *mut c_void,
) -> c_int {
    // The checkpoint's copy phase, exactly: SQLite brackets it with these two opcodes on the
    // main file, on the checkpointing thread.
    unsafe {
        let ckpt = match op {
            ffi::SQLITE_FCNTL_CKPT_START => Some(ShmCall::CkptStart),
            ffi::SQLITE_FCNTL_CKPT_DONE => Some(ShmCall::CkptDone),
            _ => None,
        };
        if let Some(c) = ckpt.filter(|_| shm_point(shim(f).kind)) {
            gate::pause_at_shm(c);
        }
        if op == ffi::SQLITE_FCNTL_CKPT_START {
            phase::enter_checkpoint();
        } else if op == ffi::SQLITE_FCNTL_CKPT_DONE {
            phase::leave_checkpoint();
        }
        let (r, m) = real(f);
        (m.xFileControl.expect("xFileControl"))(r, op, arg)
    }
}

unsafe extern "C" fn m_sector_size(f: *mut ffi::sqlite3_file) -> c_int {
    if let Some(d) = device() {
        return d.sector_size as c_int;
    }
    unsafe {
        let (r, m) = real(f);
        (m.xSectorSize.expect("xSectorSize"))(r)
    }
}

unsafe extern "C" fn m_device_characteristics(f: *mut ffi::sqlite3_file) -> c_int {
    let real_flags = unsafe {
        let (r, m) = real(f);
        (m.xDeviceCharacteristics.expect("xDeviceCharacteristics"))(r)
    };
    // `[io.device]` decides the four claims SQLite's defences depend on; any other bit the
    // unix VFS reports stays.
    match device() {
        None => real_flags,
        Some(d) => {
            let claims = [
                (d.atomic, ffi::SQLITE_IOCAP_ATOMIC),
                (d.safe_append, ffi::SQLITE_IOCAP_SAFE_APPEND),
                (d.sequential, ffi::SQLITE_IOCAP_SEQUENTIAL),
                (d.powersafe_overwrite, ffi::SQLITE_IOCAP_POWERSAFE_OVERWRITE),
            ];
            claims.iter().fold(
                real_flags,
                |acc, &(on, bit)| {
                    if on { acc | bit } else { acc & !bit }
                },
            )
        }
    }
}

unsafe extern "C" fn m_shm_map(
    f: *mut ffi::sqlite3_file,
    pg: c_int,
    pgsz: c_int,
    extend: c_int,
    pp: *mut *mut c_void,
) -> c_int {
    if let Proceed::Fail(code) = before(FileKind::Shm, IoOp::ShmMap) {
        return code;
    }
    unsafe {
        let (r, m) = real(f);
        let rc = match m.xShmMap {
            Some(x) => x(r, pg, pgsz, extend, pp),
            None => ffi::SQLITE_IOERR_SHMMAP,
        };
        // A frozen connection gets its private copy of the region instead (a read-only
        // `-shm` answers SQLITE_READONLY with a usable pointer: copied as well).
        let fz = shim(f).frozen;
        if !fz.is_null() && (rc == ffi::SQLITE_OK || rc == ffi::SQLITE_READONLY) && !(*pp).is_null()
        {
            // SAFETY: fz is this file's live Frozen (see m_close); *pp maps pgsz bytes.
            *pp = (*fz).region(pg, *pp, pgsz);
        }
        rc
    }
}

unsafe extern "C" fn m_shm_lock(
    f: *mut ffi::sqlite3_file,
    offset: c_int,
    n: c_int,
    flags: c_int,
) -> c_int {
    if let Proceed::Fail(code) = before(FileKind::Shm, IoOp::ShmLock) {
        return code;
    }
    unsafe {
        // A lockstep point before the call, so the scheduler decides what runs between this
        // process's previous shm call and this one.
        let point = shm_point(shim(f).kind);
        let call = ShmCall::of_lock(offset, n, flags).filter(|_| point);
        if let Some(c) = call {
            gate::pause_at_shm(c);
        }
        let (r, m) = real(f);
        let rc = match m.xShmLock {
            Some(x) => x(r, offset, n, flags),
            None => ffi::SQLITE_IOERR_SHMLOCK,
        };
        // The unix VFS never waits for a shm lock: it answers BUSY and SQLite sleeps and
        // tries again, each try a step of its own; the next pause tells the coordinator.
        if rc == ffi::SQLITE_BUSY && call.is_some() {
            gate::shm_lock_was_busy();
        }
        rc
    }
}

unsafe extern "C" fn m_shm_barrier(f: *mut ffi::sqlite3_file) {
    unsafe {
        if shm_point(shim(f).kind) {
            gate::pause_at_shm(ShmCall::Barrier);
        }
        let (r, m) = real(f);
        if let Some(x) = m.xShmBarrier {
            x(r)
        }
    }
}

unsafe extern "C" fn m_shm_unmap(f: *mut ffi::sqlite3_file, delete: c_int) -> c_int {
    unsafe {
        let fz = shim(f).frozen;
        if !fz.is_null() {
            // SAFETY: as in m_shm_map; SQLite drops its pointers into the copies here.
            (*fz).unmap();
        }
        let (r, m) = real(f);
        match m.xShmUnmap {
            Some(x) => x(r, delete),
            None => ffi::SQLITE_OK,
        }
    }
}

unsafe extern "C" fn m_fetch(
    f: *mut ffi::sqlite3_file,
    off: i64,
    amt: c_int,
    pp: *mut *mut c_void,
) -> c_int {
    unsafe {
        let (r, m) = real(f);
        match m.xFetch {
            Some(x) => x(r, off, amt, pp),
            None => {
                *pp = ptr::null_mut();
                ffi::SQLITE_OK
            }
        }
    }
}

unsafe extern "C" fn m_unfetch(f: *mut ffi::sqlite3_file, off: i64, p: *mut c_void) -> c_int {
    unsafe {
        // Only the checkpoint's `xUnfetch(db, 0, NULL)` is a point (docs/wal-reset-window.md);
        // page releases (with mmap on) pass through uncounted.
        if off == 0 && p.is_null() {
            let s = shim(f);
            // Before the call, as every shm point: the WAL-reset window is open here.
            if shm_point(s.kind) {
                gate::pause_at_shm(ShmCall::DbUnfetch);
            }
            if let Proceed::Fail(code) = before(s.kind, IoOp::Unfetch) {
                return code;
            }
        }
        let (r, m) = real(f);
        match m.xUnfetch {
            Some(x) => x(r, off, p),
            None => ffi::SQLITE_OK,
        }
    }
}

/// Version 3: shared memory and memory-mapped I/O pass through to the unix methods.
static METHODS: ffi::sqlite3_io_methods = ffi::sqlite3_io_methods {
    iVersion: 3,
    xClose: Some(m_close),
    xRead: Some(m_read),
    xWrite: Some(m_write),
    xTruncate: Some(m_truncate),
    xSync: Some(m_sync),
    xFileSize: Some(m_file_size),
    xLock: Some(m_lock),
    xUnlock: Some(m_unlock),
    xCheckReservedLock: Some(m_check_reserved),
    xFileControl: Some(m_file_control),
    xSectorSize: Some(m_sector_size),
    xDeviceCharacteristics: Some(m_device_characteristics),
    xShmMap: Some(m_shm_map),
    xShmLock: Some(m_shm_lock),
    xShmBarrier: Some(m_shm_barrier),
    xShmUnmap: Some(m_shm_unmap),
    xFetch: Some(m_fetch),
    xUnfetch: Some(m_unfetch),
};
