//! Unit tests of `runner::contract` (what each message may say, and when).
use super::*;
use crate::observe::step::{StepAction, StepResult};
use crate::observe::{OpRecord, Outcome};
use crate::protocol::Hello;
use crate::scenario::KillPoint;

fn op(seq: u32, actor: u32) -> WorkerOp {
    WorkerOp {
        seq,
        actor,
        kind: OpKind::CreateTask,
        think_us: 0,
        at_ms: 0,
        task_id: None,
        payload: String::new(),
        list: Vec::new(),
    }
}

fn contract(lockstep: bool, kills: Vec<StartKill>) -> Contract {
    contract_with(lockstep, kills, IoFaults::default())
}

fn contract_with(lockstep: bool, kills: Vec<StartKill>, io: IoFaults) -> Contract {
    let ops = [op(0, 0), op(1, 1), op(2, 0), op(3, 1)];
    let mut c = Contract::new(1, lockstep, 2, &ops, kills, io);
    let hello = Hello {
        protocol: 1,
        worker: 1,
        pid: 9,
        language: "test".into(),
        implementation: "test".into(),
        sqlite_version: "3.0.0".into(),
        sqlite_source_id: None,
        app: None,
    };
    c.admit(&WorkerMsg::Hello(Box::new(hello))).unwrap();
    c
}

fn rec(seq: u32, actor: u32, kind: OpKind) -> WorkerMsg {
    let r: OpRecord = serde_json::from_value(serde_json::json!({
        "worker": 1, "actor": actor, "seq": seq, "kind": kind,
        "outcome": Outcome::Committed, "t_start_ns": 1, "t_end_ns": 2,
    }))
    .unwrap();
    WorkerMsg::Op(Box::new(r))
}

#[test]
fn an_honest_incarnation_is_admitted() {
    let mut c = contract(false, vec![]);
    for (seq, actor) in [(0, 0), (1, 1), (3, 1), (2, 0)] {
        c.admit(&rec(seq, actor, OpKind::CreateTask)).unwrap();
    }
    c.admit(&WorkerMsg::Done { worker: 1 }).unwrap();
}

#[test]
fn an_op_for_another_actor_or_kind_is_not_as_planned() {
    let mut c = contract(false, vec![]);
    let e = c.admit(&rec(0, 1, OpKind::CreateTask)).unwrap_err();
    assert!(
        matches!(
            e,
            ProtocolViolation::OpNotAsPlanned {
                seq: 0,
                actor: 1,
                planned_actor: 0,
                ..
            }
        ),
        "{e:?}"
    );
    let e = c.admit(&rec(0, 0, OpKind::AddComment)).unwrap_err();
    assert!(
        matches!(
            e,
            ProtocolViolation::OpNotAsPlanned {
                planned_kind: OpKind::CreateTask,
                kind: OpKind::AddComment,
                ..
            }
        ),
        "{e:?}"
    );
}

#[test]
fn an_actors_ops_out_of_order_are_named() {
    let mut c = contract(false, vec![]);
    c.admit(&rec(2, 0, OpKind::CreateTask)).unwrap();
    let e = c.admit(&rec(0, 0, OpKind::CreateTask)).unwrap_err();
    assert_eq!(
        e,
        ProtocolViolation::OpOutOfOrder {
            worker: 1,
            actor: 0,
            seq: 0,
            after: 2
        }
    );
    // The other actor's order is its own.
    c.admit(&rec(1, 1, OpKind::CreateTask)).unwrap();
}

#[test]
fn only_a_planned_kill_may_be_announced_and_only_once() {
    let kill = StartKill {
        actor: 1,
        seq: 3,
        point: KillPoint::MidTransaction,
    };
    let dying = |seq, point| WorkerMsg::Dying {
        worker: 1,
        actor: 1,
        seq,
        point,
    };
    let mut c = contract(false, vec![kill]);
    let e = c.admit(&dying(1, KillPoint::MidTransaction)).unwrap_err();
    assert!(
        matches!(e, ProtocolViolation::UnplannedKill { seq: 1, .. }),
        "{e:?}"
    );
    let e = c.admit(&dying(3, KillPoint::AfterCommit)).unwrap_err();
    assert!(
        matches!(e, ProtocolViolation::UnplannedKill { .. }),
        "{e:?}"
    );
    c.admit(&dying(3, KillPoint::MidTransaction)).unwrap();
    let e = c.admit(&dying(3, KillPoint::MidTransaction)).unwrap_err();
    assert!(
        matches!(e, ProtocolViolation::UnplannedKill { .. }),
        "{e:?}"
    );
    // No kills planned at all: any `dying` is a lie.
    let mut c = contract(false, vec![]);
    assert!(c.admit(&dying(3, KillPoint::MidTransaction)).is_err());
}

