//! What lockstep observed: the trace of typed steps, its hash, and the write-lock breaches
//! the coordinator caught at their exact steps.

use serde::{Deserialize, Serialize};

use super::ActorId;
use super::step::{StepAction, StepResult};

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct TraceEntry {
    pub step: u64,
    pub worker: u32,
    pub actor: u32,
    pub action: StepAction,
    pub result: StepResult,
}

/// Two actors inside BEGIN IMMEDIATE..COMMIT at once, caught at the step where the second
/// BEGIN succeeded.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Breach {
    pub step: u64,
    pub actor: ActorId,
    pub holders: Vec<ActorId>,
}

#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct LockstepOutcome {
    pub steps: u64,
    pub trace_hash: String,
    pub breaches: Vec<Breach>,
    /// The step at which a guard first reported corruption.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub first_guard_report_step: Option<u64>,
    /// Why lockstep stopped early (budget, divergence, a stuck step), if it did.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub stopped: Option<String>,
    #[serde(skip)]
    pub trace: Vec<TraceEntry>,
}
