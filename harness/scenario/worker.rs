//! `[worker]`: which program runs as each worker (PROTOCOL.md, "Choosing the worker"), and
//! how its paths are resolved against the scenario file's directory.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};

use super::Invalid;

/// Replaced, in `command` elements, `env` values and `cwd`, by the scenario's directory.
pub const SCENARIO_DIR_VAR: &str = "{scenario_dir}";

/// The system under test, as written in the scenario. Without the table the built-in worker
/// (`walburst worker`) runs.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct WorkerTable {
    /// argv of the worker program.
    pub command: Vec<String>,
    /// Extra environment variables (names may not start with `WALBURST_`).
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub env: BTreeMap<String, String>,
    /// Working directory; default: the run directory.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub cwd: Option<String>,
}

/// A worker program ready to start: absolute program, arguments, environment, directory.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct WorkerCommand {
    pub program: PathBuf,
    pub args: Vec<String>,
    pub env: BTreeMap<String, String>,
    /// Working directory; the run directory when `None`.
    pub cwd: Option<PathBuf>,
    /// The SQLite version the worker must report in its `hello` (a run on a chosen release,
    /// `--sqlite`); another version is a named failure before the barrier opens.
    pub expect_sqlite: Option<String>,
    /// Workers a `[[sqlite.cohort]]` puts on another release, and how each starts instead.
    pub cohorts: BTreeMap<u32, CohortCommand>,
}

/// What changes for a worker of a cohort: the release it must report, the prepared binary
/// it runs (built-in worker) and the variables that make its program load that release.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CohortCommand {
    /// The release's prepared walburst (the built-in worker); `None`: the same program.
    pub program: Option<PathBuf>,
    pub env: BTreeMap<String, String>,
    pub expect_sqlite: String,
}

impl WorkerCommand {
    /// How worker `w` starts: this command, with its cohort's program, variables and
    /// expected release where a cohort lists it.
    pub fn for_worker(&self, w: u32) -> WorkerCommand {
        let mut c = WorkerCommand {
            cohorts: BTreeMap::new(),
            ..self.clone()
        };
        if let Some(k) = self.cohorts.get(&w) {
            if let Some(p) = &k.program {
                c.program = p.clone();
            }
            c.env.extend(k.env.clone());
            c.expect_sqlite = Some(k.expect_sqlite.clone());
        }
        c
    }

    /// walburst's own worker: `<exe> worker`.
    pub fn builtin(exe: &Path) -> WorkerCommand {
        WorkerCommand {
            program: exe.to_path_buf(),
            args: vec!["worker".into()],
            env: BTreeMap::new(),
            cwd: None,
            expect_sqlite: None,
            cohorts: BTreeMap::new(),
        }
    }
}

fn is_executable(p: &Path) -> bool {
    use std::os::unix::fs::PermissionsExt;
    std::fs::metadata(p).is_ok_and(|m| m.is_file() && m.permissions().mode() & 0o111 != 0)
}