#[test]
fn io_messages_without_io_are_unplanned() {
    let mut c = contract(false, vec![]);
    let resumed = WorkerMsg::IoResumed {
        worker: 1,
        point: 0,
        t_ns: 1,
        wal_bytes: None,
    };
    let e = c.admit(&resumed).unwrap_err();
    assert_eq!(
        e,
        ProtocolViolation::UnplannedIo {
            worker: 1,
            point: Some(0)
        }
    );
    let counters = WorkerMsg::IoCounters {
        worker: 1,
        counts: Default::default(),
    };
    assert!(c.admit(&counters).is_err());
}

#[test]
fn an_io_point_fires_once_and_resumes_once_after_its_own_fault() {
    let io: IoFaults =
        toml::from_str("[[points]]\nfile = \"wal\"\nop = \"write\"\nnth = 3\naction = \"stop\"\n")
            .unwrap();
    let mut c = contract_with(false, vec![], io);
    let resumed = WorkerMsg::IoResumed {
        worker: 1,
        point: 0,
        t_ns: 2,
        wal_bytes: None,
    };
    // A resume with no fault of its own before it is a lie.
    assert!(matches!(
        c.admit(&resumed).unwrap_err(),
        ProtocolViolation::IoRepeated { point: 0, .. }
    ));
    let fault = WorkerMsg::IoFault {
        worker: 1,
        fired: Box::new(crate::observe::io::FiredPoint {
            point: 0,
            file: crate::scenario::FileKind::Wal,
            op: crate::scenario::IoOp::Write,
            phase: Default::default(),
            nth: 3,
            action: IoAction::Stop,
            worker: 1,
            pid: 9,
            actor: None,
            seq: None,
            in_checkpoint: false,
            step: None,
            t_ns: 1,
            wal_bytes: None,
        }),
    };
    c.admit(&fault).unwrap();
    c.admit(&resumed).unwrap();
    // The same point again, either message: the runner's lists would grow without bound.
    for again in [&fault, &resumed] {
        let e = c.admit(again).unwrap_err();
        assert!(
            matches!(
                e,
                ProtocolViolation::IoRepeated {
                    worker: 1,
                    point: 0,
                    ..
                }
            ),
            "{e:?}"
        );
    }
}

#[test]
fn settings_for_an_actor_that_does_not_exist_are_named() {
    let mut c = contract(false, vec![]);
    let settings = |actor| {
        WorkerMsg::Settings(Box::new(crate::protocol::SettingsMsg {
            worker: 1,
            actor,
            settings: Default::default(),
        }))
    };
    c.admit(&settings(Some(1))).unwrap();
    c.admit(&settings(None)).unwrap();
    assert_eq!(
        c.admit(&settings(Some(2))).unwrap_err(),
        ProtocolViolation::NoSuchActor {
            worker: 1,
            actor: 2,
            actors: 2
        }
    );
}

#[test]
fn lockstep_messages_are_held_to_actors_and_grants() {
    let mut c = contract(true, vec![]);
    let want = |actor| WorkerMsg::Want {
        worker: 1,
        actor,
        action: StepAction::Begin,
        holding: Vec::new(),
    };
    let did = |actor| WorkerMsg::Did {
        worker: 1,
        actor,
        result: StepResult::Ok,
    };
    c.admit(&want(1)).unwrap();
    let e = c.admit(&want(2)).unwrap_err();
    assert_eq!(
        e,
        ProtocolViolation::NoSuchActor {
            worker: 1,
            actor: 2,
            actors: 2
        }
    );
    let e = c.admit(&did(1)).unwrap_err();
    assert_eq!(
        e,
        ProtocolViolation::DidWithoutGrant {
            worker: 1,
            actor: 1
        }
    );
    c.granted(1);
    let e = c.admit(&want(1)).unwrap_err();
    assert_eq!(
        e,
        ProtocolViolation::WantBeforeDid {
            worker: 1,
            actor: 1
        }
    );
    c.admit(&did(1)).unwrap();
    // One grant, one did.
    assert!(c.admit(&did(1)).is_err());
    // Nothing after actor_done.
    let done = WorkerMsg::ActorDone {
        worker: 1,
        actor: 0,
    };
    c.admit(&done).unwrap();
    let e = c.admit(&want(0)).unwrap_err();
    assert_eq!(
        e,
        ProtocolViolation::AfterActorDone {
            worker: 1,
            actor: 0
        }
    );
    assert!(c.admit(&done).is_err());
}

