//! Checks a scenario's values the type system cannot: ranges and combinations, one job per
//! function, each naming the field and the values allowed.

use serde::Serialize;

use super::*;

/// Checks values the type system cannot: ranges and combinations.
pub fn validate(s: &Scenario) -> Result<(), Invalid> {
    validate_name(s)?;
    if let Some(v) = s.sqlite.version
        && v.release().is_none()
    {
        return Err(Invalid::field(
            "sqlite.version",
            format!(
                "= \"{v}\" is not offered (no published libsqlite3-sys bundles it, or it is older than 3.44.0); allowed: {}",
                super::release::offered()
            ),
        ));
    }
    if s.seeds.is_empty() {
        return Err(Invalid::field(
            "seeds",
            "is empty; allowed: a list of one or more integers",
        ));
    }
    validate_workload(s)?;
    validate_sqlite(s)?;
    super::cohort::validate(s)?;
    validate_strategy(s)?;
    validate_lockstep(s)?;
    validate_faults(s)?;
    super::io_faults::validate(s)?;
    super::stale_read::validate(s)?;
    if s.limits.run_timeout_secs == 0 || s.limits.start_timeout_secs == 0 {
        return Err(Invalid::table(
            "limits",
            "timeouts must be at least 1 second",
        ));
    }
    if let Some(l) = &s.ledger {
        l.validate()?;
    }
    if s.sqlite.journal_mode == JournalMode::App && s.worker.is_none() {
        return Err(Invalid::field(
            "sqlite.journal_mode",
            "= \"app\" needs an external `[worker]` (the app's own connections choose the mode; the built-in worker has no rule of its own); allowed without [worker]: wal, delete, truncate, persist",
        ));
    }
    super::invariants::validate(&s.invariants)?;
    super::expect::validate(s)
}

/// The name becomes part of report and run-directory file names.
fn validate_name(s: &Scenario) -> Result<(), Invalid> {
    if s.name.trim().is_empty() {
        return Err(Invalid::field("name", "is empty; give the scenario a name"));
    }
    if !s
        .name
        .chars()
        .all(|c| c.is_ascii_alphanumeric() || matches!(c, '-' | '_' | '.' | '/'))
    {
        return Err(Invalid::field(
            "name",
            format!(
                "= {:?} has characters other than ASCII letters, digits, '-', '_', '.', '/'",
                s.name
            ),
        ));
    }
    if s.name.len() > MAX_NAME_LEN {
        return Err(Invalid::field(
            "name",
            format!(
                "is {} characters long; allowed: at most {MAX_NAME_LEN} (it becomes part of report and run-directory file names)",
                s.name.len()
            ),
        ));
    }
    Ok(())
}

