//! Reading a scenario from a shipped name or a file, validating it, applying overrides.

use std::fmt;
use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};

use super::*;

/// Where a scenario came from; used in errors and in the reproduce command.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "kind", content = "value", rename_all = "kebab-case")]
pub enum ScenarioSource {
    /// A scenario shipped inside the binary, by name.
    Embedded(String),
    /// A TOML file on disk, by the path the user gave.
    File(PathBuf),
}

impl ScenarioSource {
    /// The directory `[worker]` paths are resolved against (absolute): the file's own, or
    /// for a shipped scenario the `scenarios/` directory of the source tree it was built from.
    pub fn dir(&self) -> PathBuf {
        match self {
            ScenarioSource::Embedded(_) => Path::new(env!("CARGO_MANIFEST_DIR")).join("scenarios"),
            ScenarioSource::File(path) => {
                let parent = path.parent().unwrap_or(Path::new(""));
                let parent = if parent.as_os_str().is_empty() {
                    Path::new(".")
                } else {
                    parent
                };
                std::fs::canonicalize(parent)
                    .unwrap_or_else(|_| std::env::current_dir().unwrap_or_default().join(parent))
            }
        }
    }

    /// How to name this scenario on a command line.
    pub fn as_arg(&self) -> String {
        match self {
            ScenarioSource::Embedded(name) => name.clone(),
            ScenarioSource::File(path) => path.display().to_string(),
        }
    }
}

impl fmt::Display for ScenarioSource {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            ScenarioSource::Embedded(name) => write!(f, "scenario `{name}` (shipped)"),
            ScenarioSource::File(path) => write!(f, "{}", path.display()),
        }
    }
}

/// Bad input: where it came from (the file, or the shipped scenario's name, with the
/// overrides that shaped it) and what is wrong with it.
#[derive(Debug, thiserror::Error)]
#[error("{origin}")]
pub struct LoadError {
    pub origin: String,
    #[source]
    pub problem: LoadProblem,
}

/// What is wrong with a scenario (or a file that names scenarios, like the regression
/// corpus) that cannot be loaded.
#[derive(Debug, thiserror::Error)]
pub enum LoadProblem {
    /// The file exists but cannot be read.
    #[error("cannot read {what}")]
    Unreadable {
        what: &'static str,
        #[source]
        error: std::io::Error,
    },
    /// Neither a shipped scenario's name nor an existing file.
    #[error(
        "no shipped scenario has this name and no such file exists; shipped scenarios: {} (or give a path to a .toml file)",
        shipped.join(", ")
    )]
    UnknownName { shipped: Vec<&'static str> },
    /// Not TOML, or not the shape of the file (an unknown key, a wrong type, a value not
    /// among the allowed ones); `field` is empty where TOML cannot say which.
    #[error("{}{message}", if field.is_empty() { String::new() } else { format!("field `{field}`: ") })]
    Syntax { field: String, message: String },
    /// Well-formed, but a value the rules refuse.
    #[error(transparent)]
    Invalid(#[from] Invalid),
    /// A field that names another scenario, which fails to load (a corpus entry's scenario).
    #[error("field `{field}`")]
    Inner {
        field: String,
        #[source]
        inner: Box<LoadError>,
    },
    /// A `[matrix]` scenario named where one case is needed.
    #[error(
        "this scenario has a [matrix] of {cases} cases; name one as `{spec}#CASE` (`walburst list {spec}` shows them) or run them all with `walburst run {spec}`"
    )]
    NeedsCase { spec: String, cases: usize },
    /// `FILE#CASE` with a case the matrix does not have.
    #[error(
        "no case `{wanted}` in this scenario's matrix; cases include {}{} (`walburst list {spec}` shows all {total})",
        some.join(", "),
        if *total > some.len() { ", ..." } else { "" }
    )]
    NoSuchCase {
        spec: String,
        wanted: String,
        /// The first few case suffixes, for the message.
        some: Vec<String>,
        total: usize,
    },
}