/// Resolves the table against `scenario_dir` (absolute): `{scenario_dir}` substituted,
/// `command[0]` with a '/' made absolute against it, a bare name looked up on `PATH`, a
/// relative `cwd` made absolute against it. `Err` names the field and what is wrong.
pub fn resolve(t: &WorkerTable, scenario_dir: &Path) -> Result<WorkerCommand, Invalid> {
    let dir = scenario_dir.to_string_lossy();
    let subst = |s: &str| s.replace(SCENARIO_DIR_VAR, &dir);
    let Some((program, args)) = t.command.split_first() else {
        return Err(Invalid::field(
            "worker.command",
            format!(
                "is empty; give the worker program's argv, e.g. [\"python3\", \"{SCENARIO_DIR_VAR}/my_worker.py\"]"
            ),
        ));
    };
    let program = subst(program);
    let program = if program.contains('/') {
        let p = scenario_dir.join(&program);
        if !is_executable(&p) {
            return Err(Invalid::field(
                "worker.command",
                format!(
                    "names {}, which is not an executable file (a relative command[0] is resolved against the scenario's directory {dir})",
                    p.display()
                ),
            ));
        }
        p
    } else {
        let path = std::env::var_os("PATH").unwrap_or_default();
        std::env::split_paths(&path)
            .map(|d| d.join(&program))
            .find(|p| is_executable(p))
            .ok_or_else(|| {
                Invalid::field(
                    "worker.command",
                    format!("names the program {program:?}, which is not on PATH"),
                )
            })?
    };
    let cwd = match &t.cwd {
        None => None,
        Some(c) => {
            let p = scenario_dir.join(subst(c));
            if !p.is_dir() {
                return Err(Invalid::field(
                    "worker.cwd",
                    format!(
                        "= {c:?}: {} is not a directory (a relative cwd is resolved against the scenario's directory)",
                        p.display()
                    ),
                ));
            }
            Some(p)
        }
    };
    for name in t.env.keys() {
        if name.is_empty() || name.contains('=') || name.contains('\0') {
            return Err(Invalid::field(
                "worker.env",
                format!("has {name:?}, which is not a valid variable name"),
            ));
        }
        if name.starts_with("WALBURST_") {
            return Err(Invalid::field(
                "worker.env",
                format!(
                    "has {name}, which is reserved; WALBURST_* variables are set by the runner"
                ),
            ));
        }
    }
    Ok(WorkerCommand {
        program,
        args: args.iter().map(|a| subst(a)).collect(),
        env: t.env.iter().map(|(k, v)| (k.clone(), subst(v))).collect(),
        cwd,
        expect_sqlite: None,
        cohorts: BTreeMap::new(),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn table(command: &[&str]) -> WorkerTable {
        WorkerTable {
            command: command.iter().map(|s| s.to_string()).collect(),
            env: BTreeMap::new(),
            cwd: None,
        }
    }

    #[test]
    fn paths_resolve_against_the_scenario_directory() {
        let d = tempfile::tempdir().unwrap();
        let script = d.path().join("w.sh");
        std::fs::write(&script, "#!/bin/sh\n").unwrap();
        use std::os::unix::fs::PermissionsExt;
        std::fs::set_permissions(&script, std::fs::Permissions::from_mode(0o755)).unwrap();
        let mut t = table(&["./w.sh", "{scenario_dir}/data", "plain"]);
        t.cwd = Some(".".into());
        t.env.insert("X".into(), "{scenario_dir}/x".into());
        let c = resolve(&t, d.path()).unwrap();
        assert_eq!(c.program, d.path().join("./w.sh"));
        let dir = d.path().display();
        assert_eq!(c.args, vec![format!("{dir}/data"), "plain".to_string()]);
        assert_eq!(c.env["X"], format!("{dir}/x"));
        assert_eq!(c.cwd, Some(d.path().join(".")));
        let sh = resolve(&table(&["sh", "-c", "true"]), d.path()).unwrap();
        assert!(sh.program.is_absolute(), "found on PATH");
    }

    #[test]
    fn a_cohort_worker_starts_with_its_own_program_variables_and_release() {
        let mut c = WorkerCommand::builtin(Path::new("/bin/walburst"));
        c.env.insert("A".into(), "run".into());
        c.expect_sqlite = Some("3.54.1".into());
        c.cohorts.insert(
            1,
            CohortCommand {
                program: Some("/cache/3.53.2/walburst".into()),
                env: BTreeMap::from([("A".into(), "cohort".into())]),
                expect_sqlite: "3.53.2".into(),
            },
        );
        let w0 = c.for_worker(0);
        assert_eq!(w0.program, Path::new("/bin/walburst"));
        assert_eq!(
            (w0.env["A"].as_str(), w0.expect_sqlite.as_deref()),
            ("run", Some("3.54.1"))
        );
        let w1 = c.for_worker(1);
        assert_eq!(w1.program, Path::new("/cache/3.53.2/walburst"));
        assert_eq!(w1.args, ["worker"]);
        assert_eq!(
            (w1.env["A"].as_str(), w1.expect_sqlite.as_deref()),
            ("cohort", Some("3.53.2"))
        );
        assert!(w1.cohorts.is_empty());
    }

    #[test]
    fn bad_tables_name_their_field() {
        let d = tempfile::tempdir().unwrap();
        let err = |t: WorkerTable| resolve(&t, d.path()).unwrap_err();
        let e = err(table(&[]));
        assert_eq!(e.subject(), "worker.command");
        assert!(e.to_string().contains("`worker.command` is empty"));
        assert_eq!(err(table(&["./missing.sh"])).subject(), "worker.command");
        let e = err(table(&["no-such-program-xyz"]));
        assert_eq!(e.subject(), "worker.command");
        assert!(e.to_string().contains("not on PATH"));
        let mut t = table(&["sh"]);
        t.cwd = Some("nowhere".into());
        assert_eq!(err(t).subject(), "worker.cwd");
        let mut t = table(&["sh"]);
        t.env.insert("WALBURST_WORKER".into(), "1".into());
        let e = err(t);
        assert_eq!(e.subject(), "worker.env");
        assert!(e.to_string().contains("reserved"));
    }
}