/// `[workload]`: sizes, the op mix, the profile's own fields.
fn validate_workload(s: &Scenario) -> Result<(), Invalid> {
    let w = &s.workload;
    if !(1..=MAX_WORKERS).contains(&w.workers) {
        return Err(Invalid::range(
            "workload.workers",
            w.workers,
            format!("1..={MAX_WORKERS}"),
        ));
    }
    if !(1..=MAX_OPS_PER_WORKER).contains(&w.ops_per_worker) {
        return Err(Invalid::range(
            "workload.ops_per_worker",
            w.ops_per_worker,
            format!("1..={MAX_OPS_PER_WORKER}"),
        ));
    }
    if s.total_ops() > MAX_TOTAL_OPS {
        return Err(too_many_ops(s));
    }
    if w.mix.weights().iter().all(|&x| x == 0) {
        return Err(Invalid::table(
            "workload.mix",
            "every weight is 0; give at least one op (create_task, claim_task, heartbeat, add_comment, complete_task, gc_events, checkpoint) a positive weight",
        ));
    }
    if w.checkpointers >= w.workers {
        return Err(Invalid::range(
            "workload.checkpointers",
            w.checkpointers,
            format!(
                "0..={} (fewer than workload.workers = {}: at least one worker writes)",
                w.workers.saturating_sub(1),
                w.workers
            ),
        ));
    }
    if w.mix.weights().iter().map(|&x| u64::from(x)).sum::<u64>() > u64::from(u32::MAX) {
        return Err(Invalid::table(
            "workload.mix",
            "the weights add up to more than 4294967295",
        ));
    }
    check_list_append(s)?;
    check_readers(s)?;
    if s.expect.wal_growth == WalGrowthExpectation::Bounded
        && (s.sqlite.journal_mode != JournalMode::Wal || s.sqlite.wal_autocheckpoint == 0)
    {
        return Err(Invalid::field(
            "expect.wal_growth",
            "= \"bounded\" judges the WAL against 2 x wal_autocheckpoint: it needs journal_mode = \"wal\" and wal_autocheckpoint > 0; allowed values: \"reported\", \"bounded\"",
        ));
    }
    check_range(
        "workload.payload_bytes",
        w.payload_bytes,
        1,
        MAX_PAYLOAD_BYTES,
    )?;
    check_range(
        "workload.think_time_us",
        w.think_time_us,
        0,
        MAX_THINK_TIME_US,
    )?;
    if !(1..=MAX_CONNECTIONS_PER_WORKER).contains(&w.connections_per_worker) {
        return Err(Invalid::range(
            "workload.connections_per_worker",
            w.connections_per_worker,
            format!("1..={MAX_CONNECTIONS_PER_WORKER}"),
        ));
    }
    if w.idle_connections > MAX_IDLE_CONNECTIONS {
        return Err(Invalid::range(
            "workload.idle_connections",
            w.idle_connections,
            format!("0..={MAX_IDLE_CONNECTIONS}"),
        ));
    }
    Ok(())
}

/// SQLite's default ceiling on `mmap_size` (SQLITE_MAX_MMAP_SIZE on Linux): a larger value
/// is silently lowered to it, so a scenario asking for more would not run what it says.
pub const MAX_MMAP_SIZE: u64 = 0x7fff_0000;

/// `[sqlite]`: the settings the type system cannot bound.
fn validate_sqlite(s: &Scenario) -> Result<(), Invalid> {
    let q = &s.sqlite;
    if q.page_size
        .is_some_and(|ps| !(512..=65536).contains(&ps) || !ps.is_power_of_two())
    {
        return Err(Invalid::range(
            "sqlite.page_size",
            q.page_size.unwrap_or_default(),
            "a power of two from 512 to 65536",
        ));
    }
    if q.mmap_size.is_some_and(|m| m > MAX_MMAP_SIZE) {
        return Err(Invalid::range(
            "sqlite.mmap_size",
            q.mmap_size.unwrap_or_default(),
            format!("0 (off) to {MAX_MMAP_SIZE} bytes (SQLite's SQLITE_MAX_MMAP_SIZE)"),
        ));
    }
    if q.journal_size_limit < -1 {
        return Err(Invalid::range(
            "sqlite.journal_size_limit",
            q.journal_size_limit,
            "-1 (no limit) or a byte count >= 0",
        ));
    }
    Ok(())
}

/// `[strategy]`: a poll needs an interval; retries are bounded.
fn validate_strategy(s: &Scenario) -> Result<(), Invalid> {
    let st = &s.strategy;
    if st.write_lock_wait == LockWait::Poll && st.write_lock_poll_ms == 0 {
        return Err(Invalid::range(
            "strategy.write_lock_poll_ms",
            0,
            "1.. (milliseconds between attempts)",
        ));
    }
    if st.init_lock == InitLock::Poll && st.init_lock_poll_ms == 0 {
        return Err(Invalid::range(
            "strategy.init_lock_poll_ms",
            0,
            "1.. (milliseconds between attempts)",
        ));
    }
    check_range("strategy.retry_jitter_ms", st.retry_jitter_ms, 0, 60_000)?;
    if st.retries > 100 {
        return Err(Invalid::range("strategy.retries", st.retries, "0..=100"));
    }
    Ok(())
}