impl LoadError {
    pub fn new(origin: impl fmt::Display, problem: impl Into<LoadProblem>) -> Self {
        LoadError {
            origin: origin.to_string(),
            problem: problem.into(),
        }
    }

    /// The refusal, when the file was read and parsed and a value was refused.
    pub fn invalid(&self) -> Option<&Invalid> {
        match &self.problem {
            LoadProblem::Invalid(i) => Some(i),
            LoadProblem::Inner { inner, .. } => inner.invalid(),
            _ => None,
        }
    }
}

/// The scale of a run as the command line sets it (`--workers`, `--ops`, `--scheduler`,
/// `--pct-depth`): what becomes [`Overrides`].
#[derive(Debug, Clone, Default, clap::Args)]
pub struct ScaleArgs {
    /// Override the scenario's worker process count.
    #[arg(long, value_name = "N")]
    pub workers: Option<u32>,
    /// Override the ops each worker runs.
    #[arg(long, value_name = "N")]
    pub ops: Option<u32>,
    /// Lockstep scheduler, overriding the scenario's `[lockstep] scheduler`. `run` accepts
    /// it only with --mode lockstep or --check-determinism (free mode refuses it, exit 2); a
    /// plan does not depend on it.
    #[arg(long, value_enum, value_name = "KIND")]
    pub scheduler: Option<SchedulerKind>,
    /// PCT bug depth, overriding the scenario's `[lockstep] pct_depth` (like --scheduler:
    /// lockstep only).
    #[arg(long, value_name = "D")]
    pub pct_depth: Option<u32>,
}

impl ScaleArgs {
    pub fn overrides(&self) -> Overrides {
        Overrides {
            workers: self.workers,
            ops: self.ops,
            scheduler: self.scheduler,
            pct_depth: self.pct_depth,
            ..Overrides::default()
        }
    }
}

/// Command-line changes to a scenario; recorded in reports and reproduce commands.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Overrides {
    #[serde(skip_serializing_if = "Option::is_none", default)]
    pub workers: Option<u32>,
    #[serde(skip_serializing_if = "Option::is_none", default)]
    pub ops: Option<u32>,
    #[serde(skip_serializing_if = "Option::is_none", default)]
    pub scheduler: Option<SchedulerKind>,
    #[serde(skip_serializing_if = "Option::is_none", default)]
    pub pct_depth: Option<u32>,
    /// `--sqlite V`: run on that SQLite release (`[sqlite] version`).
    #[serde(skip_serializing_if = "Option::is_none", default)]
    pub sqlite: Option<super::release::SqliteVersion>,
}

impl Overrides {
    pub fn is_empty(&self) -> bool {
        self.as_args().is_empty()
    }

    /// The flags that recreate these overrides, in a fixed order.
    pub fn as_args(&self) -> Vec<String> {
        let mut args = Vec::new();
        if let Some(w) = self.workers {
            args.push(format!("--workers {w}"));
        }
        if let Some(o) = self.ops {
            args.push(format!("--ops {o}"));
        }
        if let Some(k) = self.scheduler {
            args.push(format!("--scheduler {}", k.name()));
        }
        if let Some(d) = self.pct_depth {
            args.push(format!("--pct-depth {d}"));
        }
        if let Some(v) = self.sqlite {
            args.push(format!("--sqlite {v}"));
        }
        args
    }

    pub fn apply(&self, scenario: &mut Scenario) {
        if let Some(w) = self.workers {
            scenario.workload.workers = w;
        }
        if let Some(o) = self.ops {
            scenario.workload.ops_per_worker = o;
        }
        if let Some(k) = self.scheduler {
            scenario.lockstep.scheduler = k;
        }
        if let Some(d) = self.pct_depth {
            scenario.lockstep.pct_depth = d;
        }
        if let Some(v) = self.sqlite {
            scenario.sqlite.version = Some(v);
        }
    }
}

