//! `[io.stale_read]`'s fault: a connection whose wal-index is a private copy frozen when it
//! first mapped each region (`scenario/stale_read.rs` says why this is the smallest honest
//! stale read). SQLite caches the pointer `xShmMap` returns, so every later read transaction
//! of that connection finds the old header, `mxFrame`, read marks and hash tables, while its
//! `xShmLock` calls still take the real locks beside every other connection. Whatever it
//! writes into the copy (a read mark) stays private: nobody else is misled by it.

use std::cell::Cell;
use std::ffi::{c_int, c_void};
use std::sync::atomic::{Ordering, fence};

thread_local! {
    /// Set around [`open`]'s `sqlite3_open_v2`, which opens the main file on this thread.
    static FREEZE_NEXT_OPEN: Cell<bool> = const { Cell::new(false) };
}

/// Runs `open` with the next main database file this thread opens through the fault VFS
/// marked frozen.
pub fn open<T>(open: impl FnOnce() -> T) -> T {
    FREEZE_NEXT_OPEN.set(true);
    let out = open();
    FREEZE_NEXT_OPEN.set(false);
    out
}

/// Called by `xOpen` for a main database file: whether it is the frozen one.
pub(super) fn take_request() -> bool {
    FREEZE_NEXT_OPEN.replace(false)
}

/// The frozen copies of one connection's wal-index regions, by region number.
#[derive(Default)]
pub(super) struct Frozen {
    /// u64 words: SQLite reads the wal-index with aligned 32-bit atomic loads.
    regions: Vec<Option<Box<[u64]>>>,
}

/// SQLite's wal-index header is two copies of a 48-byte `WalIndexHdr` at the start of
/// region 0; a writer updates the second, then (after a barrier) the first.
const HDR: usize = 48;

/// How many times a torn copy of region 0 (a writer between its two header copies) is
/// taken again before the last one is handed over as it is (SQLite then sees the copies
/// differ and retries or recovers into the private copy: never shared memory harmed).
const COPY_TRIES: u32 = 1000;

impl Frozen {
    /// The private copy of region `pg` (`size` bytes at `real`), taken now if it is the
    /// first time this connection maps it.
    ///
    /// Safety: `real` points at `size` mapped bytes of the `-shm` that stay mapped for the
    /// duration of the call.
    pub(super) unsafe fn region(
        &mut self,
        pg: c_int,
        real: *mut c_void,
        size: c_int,
    ) -> *mut c_void {
        let pg = usize::try_from(pg).unwrap_or(0);
        let size = usize::try_from(size).unwrap_or(0);
        if self.regions.len() <= pg {
            self.regions.resize_with(pg + 1, || None);
        }
        let slot = &mut self.regions[pg];
        if slot.is_none() {
            let mut copy = vec![0u64; size.div_ceil(8)].into_boxed_slice();
            for _ in 0..COPY_TRIES {
                fence(Ordering::Acquire);
                // SAFETY: `real` has `size` bytes (the caller's promise); `copy` has at least
                // `size` bytes; they do not overlap.
                unsafe {
                    std::ptr::copy_nonoverlapping(
                        real as *const u8,
                        copy.as_mut_ptr() as *mut u8,
                        size,
                    );
                }
                let bytes = words_as_bytes(&copy);
                if pg != 0 || size < 2 * HDR || bytes[..HDR] == bytes[HDR..2 * HDR] {
                    break;
                }
                std::thread::yield_now();
            }
            *slot = Some(copy);
        }
        slot.as_mut().expect("filled above").as_mut_ptr() as *mut c_void
    }

    /// `xShmUnmap`: SQLite forgets its pointers; the next mapping is a new freeze.
    pub(super) fn unmap(&mut self) {
        self.regions.clear();
    }
}

fn words_as_bytes(words: &[u64]) -> &[u8] {
    // SAFETY: u8 has no alignment or validity requirement; the length is the words' bytes.
    unsafe { std::slice::from_raw_parts(words.as_ptr() as *const u8, words.len() * 8) }
}