/// `[lockstep]`.
fn validate_lockstep(s: &Scenario) -> Result<(), Invalid> {
    if !(1..=100).contains(&s.lockstep.pct_depth) {
        return Err(Invalid::range(
            "lockstep.pct_depth",
            s.lockstep.pct_depth,
            "1..=100",
        ));
    }
    if s.lockstep.step_timeout_secs == 0 {
        return Err(Invalid::range(
            "lockstep.step_timeout_secs",
            0,
            "1.. (seconds)",
        ));
    }
    if s.lockstep.points == LockstepPoints::Shm && s.worker.is_some() {
        // The pauses live in the built-in worker's fault VFS; an app's own process has none.
        return Err(Invalid::field(
            "lockstep.points",
            format!(
                "= \"shm\" needs the built-in worker (its fault VFS pauses at shm calls); this scenario runs an external [worker]; allowed here: {}",
                LockstepPoints::Statement.name()
            ),
        ));
    }
    Ok(())
}

/// The field that makes `s` a lockstep-only scenario, if any: the steps it names (shm-call
/// steps, `yield` pauses inside a step) exist only where the coordinator grants steps; a free
/// run would silently skip them and judge a run that never reached its window.
pub fn lockstep_only(s: &Scenario) -> Option<&'static str> {
    if s.lockstep.points == LockstepPoints::Shm {
        Some("lockstep.points")
    } else if s.io.points.iter().any(|p| p.action == IoAction::Yield) {
        Some("io.points")
    } else {
        None
    }
}

/// The mode a run of `s` uses: the one asked for (`--mode`), else lockstep for a
/// lockstep-only scenario ([`lockstep_only`]), else free. A mode the scenario cannot run in
/// is refused ([`check_mode`]).
pub fn run_mode(s: &Scenario, asked: Option<Mode>) -> Result<Mode, Invalid> {
    let mode = asked.unwrap_or(if lockstep_only(s).is_some() {
        Mode::Lockstep
    } else {
        Mode::Free
    });
    check_mode(s, mode)?;
    Ok(mode)
}

/// A lockstep-only scenario ([`lockstep_only`]) refused for a run in `mode`: its shm points
/// or yield pauses are lockstep steps, a free run would silently ignore them.
pub fn check_mode(s: &Scenario, mode: Mode) -> Result<(), Invalid> {
    if mode == Mode::Lockstep {
        return Ok(());
    }
    if s.lockstep.points == LockstepPoints::Shm {
        return Err(Invalid::field(
            "lockstep.points",
            format!(
                "= \"shm\" applies only with --mode lockstep (or --check-determinism, or no --mode: this scenario then runs in lockstep), this run is --mode {}; allowed values: {}",
                mode.name(),
                LockstepPoints::ALL.map(LockstepPoints::name).join(", ")
            ),
        ));
    }
    if let Some(i) = s.io.points.iter().position(|p| p.action == IoAction::Yield) {
        return Err(Invalid::field(
            format!("io.points[{i}].action"),
            format!(
                "= \"yield\" pauses a lockstep step inside SQLite: it applies only with --mode lockstep (or --check-determinism, or no --mode: this scenario then runs in lockstep), this run is --mode {}",
                mode.name()
            ),
        ));
    }
    Ok(())
}

