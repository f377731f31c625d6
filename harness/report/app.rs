//! What the app's processes ran (an external `[worker]`): their SQLite version(s) from
//! `hello`, the settings their connections reported (`settings`), and the journal mode a
//! `journal_mode = "app"` run was judged in, next to walburst's own SQLite (which only set
//! the database up and verified it).

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

use crate::check::Checks;
use crate::observe::{AppSettings, WorkerExit};

/// The report's `app` object.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct AppSide {
    /// Each SQLite version the app's processes loaded, with the workers that said so.
    pub sqlite_versions: BTreeMap<String, Vec<u32>>,
    /// Each distinct set of effective settings the app's connections reported, over every
    /// worker. Empty: the adapter reported none (`settings_reported` false).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub settings: Vec<AppSettings>,
    pub settings_reported: bool,
    /// `journal_mode = "app"`: the mode the run was judged in (the app's choice).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub journal_mode: Option<String>,
    /// walburst's own SQLite: the runner's setup and the verification ran on it.
    pub runner_sqlite: String,
}

impl AppSide {
    /// The app's side of a run with an external worker.
    pub fn of(workers: &[WorkerExit], checks: &Checks, runner_sqlite: &str) -> AppSide {
        let mut a = AppSide {
            runner_sqlite: runner_sqlite.to_string(),
            journal_mode: checks.app_journal_mode.as_ref().map(|m| m.chosen.clone()),
            ..Default::default()
        };
        for w in workers {
            if let Some(v) = &w.sqlite_version {
                let ws = a.sqlite_versions.entry(v.clone()).or_default();
                if !ws.contains(&w.worker) {
                    ws.push(w.worker);
                }
            }
            for s in &w.settings {
                if !a.settings.contains(s) {
                    a.settings.push(s.clone());
                }
            }
        }
        a.settings.sort();
        a.settings_reported = !a.settings.is_empty();
        a
    }

    /// `3.40.1`, or every version with its workers when they differ.
    pub fn versions(&self) -> String {
        match self.sqlite_versions.len() {
            0 => "not reported".to_string(),
            1 => self
                .sqlite_versions
                .keys()
                .next()
                .cloned()
                .unwrap_or_default(),
            _ => self
                .sqlite_versions
                .iter()
                .map(|(v, ws)| format!("{v} (workers {ws:?})"))
                .collect::<Vec<_>>()
                .join(", "),
        }
    }

    /// What the app's connections set, each distinct answer once, or `not reported`.
    pub fn settings_text(&self) -> String {
        if self.settings.is_empty() {
            return "settings not reported".to_string();
        }
        let texts: Vec<String> = self.settings.iter().map(AppSettings::describe).collect();
        let mut unique: Vec<String> = Vec::new();
        for t in texts {
            if !unique.contains(&t) {
                unique.push(t);
            }
        }
        unique.join(" | ")
    }

    /// One line for the console and the page: the app's SQLite and settings, then walburst's.
    pub fn line(&self) -> String {
        format!(
            "app sqlite={} {}; walburst's own sqlite={} (setup and verification)",
            self.versions(),
            self.settings_text(),
            self.runner_sqlite
        )
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn exit(worker: u32, version: &str, mode: Option<&str>) -> WorkerExit {
        let mut w: WorkerExit = serde_json::from_value(serde_json::json!({
            "worker": worker, "pid": 1, "finished": true, "records": 0,
            "sqlite_version": version,
        }))
        .unwrap();
        if let Some(m) = mode {
            w.note_settings(AppSettings {
                sqlite_version: version.into(),
                journal_mode: Some(m.into()),
                synchronous: Some("full".into()),
                wal_autocheckpoint: Some(1000),
                busy_timeout_ms: Some(5000),
                locking_mode: Some("normal".into()),
                mmap_size: None,
            });
        }
        w
    }

    #[test]
    fn one_version_and_the_settings_read_back_are_the_line() {
        let a = AppSide::of(
            &[
                exit(0, "3.40.1", Some("delete")),
                exit(1, "3.40.1", Some("delete")),
            ],
            &Checks::default(),
            "3.54.1",
        );
        assert_eq!(a.versions(), "3.40.1");
        assert_eq!(
            a.line(),
            "app sqlite=3.40.1 journal_mode=delete synchronous=full wal_autocheckpoint=1000 busy_timeout_ms=5000 locking_mode=normal; walburst's own sqlite=3.54.1 (setup and verification)"
        );
    }

    #[test]
    fn several_versions_are_listed_and_an_old_adapter_is_not_reported() {
        let a = AppSide::of(
            &[exit(0, "3.40.1", None), exit(1, "3.51.3", None)],
            &Checks::default(),
            "3.54.1",
        );
        assert_eq!(a.versions(), "3.40.1 (workers [0]), 3.51.3 (workers [1])");
        assert!(!a.settings_reported);
        assert!(a.line().contains("settings not reported"), "{}", a.line());
    }
}
