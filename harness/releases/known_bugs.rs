//! The known-bug table: SQLite bugs and hazards that hit multi-process apps, which releases
//! each affects (with backports), and the shipped scenario that shows it
//! (`known_bugs.toml`, compiled in). `walburst sqlite advise` and `walburst sqlite
//! known-bugs` read it; a test holds it to the shipped scenarios.

use std::fmt;
use std::sync::OnceLock;

use serde::Deserialize;

use super::version::{RELEASES, SqliteVersion};

const TABLE: &str = include_str!("known_bugs.toml");

/// The whole table.
#[derive(Debug, Clone, PartialEq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct KnownBugs {
    /// The newest release the table was reviewed against; a newer one may have bugs it does
    /// not list, and advise says so rather than giving it a clean bill.
    pub reviewed_through: SqliteVersion,
    #[serde(rename = "bug")]
    pub bugs: Vec<KnownBug>,
}

/// Whether `fixed_in` fixes a defect or mitigates a behaviour.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum BugKind {
    Bug,
    Hazard,
}

/// The releases a bug affects: `from <= v < fixed_in`, except releases at or past a
/// backport of the fix in their own `major.minor` line.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Affected {
    pub from: SqliteVersion,
    pub fixed_in: SqliteVersion,
    /// The first fixed release of each older line the fix was backported to.
    pub backports: Vec<SqliteVersion>,
}

impl Affected {
    pub fn contains(&self, v: SqliteVersion) -> bool {
        self.from <= v
            && v < self.fixed_in
            && !self
                .backports
                .iter()
                .any(|b| (b.major, b.minor) == (v.major, v.minor) && v.patch >= b.patch)
    }
}

impl fmt::Display for Affected {
    /// `3.7.0 to before 3.51.3 (except 3.44.6+ in 3.44.x, 3.50.7+ in 3.50.x)`.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{} to before {}", self.from, self.fixed_in)?;
        if !self.backports.is_empty() {
            let lines: Vec<String> = self
                .backports
                .iter()
                .map(|b| format!("{b}+ in {}.{}.x", b.major, b.minor))
                .collect();
            write!(f, " (except {})", lines.join(", "))?;
        }
        Ok(())
    }
}

/// How the bug can be seen with walburst.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Demo {
    /// A shipped scenario FAILs on an affected release and PASSes on the others; `sweep`
    /// (if any) runs it on every offered release through its `[matrix] sqlite` axis.
    Scenario {
        scenario: String,
        sweep: Option<String>,
        /// Arguments the demonstration needs (`--mode lockstep`), after the scenario.
        args: Option<String>,
    },
    /// No shipped scenario shows it yet; why.
    Missing(String),
}

/// One row of the table.
#[derive(Debug, Clone, PartialEq, Deserialize)]
#[serde(try_from = "RawBug")]
pub struct KnownBug {
    /// Short stable name, e.g. `wal-reset`.
    pub id: String,
    pub name: String,
    pub kind: BugKind,
    pub affected: Affected,
    /// What happens, in a paragraph.
    pub shape: String,
    pub demo: Demo,
}

/// What a scenario of the table is expected to give on one release.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Expected {
    /// Affected, and the demo scenario must FAIL.
    Fail,
    /// Not affected, and the demo scenario must PASS.
    Pass,
    /// Affected, but nothing shipped shows it yet.
    AffectedNoScenario,
    /// Not affected, and nothing shipped to show that either.
    ClearNoScenario,
}

impl Expected {
    /// One short cell of `walburst sqlite known-bugs`.
    pub fn cell(self) -> &'static str {
        match self {
            Expected::Fail => "FAIL",
            Expected::Pass => "pass",
            Expected::AffectedNoScenario => "hit",
            Expected::ClearNoScenario => "-",
        }
    }
}

impl KnownBug {
    pub fn affects(&self, v: SqliteVersion) -> bool {
        self.affected.contains(v)
    }

    /// The offered releases (`walburst sqlite list`) this bug affects, oldest first.
    pub fn affected_offered(&self) -> Vec<SqliteVersion> {
        RELEASES
            .iter()
            .map(|r| r.sqlite)
            .filter(|&v| self.affects(v))
            .collect()
    }

    /// What the table expects on release `v`.
    pub fn expected_on(&self, v: SqliteVersion) -> Expected {
        match (&self.demo, self.affects(v)) {
            (Demo::Scenario { .. }, true) => Expected::Fail,
            (Demo::Scenario { .. }, false) => Expected::Pass,
            (Demo::Missing(_), true) => Expected::AffectedNoScenario,
            (Demo::Missing(_), false) => Expected::ClearNoScenario,
        }
    }