/// `[faults]`: kill points and their combinations.
fn validate_faults(s: &Scenario) -> Result<(), Invalid> {
    let f = &s.faults;
    if (f.kill == KillPoint::None) != (f.kills == 0) {
        return Err(Invalid::table(
            "faults",
            format!(
                "kill = {} with kills = {}; set both (a kill point and how many) or neither",
                toml_value(&f.kill),
                f.kills
            ),
        ));
    }
    if f.kills > s.workload.workers.saturating_mul(s.workload.ops_per_worker) || f.kills > 1000 {
        return Err(Invalid::range(
            "faults.kills",
            f.kills,
            "0..=1000 and at most one per planned op",
        ));
    }
    if f.kill == KillPoint::Checkpoint
        && s.workload.mix.checkpoint == 0
        && s.workload.checkpointers == 0
    {
        return Err(Invalid::field(
            "faults.kill",
            "= \"checkpoint\" needs checkpoint ops: give `workload.mix.checkpoint` a positive weight or set `workload.checkpointers`",
        ));
    }
    if f.respawn && f.kill == KillPoint::Hang {
        return Err(Invalid::field(
            "faults.respawn",
            "cannot be combined with kill = \"hang\" (a hung worker is killed by the watchdog, not respawned)",
        ));
    }
    if f.respawn && f.kill == KillPoint::Panic {
        return Err(Invalid::field(
            "faults.respawn",
            "cannot be combined with kill = \"panic\" (a worker whose actor panicked fails; it is not respawned)",
        ));
    }
    if matches!(f.kill, KillPoint::Io | KillPoint::PowerLoss) {
        return Err(Invalid::field(
            "faults.kill",
            format!(
                "= {} is set by `[io]` points only; allowed: none, mid-transaction, after-commit, checkpoint, close, hang, panic",
                toml_value(&f.kill)
            ),
        ));
    }
    Ok(())
}

/// How a value is written in a scenario file (`"mid-transaction"`), for messages.
fn toml_value<T: Serialize>(v: &T) -> String {
    toml::Value::try_from(v).map_or_else(|_| "?".into(), |x| x.to_string())
}

/// `workers x ops_per_worker` over [`MAX_TOTAL_OPS`] (also checked per matrix case).
pub(super) fn too_many_ops(s: &Scenario) -> Invalid {
    Invalid::table(
        "workload",
        format!(
            "workers x ops_per_worker = {} exceeds the limit of {MAX_TOTAL_OPS} ops per run",
            s.total_ops()
        ),
    )
}

fn check_range(field: &str, r: [u32; 2], lo: u32, hi: u32) -> Result<(), Invalid> {
    let allowed = format!("[min, max] with {lo} <= min <= max <= {hi}");
    if r[0] > r[1] {
        return Err(Invalid::field(
            field,
            format!("= [{}, {}] has min > max; allowed: {allowed}", r[0], r[1]),
        ));
    }
    if r[0] < lo || r[1] > hi {
        return Err(Invalid::range(
            field,
            format!("[{}, {}]", r[0], r[1]),
            allowed,
        ));
    }
    Ok(())
}

/// The reader role: some worker must still write, and readers are kanban readers (the
/// built-in worker's, or an adapter's `read_snapshot`); the broken reader is the built-in
/// worker's alone.
fn check_readers(s: &Scenario) -> Result<(), Invalid> {
    let w = &s.workload;
    check_range(
        "workload.reader_hold_ms",
        w.reader_hold_ms,
        0,
        MAX_READER_HOLD_MS,
    )?;
    let roles = w.checkpointers.saturating_add(w.readers);
    if w.readers > 0 && roles >= w.workers {
        return Err(Invalid::range(
            "workload.readers",
            w.readers,
            format!(
                "0..={} (workload.checkpointers + workload.readers must be fewer than workload.workers = {}: at least one worker writes)",
                w.workers.saturating_sub(1).saturating_sub(w.checkpointers),
                w.workers
            ),
        ));
    }
    let readers_used = w.readers > 0 || !w.reader_txn.is_one_snapshot();
    let broken_reader = !w.reader_txn.is_one_snapshot();
    if readers_used && (w.profile != Profile::Kanban || (broken_reader && s.worker.is_some())) {
        return Err(Invalid::field(
            if w.readers > 0 {
                "workload.readers"
            } else {
                "workload.reader_txn"
            },
            "readers are kanban readers, and reader_txn = \"restart-between-reads\" the built-in worker's; leave it out with profile = \"list-append\" (and reader_txn with a [worker])",
        ));
    }
    Ok(())
}

