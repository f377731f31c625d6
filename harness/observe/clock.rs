//! CLOCK_MONOTONIC in nanoseconds: one clock for every process on the machine, so the
//! write-lock intervals that different workers report can be compared.

pub fn monotonic_ns() -> u64 {
    let ts = rustix::time::clock_gettime(rustix::time::ClockId::Monotonic);
    (ts.tv_sec as u64) * 1_000_000_000 + ts.tv_nsec as u64
}
