//! The shipped scenario files, compiled into the binary so that `walburst run NAME` works
//! from any directory. A test checks that this list matches `scenarios/*.toml`.

/// What `walburst run` runs when given no scenario.
pub const DEFAULT_SCENARIO: &str = "pr-45525-burst";

pub struct EmbeddedScenario {
    pub name: &'static str,
    pub file: &'static str,
    pub toml: &'static str,
}

macro_rules! shipped {
    ($($name:literal),* $(,)?) => {
        &[$(EmbeddedScenario {
            name: $name,
            file: concat!("scenarios/", $name, ".toml"),
            toml: include_str!(concat!("../../scenarios/", $name, ".toml")),
        }),*]
    };
}

static SHIPPED: &[EmbeddedScenario] = shipped![
    "pr-45525-burst",
    "kanban-mix",
    "global-lock",
    "delete-journal",
    "smoke",
    "legacy-page-count-guard",
    "legacy-header-probe",
    "header-probe-lock-hazard",
    "header-probe-lock-hazard-wal",
    "kill-mid-transaction",
    "lost-wal",
    "torn-page",
    "truncated-db",
    "python-pr-45525-burst",
    "python-legacy-page-count-guard",
    "python-page-count-guard-delete",
    "python-legacy-header-probe",
    "python-header-probe-lock-hazard-wal",
    "checkpoint-kill-at-page",
    "checkpoint-stall",
    "power-loss-full",
    "power-loss-normal",
    "power-loss-off",
    "python-power-loss-full",
    "python-power-loss-normal",
    "python-power-loss-off",
    "python-checkpoint-kill-at-page",
    "python-checkpoint-stall",
    "wal-lock-hazard-by-release",
    "list-append",
    "list-append-reads-before-begin",
    "list-append-stale-read",
    "double-claim",
    "python-double-claim",
    "python-list-append",
    "python-kanban-app-mode",
    "wal-reset-bug",
    "mixed-releases",
    "close-open-deadlock",
    "wal-checkpointer-shm",
    "wal-reset-search-shm",
    "wal-reset-found-shm",
    "kanban-readers",
    "snapshot-restart-control",
    "checkpoint-starvation",
    "super-journal-rollback",
    "super-journal-zeroed",
    "lost-update",
    "python-lost-update",
    "python-kanban-readers",
];

pub fn embedded() -> &'static [EmbeddedScenario] {
    SHIPPED
}

pub fn find_embedded(name: &str) -> Option<&'static EmbeddedScenario> {
    SHIPPED.iter().find(|e| e.name == name)
}