#[test]
fn fatal_is_remembered() {
    let mut c = contract(false, vec![]);
    c.admit(&WorkerMsg::Fatal {
        worker: 1,
        message: "x".into(),
    })
    .unwrap();
    assert!(c.fatal);
}

/// An external worker's fault VFS channel: `io_hello` first, `io_*` only, and the worker's
/// `done` only after its VFS said hello.
#[test]
fn the_vfs_channel_carries_io_messages_after_its_io_hello_only() {
    let io: IoFaults =
        toml::from_str("[[points]]\nfile = \"wal\"\nop = \"write\"\nnth = 3\naction = \"stop\"\n")
            .unwrap();
    let ops = [op(0, 0)];
    let mut c = Contract::new(1, false, 1, &ops, vec![], io.clone());
    c.vfs_channel = true;
    let hello = WorkerMsg::IoHello {
        worker: 1,
        pid: 7,
        sqlite_version: "3.40.1".into(),
    };
    let resumed = WorkerMsg::IoResumed {
        worker: 1,
        point: 0,
        t_ns: 1,
        wal_bytes: None,
    };
    // Before its io_hello, an io message is a lie about the channel; so is anything not io_*.
    let e = c.admit_vfs(&resumed).unwrap_err();
    assert!(
        matches!(e, ProtocolViolation::VfsChannel { worker: 1, .. }),
        "{e:?}"
    );
    assert!(e.to_string().contains("before its io_hello"), "{e}");
    c.admit_vfs(&hello).unwrap();
    let e = c.admit_vfs(&WorkerMsg::Done { worker: 1 }).unwrap_err();
    assert!(
        e.to_string()
            .contains("a done message on the fault VFS channel"),
        "{e}"
    );
    // A point the scenario does not have is held to the same rules as on stdout.
    let e = c
        .admit_vfs(&WorkerMsg::IoResumed {
            worker: 1,
            point: 5,
            t_ns: 1,
            wal_bytes: None,
        })
        .unwrap_err();
    assert_eq!(
        e,
        ProtocolViolation::UnplannedIo {
            worker: 1,
            point: Some(5)
        }
    );
    // Another worker's number on this channel.
    let e = c
        .admit_vfs(&WorkerMsg::IoHello {
            worker: 2,
            pid: 7,
            sqlite_version: "x".into(),
        })
        .unwrap_err();
    assert!(
        matches!(
            e,
            ProtocolViolation::WrongPipe {
                worker: 1,
                claimed: 2
            }
        ),
        "{e:?}"
    );
    // io_hello belongs on the channel, not on stdout.
    let mut c = contract_with(false, vec![], io.clone());
    c.vfs_channel = true;
    assert!(matches!(
        c.admit(&hello),
        Err(ProtocolViolation::VfsChannel { .. })
    ));
    // A worker whose VFS never said hello may not finish.
    let mut c = Contract::new(1, false, 1, &[], vec![], io);
    c.vfs_channel = true;
    c.admit(&WorkerMsg::Hello(Box::new(Hello {
        protocol: 1,
        worker: 1,
        pid: 9,
        language: "python".into(),
        implementation: "test".into(),
        sqlite_version: "3.40.1".into(),
        sqlite_source_id: None,
        app: None,
    })))
    .unwrap();
    let e = c.admit(&WorkerMsg::Done { worker: 1 }).unwrap_err();
    assert_eq!(e, ProtocolViolation::NoVfsHello { worker: 1 });
    assert!(
        e.to_string()
            .contains("the fault VFS did not load in the worker"),
        "{e}"
    );
}