/// Resolves `spec` (a shipped scenario's name, or a path to a `.toml` file), applies the
/// overrides and validates the result.
pub fn load(spec: &str, overrides: &Overrides) -> Result<(Scenario, ScenarioSource), LoadError> {
    let looks_like_path = spec.ends_with(".toml") || spec.contains('/') || Path::new(spec).exists();
    let (text, source) = if let Some(e) = find_embedded(spec).filter(|_| !looks_like_path) {
        (
            e.toml.to_string(),
            ScenarioSource::Embedded(e.name.to_string()),
        )
    } else if looks_like_path {
        let path = PathBuf::from(spec);
        let text = std::fs::read_to_string(&path).map_err(|error| {
            LoadError::new(
                path.display(),
                LoadProblem::Unreadable {
                    what: "scenario file",
                    error,
                },
            )
        })?;
        (text, ScenarioSource::File(path))
    } else {
        return Err(LoadError::new(
            format!("scenario `{spec}`"),
            LoadProblem::UnknownName {
                shipped: embedded().iter().map(|e| e.name).collect(),
            },
        ));
    };
    let mut scenario = parse_str(&text, &source)?;
    overrides.apply(&mut scenario);
    validate(&scenario).map_err(|m| {
        let origin = if overrides.is_empty() {
            source.to_string()
        } else {
            format!("{source} (with {})", overrides.as_args().join(" "))
        };
        LoadError::new(origin, m)
    })?;
    Ok((scenario, source))
}

/// Parses and validates a scenario's TOML text.
pub fn parse_str(text: &str, source: &ScenarioSource) -> Result<Scenario, LoadError> {
    let de =
        toml::Deserializer::parse(text).map_err(|err| LoadError::new(source, syntax("", &err)))?;
    let scenario: Scenario = serde_path_to_error::deserialize(de).map_err(|err| {
        let path = err.path().to_string();
        LoadError::new(source, syntax(&path, err.inner()))
    })?;
    validate(&scenario).map_err(|m| LoadError::new(source, m))?;
    // The worker program must exist before anything runs.
    if scenario.worker.is_some() {
        scenario
            .worker_command(source, Path::new("walburst"))
            .map_err(|m| LoadError::new(source, m))?;
    }
    Ok(scenario)
}

/// A TOML or shape error at `field` (empty or "." where TOML cannot say).
pub fn syntax(field: &str, err: &toml::de::Error) -> LoadProblem {
    LoadProblem::Syntax {
        field: if field == "." { "" } else { field }.to_string(),
        message: explain_toml_error(err),
    }
}

/// `toml`'s message already names the line, column and (for enums and unknown keys) the
/// allowed values; we only fold it onto fewer lines.
fn explain_toml_error(err: &toml::de::Error) -> String {
    let mut msg = err.message().to_string();
    if let Some(span) = err.span() {
        msg = format!("{msg} (at byte {}..{})", span.start, span.end);
    }
    // Prefer the crate's full rendering, which shows the offending line.
    let rendered = err.to_string();
    if rendered.contains("line") {
        rendered.trim_end().to_string()
    } else {
        msg
    }
}

/// How a value is written in a scenario file (`"mid-transaction"`), for messages.
fn toml_value<T: Serialize>(v: &T) -> String {
    toml::Value::try_from(v).map_or_else(|_| "?".into(), |x| x.to_string())
}

/// Checks values the type system cannot: ranges and combinations.
pub fn validate(s: &Scenario) -> Result<(), Invalid> {
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
    if q.journal_size_limit < -1 {
        return Err(Invalid::range(
            "sqlite.journal_size_limit",
            q.journal_size_limit,
            "-1 (no limit) or a byte count >= 0",
        ));
    }
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
    super::io_faults::validate(s)?;
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
    super::expect::validate(s)
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
        _ => Ok(()),
    }
}
