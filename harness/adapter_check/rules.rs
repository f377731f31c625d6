//! The protocol rules `walburst adapter check` reports on, and which of a real run's
//! failures belong to which rule. The failures themselves come from the runner's own contract
//! (`exec::contract`), the coordinator and the verdict: a rule here only groups them, so the
//! check fails exactly where a real run's protocol checks would. Failures about the data (the
//! ledger, the state oracle, integrity, ...) are not the adapter's protocol and are left out:
//! the check does not know the app's schema.

use crate::check::failure::{Detector, Failure, FailureCategory};

/// A rule of PROTOCOL.md, as the check prints it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub enum Rule {
    /// `hello` first with protocol 1, only protocol lines on stdout, every message one the
    /// plan allows (Transport, Handshake, Named failures).
    Messages,
    /// `done` then exit 0; no `fatal`; no process of its own left running.
    Exit,
    /// The start barrier, progress and every lockstep step within their deadlines.
    Deadlines,
    /// One op record per planned op.
    Records,
    /// Records carry what the checks need: the write-lock interval, known op kinds, guards
    /// that could look.
    RecordContents,
    /// No two write transactions at once, as the adapter reported them (free mode) or as its
    /// gate classified each step (lockstep).
    Exclusion,
    /// A planned kill is announced by `dying`, then the process dies by SIGKILL.
    Kills,
}

impl Rule {
    pub const ALL: [Rule; 7] = [
        Rule::Messages,
        Rule::Exit,
        Rule::Deadlines,
        Rule::Records,
        Rule::RecordContents,
        Rule::Exclusion,
        Rule::Kills,
    ];

    /// What the rule asks, and where PROTOCOL.md says it.
    pub fn describe(self) -> &'static str {
        match self {
            Rule::Messages => {
                "messages: hello first (protocol 1), only protocol lines on stdout, every message as planned (PROTOCOL.md: Transport, Handshake, Named failures)"
            }
            Rule::Exit => {
                "exit: done, then exit 0; no fatal; no process of its own left running (Free mode, Named failures)"
            }
            Rule::Deadlines => {
                "deadlines: start barrier, progress, every lockstep step in time (Named failures)"
            }
            Rule::Records => "records: one op record per planned op (Free mode)",
            Rule::RecordContents => {
                "record contents: write-lock interval, known op kinds, guards that could look (Free mode, the op table)"
            }
            Rule::Exclusion => {
                "exclusion: no two write transactions at once, as reported (free) or as the gate classified each step (lockstep) (Lockstep, StepAction)"
            }
            Rule::Kills => {
                "kills: a planned kill is announced by dying, then SIGKILL (Seeded kills)"
            }
        }
    }

    /// Whether the phase checks this rule at all.
    pub fn applies(self, kills: bool) -> bool {
        self != Rule::Kills || kills
    }
}

/// The rule a run's failure belongs to; `None` for failures about the data, which say
/// nothing about the protocol.
pub fn rule_of(f: &Failure) -> Option<Rule> {
    use Detector as D;
    use FailureCategory as C;
    match (f.category, f.detector) {
        (C::Liveness, D::WorkerProtocol) => Some(Rule::Messages),
        (C::Liveness, D::WorkerExit) => Some(Rule::Exit),
        (C::Liveness, D::OpCount) => Some(Rule::Records),
        // The runner's own lines: deadlines, stalls, a lockstep that stopped.
        (C::Liveness, _) => Some(Rule::Deadlines),
        // Records without the write-lock interval leave exclusion judging nothing; other
        // "not judged" oracles (the built-in ledger's commit order) need the app's schema.
        (C::NotJudged, D::IntervalCheck) => Some(Rule::RecordContents),
        (C::WorkerErrors | C::GuardErrors, _) => Some(Rule::RecordContents),
        (C::LockOverlaps | C::LockstepBreaches, _) => Some(Rule::Exclusion),
        _ => None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::check::failure::FailureKind;

    fn f(category: FailureCategory, detector: Detector) -> Failure {
        Failure::new(category, detector, FailureKind::Unexpected, None, "x")
    }

    #[test]
    fn protocol_failures_have_their_rule() {
        use Detector as D;
        use FailureCategory as C;
        let cases = [
            (C::Liveness, D::WorkerProtocol, Rule::Messages),
            (C::Liveness, D::WorkerExit, Rule::Exit),
            (C::Liveness, D::OpCount, Rule::Records),
            (C::Liveness, D::Runner, Rule::Deadlines),
            (C::NotJudged, D::IntervalCheck, Rule::RecordContents),
            (C::WorkerErrors, D::WorkerRecords, Rule::RecordContents),
            (C::GuardErrors, D::Guard, Rule::RecordContents),
            (C::LockOverlaps, D::IntervalCheck, Rule::Exclusion),
            (C::LockstepBreaches, D::LockstepCoordinator, Rule::Exclusion),
        ];
        for (c, d, rule) in cases {
            assert_eq!(rule_of(&f(c, d)), Some(rule), "{c:?}/{d:?}");
        }
    }

    /// The check does not know the app's schema: the data oracles are not its rules (an app
    /// with its own tables would otherwise fail on the built-in kanban ledger).
    #[test]
    fn data_failures_are_not_protocol_rules() {
        use Detector as D;
        use FailureCategory as C;
        for (c, d) in [
            (C::LostWrites, D::Ledger),
            (C::PhantomWrites, D::Ledger),
            (C::NotJudged, D::Ledger),
            (C::State, D::StateOracle),
            (C::Integrity, D::IntegrityCheck),
        ] {
            assert_eq!(rule_of(&f(c, d)), None, "{c:?}/{d:?}");
        }
    }
}