    /// The command that shows this bug for a user on release `v`: the demo scenario on `v`
    /// itself when walburst offers it, else on the nearest offered affected release (the
    /// oldest at or above `v`, else the newest below). `None` without a demo scenario, or
    /// when no offered release is affected.
    pub fn demonstrate(&self, v: SqliteVersion) -> Option<Demonstration> {
        let Demo::Scenario {
            scenario,
            sweep,
            args,
        } = &self.demo
        else {
            return None;
        };
        let args = args.as_deref().map(|a| format!(" {a}")).unwrap_or_default();
        let affected = self.affected_offered();
        let on = if affected.contains(&v) {
            v
        } else {
            affected
                .iter()
                .copied()
                .find(|&a| a >= v)
                .or_else(|| affected.last().copied())?
        };
        Some(Demonstration {
            command: format!("walburst run {scenario}{args} --sqlite {on}"),
            on,
            sweep: sweep.as_ref().map(|s| format!("walburst run {s}")),
        })
    }
}

/// A command that shows a bug, and on which release it runs.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Demonstration {
    pub command: String,
    /// The release the command runs on (the user's own, or the nearest offered one).
    pub on: SqliteVersion,
    /// The same scenario on every offered release, if a sweep is shipped.
    pub sweep: Option<String>,
}

/// A row of `known_bugs.toml` as written, before its demo fields are checked.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct RawBug {
    id: String,
    name: String,
    kind: BugKind,
    from: SqliteVersion,
    fixed_in: SqliteVersion,
    #[serde(default)]
    backports: Vec<SqliteVersion>,
    shape: String,
    demo: Option<String>,
    /// Arguments the demo needs (e.g. `--mode lockstep`).
    demo_args: Option<String>,
    sweep: Option<String>,
    missing: Option<String>,
}

/// A row of the table that contradicts itself.
#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum BadRow {
    #[error("bug `{id}`: `from` {from} is not below `fixed_in` {fixed_in}")]
    EmptyRange {
        id: String,
        from: SqliteVersion,
        fixed_in: SqliteVersion,
    },
    #[error(
        "bug `{id}`: backport {backport} is not a release of an older line inside [{from}, {fixed_in})"
    )]
    Backport {
        id: String,
        backport: SqliteVersion,
        from: SqliteVersion,
        fixed_in: SqliteVersion,
    },
    #[error("bug `{id}`: give exactly one of `demo` (a shipped scenario) and `missing` (why none)")]
    Demo { id: String },
    #[error("bug `{id}`: `sweep` needs a `demo` scenario")]
    SweepWithoutDemo { id: String },
}

impl TryFrom<RawBug> for KnownBug {
    type Error = BadRow;
    fn try_from(r: RawBug) -> Result<KnownBug, BadRow> {
        if r.from >= r.fixed_in {
            return Err(BadRow::EmptyRange {
                id: r.id,
                from: r.from,
                fixed_in: r.fixed_in,
            });
        }
        for &b in &r.backports {
            // A backport lives in an older line than the fix, inside the affected range.
            let older_line = (b.major, b.minor) < (r.fixed_in.major, r.fixed_in.minor);
            if !(r.from < b && b < r.fixed_in && older_line) {
                return Err(BadRow::Backport {
                    id: r.id,
                    backport: b,
                    from: r.from,
                    fixed_in: r.fixed_in,
                });
            }
        }
        let demo = match (r.demo, r.sweep, r.missing) {
            (Some(scenario), sweep, None) => Demo::Scenario {
                scenario,
                sweep,
                args: r.demo_args,
            },
            (None, Some(_), _) => return Err(BadRow::SweepWithoutDemo { id: r.id }),
            (None, None, Some(why)) => Demo::Missing(why),
            _ => return Err(BadRow::Demo { id: r.id }),
        };
        Ok(KnownBug {
            id: r.id,
            name: r.name,
            kind: r.kind,
            affected: Affected {
                from: r.from,
                fixed_in: r.fixed_in,
                backports: r.backports,
            },
            shape: r.shape,
            demo,
        })
    }
}

/// Parses a table (the shipped one, or a test's).
pub fn parse(text: &str) -> Result<KnownBugs, toml::de::Error> {
    toml::from_str(text)
}

