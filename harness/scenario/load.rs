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
/// `--pct-depth`; `cli::args::ScaleArgs`): what becomes [`Overrides`].
#[derive(Debug, Clone, Default)]
pub struct Scale {
    pub workers: Option<u32>,
    pub ops: Option<u32>,
    /// Lockstep only (free mode refuses it, exit 2); a plan does not depend on it.
    pub scheduler: Option<SchedulerKind>,
    /// Lockstep only, like `scheduler`.
    pub pct_depth: Option<u32>,
}

impl Scale {
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
    /// `--power-loss-at w1:wal:3:after`: one point of a sync sweep (adds its power-loss
    /// point to `[io]`).
    #[serde(skip_serializing_if = "Option::is_none", default)]
    pub power_loss_at: Option<super::sync_point::SyncPoint>,
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
        if let Some(p) = self.power_loss_at {
            args.push(format!("--power-loss-at {p}"));
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
        // Added, not replacing: validation then refuses a second power-loss point. Applying
        // the same overrides twice (a matrix case after its base) adds it once.
        if let Some(p) = self.power_loss_at.map(|p| p.io_point())
            && !scenario.io.points.contains(&p)
        {
            scenario.io.points.push(p);
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