/// The list-append profile draws its own transactions: a kanban mix, a kanban app's ledger
/// or list reads outside it are refused rather than ignored.
fn check_list_append(s: &Scenario) -> Result<(), Invalid> {
    let w = &s.workload;
    match w.profile {
        Profile::ListAppend if w.mix != OpMix::creates_only() => Err(Invalid::table(
            "workload.mix",
            "profile = \"list-append\" draws its own transactions (appends and reads of keyed lists); leave [workload.mix] out",
        )),
        Profile::ListAppend if s.ledger.is_some() => Err(Invalid::table(
            "ledger",
            "profile = \"list-append\" uses the built-in ledger and the isolation checker; leave [ledger] out",
        )),
        Profile::Kanban if w.list_reads != ListReads::InTransaction => Err(Invalid::field(
            "workload.list_reads",
            "applies only to profile = \"list-append\"; allowed values: \"in-transaction\", \"before-begin\"",
        )),
        Profile::Kanban if w.list_write != ListWrite::Append => Err(Invalid::field(
            "workload.list_write",
            "applies only to profile = \"list-append\"; allowed values: \"append\", \"rewrite\", \"rewrite-stale-retry\"",
        )),
        Profile::ListAppend
            if w.list_write != ListWrite::Append && w.list_reads != ListReads::InTransaction =>
        {
            Err(Invalid::field(
                "workload.list_write",
                "a read-modify-write reads inside its own transaction; leave list_reads out or \"in-transaction\" with it; allowed values: \"append\", \"rewrite\", \"rewrite-stale-retry\"",
            ))
        }
        _ if w.claim != ClaimStyle::CompareAndSwap
            && (w.profile != Profile::Kanban || s.worker.is_some()) =>
        {
            Err(Invalid::field(
                "workload.claim",
                "= \"read-then-write\" is a claim of the built-in worker's kanban workload; leave it out with profile = \"list-append\" or a [worker]; allowed values: \"compare-and-swap\", \"read-then-write\"",
            ))
        }
        _ => validate_attach(s),
    }
}

/// `attach = "aux"`: a transaction across two files is atomic only through a super-journal,
/// which SQLite writes only in a rollback-journal mode with syncing on in both databases
/// (in WAL, or with synchronous = off, each file commits on its own by design); so anything
/// else would fail the all-or-nothing check for SQLite's documented behaviour.
fn validate_attach(s: &Scenario) -> Result<(), Invalid> {
    let w = &s.workload;
    if w.attach == Attach::None {
        return Ok(());
    }
    // The racy claim commits outside the op body that mirrors, and a raced setup never
    // creates the mirror table: both would write one file only.
    if w.profile != Profile::Kanban
        || s.worker.is_some()
        || s.ledger.is_some()
        || w.claim != ClaimStyle::CompareAndSwap
        || w.setup != Setup::Runner
    {
        return Err(Invalid::field(
            "workload.attach",
            "= \"aux\" is the built-in worker's kanban workload with the built-in ledger; leave it out with profile = \"list-append\", a [worker], a [ledger], claim = \"read-then-write\" or setup = \"race\"; allowed values: \"none\", \"aux\"",
        ));
    }
    match (s.sqlite.journal_mode, s.sqlite.synchronous) {
        (JournalMode::Delete | JournalMode::Truncate | JournalMode::Persist, sync)
            if sync != Synchronous::Off =>
        {
            Ok(())
        }
        _ => Err(Invalid::field(
            "workload.attach",
            "= \"aux\" needs a super-journal: sqlite.journal_mode \"delete\", \"truncate\" or \"persist\" and sqlite.synchronous other than \"off\"",
        )),
    }
}