/// The shipped table. It is compiled in; a unit test parses it, so this cannot fail in a
/// released build.
pub fn table() -> &'static KnownBugs {
    static PARSED: OnceLock<KnownBugs> = OnceLock::new();
    PARSED.get_or_init(|| parse(TABLE).expect("known_bugs.toml parses (a unit test checks it)"))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn v(s: &str) -> SqliteVersion {
        s.parse().unwrap()
    }

    fn bug(id: &str) -> &'static KnownBug {
        table().bugs.iter().find(|b| b.id == id).unwrap()
    }

    #[test]
    fn the_shipped_table_parses_with_unique_ids() {
        let t = parse(TABLE).unwrap();
        let mut ids: Vec<&str> = t.bugs.iter().map(|b| b.id.as_str()).collect();
        ids.sort_unstable();
        ids.dedup();
        assert_eq!(ids.len(), t.bugs.len());
        assert!(t.bugs.len() >= 4);
        assert_eq!(t.reviewed_through, SqliteVersion::bundled());
    }

    #[test]
    fn wal_reset_range_honours_the_backports() {
        let b = bug("wal-reset");
        for yes in [
            "3.7.0", "3.40.1", "3.44.0", "3.44.5", "3.45.0", "3.50.2", "3.50.6", "3.51.0",
            "3.51.1", "3.51.2",
        ] {
            assert!(b.affects(v(yes)), "{yes} is affected");
        }
        for no in [
            "3.6.23", "3.44.6", "3.44.9", "3.50.7", "3.50.8", "3.51.3", "3.52.0", "3.54.1",
        ] {
            assert!(!b.affects(v(no)), "{no} is not affected");
        }
    }

    #[test]
    fn the_other_rows_have_their_documented_ranges() {
        let lock = bug("close-drops-posix-locks");
        assert_eq!(lock.kind, BugKind::Hazard);
        assert!(lock.affects(v("3.50.2")) && lock.affects(v("3.40.1")));
        assert!(!lock.affects(v("3.51.0")) && !lock.affects(v("3.51.1")));
        let dl = bug("close-open-deadlock");
        assert!(dl.affects(v("3.51.0")) && dl.affects(v("3.51.1")));
        assert!(!dl.affects(v("3.50.7")) && !dl.affects(v("3.51.2")));
        // The release notes' super-journal bug, by the code (docs/super-journal-window.md):
        // 3.53.4's fix guards a readSuperJournal() that 3.53.3 has unguarded; 3.53.0-3.53.2
        // still have the older one, and 3.54.x's refuses any name that is not an -mj name.
        let sj = bug("super-journal-rollback");
        assert_eq!(sj.affected_offered(), vec![v("3.53.3")]);
        assert!(!sj.affects(v("3.53.2")) && !sj.affects(v("3.53.4")));
        assert_eq!(sj.expected_on(v("3.53.3")), Expected::AffectedNoScenario);
        assert_eq!(sj.expected_on(v("3.54.1")), Expected::ClearNoScenario);
        // The hazard 3.53.3/3.54.0's super-journal checks closed.
        let z = bug("zeroed-super-journal");
        assert!(z.affects(v("3.44.0")) && z.affects(v("3.53.2")));
        assert!(!z.affects(v("3.53.3")) && !z.affects(v("3.54.0")));
        assert_eq!(z.expected_on(v("3.53.2")), Expected::Fail);
        assert_eq!(z.expected_on(v("3.54.0")), Expected::Pass);
        assert_eq!(
            z.demonstrate(v("3.53.2")).unwrap().command,
            "walburst run super-journal-zeroed --sqlite 3.53.2"
        );
    }

    #[test]
    fn the_demonstration_runs_on_the_release_itself_or_the_nearest_offered() {
        let lock = bug("close-drops-posix-locks");
        let d = lock.demonstrate(v("3.50.2")).unwrap();
        assert_eq!(
            d.command,
            "walburst run header-probe-lock-hazard-wal --sqlite 3.50.2"
        );
        assert_eq!(
            d.sweep.as_deref(),
            Some("walburst run wal-lock-hazard-by-release")
        );
        // 3.40.1 is not offered: the oldest offered affected release at or above it.
        assert_eq!(lock.demonstrate(v("3.40.1")).unwrap().on, v("3.44.0"));
        // 3.50.4 is not offered and nothing offered above it is affected: the newest below.
        assert_eq!(lock.demonstrate(v("3.50.4")).unwrap().on, v("3.50.2"));
        // A demonstration that needs its own arguments carries them.
        assert_eq!(
            bug("wal-reset").demonstrate(v("3.50.2")).unwrap().command,
            "walburst run wal-reset-bug --mode lockstep --sqlite 3.50.2"
        );
        assert_eq!(bug("close-open-deadlock").demonstrate(v("3.51.1")), None);
    }

    #[test]
    fn expected_verdicts_follow_the_range_and_the_demo() {
        let lock = bug("close-drops-posix-locks");
        assert_eq!(lock.expected_on(v("3.50.2")), Expected::Fail);
        assert_eq!(lock.expected_on(v("3.51.1")), Expected::Pass);
        let wr = bug("wal-reset");
        assert_eq!(wr.expected_on(v("3.51.1")), Expected::Fail);
        assert_eq!(wr.expected_on(v("3.51.3")), Expected::Pass);
        let deadlock = bug("close-open-deadlock");
        assert_eq!(
            deadlock.expected_on(v("3.51.1")),
            Expected::AffectedNoScenario
        );
        assert_eq!(deadlock.expected_on(v("3.51.3")), Expected::ClearNoScenario);
    }

    /// The releases that come from npm packages: each bug's expectation on them, as the
    /// code places them (3.51.2 fixed the deadlock but not the WAL reset; 3.53.4
    /// fixed the super-journal rollback; 3.44.2 predates the backport 3.44.6).
    #[test]
    fn the_npm_releases_are_covered() {
        use Expected::*;
        let rows = [
            // (release, wal-reset, close-drops-posix-locks, close-open-deadlock,
            //  super-journal-rollback, zeroed-super-journal)
            ("3.44.2", Fail, Fail, ClearNoScenario, ClearNoScenario, Fail),
            (
                "3.51.0",
                Fail,
                Pass,
                AffectedNoScenario,
                ClearNoScenario,
                Fail,
            ),
            ("3.51.2", Fail, Pass, ClearNoScenario, ClearNoScenario, Fail),
            ("3.52.0", Pass, Pass, ClearNoScenario, ClearNoScenario, Fail),
            ("3.53.0", Pass, Pass, ClearNoScenario, ClearNoScenario, Fail),
            (
                "3.53.3",
                Pass,
                Pass,
                ClearNoScenario,
                AffectedNoScenario,
                Pass,
            ),
            ("3.53.4", Pass, Pass, ClearNoScenario, ClearNoScenario, Pass),
        ];
        for (release, reset, lock, deadlock, superj, zeroed) in rows {
            let r = v(release);
            assert!(r.release().is_some(), "{release} is offered");
            let got = [
                "wal-reset",
                "close-drops-posix-locks",
                "close-open-deadlock",
                "super-journal-rollback",
                "zeroed-super-journal",
            ]
            .map(|id| bug(id).expected_on(r));
            assert_eq!(got, [reset, lock, deadlock, superj, zeroed], "{release}");
        }
    }

    /// Every scenario the table names is shipped, and a sweep's per-release expectations
    /// (its `[[matrix.expect]]` rules selecting by `sqlite`) select exactly the affected
    /// offered releases, over exactly the offered releases: the table and the scenario
    /// cannot drift apart silently.
    #[test]
    fn named_scenarios_are_shipped_and_sweeps_agree_with_the_ranges() {
        use crate::scenario::{Overrides, find_embedded, load};
        let offered: Vec<SqliteVersion> = RELEASES.iter().map(|r| r.sqlite).collect();
        for b in &table().bugs {
            let Demo::Scenario {
                scenario, sweep, ..
            } = &b.demo
            else {
                continue;
            };
            assert!(find_embedded(scenario).is_some(), "{}: {scenario}", b.id);
            let Some(sweep) = sweep else { continue };
            let (s, _) = load(sweep, &Overrides::default()).unwrap();
            let m = s.matrix.expect("a sweep has a [matrix]");
            assert_eq!(m.sqlite, offered, "{sweep} runs every offered release");
            let mut selected: Vec<SqliteVersion> = m
                .expect
                .iter()
                .filter_map(|r| r.when.sqlite.as_ref())
                .flat_map(|o| o.0.iter().copied())
                .collect();
            selected.sort();
            selected.dedup();
            assert_eq!(selected, b.affected_offered(), "{sweep} vs bug {}", b.id);
        }
    }

    #[test]
    fn contradictory_rows_are_refused_naming_the_bug() {
        let row = |extra: &str| {
            format!(
                "reviewed_through = \"3.54.1\"\n[[bug]]\nid = \"x\"\nname = \"x\"\nkind = \"bug\"\nshape = \"s\"\n{extra}"
            )
        };
        let cases = [
            (
                "from = \"3.51.3\"\nfixed_in = \"3.51.3\"\nmissing = \"m\"",
                "is not below",
            ),
            (
                "from = \"3.7.0\"\nfixed_in = \"3.51.3\"\nbackports = [\"3.52.1\"]\nmissing = \"m\"",
                "backport 3.52.1",
            ),
            (
                "from = \"3.7.0\"\nfixed_in = \"3.51.3\"\ndemo = \"smoke\"\nmissing = \"m\"",
                "exactly one",
            ),
            ("from = \"3.7.0\"\nfixed_in = \"3.51.3\"", "exactly one"),
            (
                "from = \"3.7.0\"\nfixed_in = \"3.51.3\"\nsweep = \"s\"\nmissing = \"m\"",
                "needs a `demo`",
            ),
            (
                "from = \"3.7.0\"\nfixed_in = \"3.51.3\"\nmissing = \"m\"\nfixed = \"3.1.1\"",
                "unknown field",
            ),
        ];
        for (extra, want) in cases {
            let e = parse(&row(extra)).unwrap_err().to_string();
            assert!(e.contains(want), "{extra}: {e}");
        }
    }
}
