//! Unit tests of `protocol`.
use super::schema_check;
use super::*;

#[test]
fn runner_messages_have_the_documented_shape() {
    assert_eq!(
        serde_json::to_string(&RunnerMsg::Go).unwrap(),
        r#"{"msg":"go"}"#
    );
    assert_eq!(
        serde_json::to_string(&RunnerMsg::Grant { actor: 2 }).unwrap(),
        r#"{"msg":"grant","actor":2}"#
    );
}

/// Every message walburst writes has exactly the schema's keys: all required ones, none
/// the schema does not define (PROTOCOL.schema.json is the exact definition).
#[test]
fn messages_match_the_json_schema() {
    use crate::observe::step::{StepAction, StepResult};
    let schema = schema_check::schema();
    let check = |def: &str, value: serde_json::Value| {
        if let Err(e) = schema_check::conforms_to(&schema, def, &value) {
            panic!("{def}: {e}\n{value}");
        }
    };
    let scenario = crate::scenario::parse_str(
        "name = \"s\"\n[workload]\nworkers = 2\nops_per_worker = 3\n",
        &ScenarioSource::Embedded("s".into()),
    )
    .unwrap();
    let spec = RunSpec {
        walburst_version: "0".into(),
        sqlite_version: "3".into(),
        scenario: scenario.clone(),
        source: ScenarioSource::Embedded("s".into()),
        seed: 1,
        mode: Mode::Lockstep,
        overrides: Overrides::default(),
        schedule_hash: String::new(),
        db_path: "/r/db/kanban.db".into(),
    };
    let kill = StartKill {
        actor: 0,
        seq: 1,
        point: KillPoint::MidTransaction,
    };
    let start = Start::new(&spec, Path::new("/r"), 1, 0, "/r/ops".into(), vec![kill]);
    fn j<T: Serialize>(m: &T) -> serde_json::Value {
        serde_json::to_value(m).unwrap()
    }
    check("start", j(&RunnerMsg::Start(Box::new(start))));
    // `[sqlite] page_size` and a chosen release (`version`) travel in `start.sqlite` too.
    let chosen = crate::scenario::parse_str(
        "name = \"s\"\n[sqlite]\nversion = \"3.45.0\"\npage_size = 8192\n",
        &ScenarioSource::Embedded("s".into()),
    )
    .unwrap();
    let chosen_spec = RunSpec {
        scenario: chosen,
        ..spec.clone()
    };
    let start = Start::new(&chosen_spec, Path::new("/r"), 0, 0, "/r/ops".into(), vec![]);
    let start = j(&RunnerMsg::Start(Box::new(start)));
    assert_eq!(start["sqlite"]["version"], "3.45.0");
    assert_eq!(start["sqlite"]["page_size"], 8192);
    check("start", start);
    check("go", j(&RunnerMsg::Go));
    check("grant", j(&RunnerMsg::Grant { actor: 0 }));
    let plan = plan::worker_plan(&scenario, 1, 1);
    check("planned_op", j(&WorkerOp::from_plan(1, 1, &plan.ops[0])));
    let hello = Hello {
        protocol: 1,
        worker: 1,
        pid: 2,
        language: "rust".into(),
        implementation: "walburst".into(),
        sqlite_version: "3".into(),
        sqlite_source_id: Some("x".into()),
        app: Some("a".into()),
    };
    check("hello", j(&WorkerMsg::Hello(Box::new(hello))));
    check(
        "ready",
        j(&WorkerMsg::Ready {
            worker: 1,
            pid: Some(3),
        }),
    );
    check("done", j(&WorkerMsg::Done { worker: 1 }));
    let fatal = WorkerMsg::Fatal {
        worker: 1,
        message: "m".into(),
    };
    check("fatal", j(&fatal));
    let dying = WorkerMsg::Dying {
        worker: 1,
        actor: 0,
        seq: 1,
        point: KillPoint::Close,
    };
    check("dying", j(&dying));
    use crate::observe::step::LockName;
    for action in [
        StepAction::Open,
        StepAction::Schema,
        StepAction::Close,
        StepAction::Flock { lock: None },
        StepAction::flock(LockName::Init),
        StepAction::flock(LockName::File("app.lock".into())),
        StepAction::app_lock("app.DB_LOCK"),
        StepAction::Begin,
        StepAction::BeginDeferred,
        StepAction::Commit,
        StepAction::Rollback,
        StepAction::statement("insert"),
        StepAction::write("INSERT INTO t"),
        StepAction::Guard,
        StepAction::Checkpoint,
    ] {
        // An actor parked before an app lock while holding another says so.
        let holding = match action {
            StepAction::AppLock { .. } => vec!["app.OTHER".to_string().try_into().unwrap()],
            _ => Vec::new(),
        };
        let want = WorkerMsg::Want {
            worker: 1,
            actor: 0,
            action,
            holding,
        };
        check("want", j(&want));
    }
    // A start with `[io]` (the fault VFS's points and power loss).
    let io_scenario = crate::scenario::parse_str(
        "name = \"s\"\n[[io.points]]\nfile = \"wal\"\nop = \"write\"\nnth = 3\naction = \"power-loss\"\n",
        &ScenarioSource::Embedded("s".into()),
    )
    .unwrap();
    let io_spec = RunSpec {
        scenario: io_scenario,
        mode: Mode::Free,
        ..spec.clone()
    };
    let start = Start::new(&io_spec, Path::new("/r"), 0, 1, "/r/ops".into(), vec![]);
    check("start", j(&RunnerMsg::Start(Box::new(start))));
    let fired = crate::observe::io::FiredPoint {
        point: 0,
        file: crate::scenario::FileKind::Wal,
        op: crate::scenario::IoOp::Write,
        phase: crate::scenario::IoPhase::Any,
        nth: 3,
        action: crate::scenario::IoAction::PowerLoss,
        worker: 1,
        pid: 9,
        actor: Some(0),
        seq: Some(2),
        in_checkpoint: false,
        step: None,
        t_ns: 5,
        wal_bytes: Some(4096),
    };
    check(
        "io_fault",
        j(&WorkerMsg::IoFault {
            worker: 1,
            fired: Box::new(fired),
        }),
    );
    check(
        "io_resumed",
        j(&WorkerMsg::IoResumed {
            worker: 1,
            point: 0,
            t_ns: 5,
            wal_bytes: Some(1),
        }),
    );
    check(
        "io_hello",
        j(&WorkerMsg::IoHello {
            worker: 1,
            pid: 9,
            sqlite_version: "3.40.1".into(),
        }),
    );
    let mut counts = crate::observe::io::IoCounts::default();
    counts
        .total
        .entry("wal".into())
        .or_default()
        .insert("write".into(), 3);
    check(
        "io_counters",
        j(&WorkerMsg::IoCounters { worker: 1, counts }),
    );
    let settings = |actor, journal_mode: Option<&str>| {
        WorkerMsg::Settings(Box::new(SettingsMsg {
            worker: 1,
            actor,
            settings: crate::observe::AppSettings {
                sqlite_version: "3.40.1".into(),
                journal_mode: journal_mode.map(Into::into),
                synchronous: Some("full".into()),
                wal_autocheckpoint: Some(1000),
                busy_timeout_ms: Some(0),
                locking_mode: Some("normal".into()),
                // An adapter that does not read it back leaves it out (older ones do).
                mmap_size: None,
            },
        }))
    };
    check("settings", j(&settings(Some(0), Some("delete"))));
    check("settings", j(&settings(None, None)));
    // What an adapter writes reads back as the same message (the settings are flattened).
    let line = r#"{"msg":"settings","worker":1,"actor":0,"sqlite_version":"3.40.1","journal_mode":"delete","synchronous":"full","wal_autocheckpoint":1000,"busy_timeout_ms":0,"locking_mode":"normal"}"#;
    assert_eq!(
        serde_json::from_str::<WorkerMsg>(line).unwrap(),
        settings(Some(0), Some("delete"))
    );
    let did = WorkerMsg::Did {
        worker: 1,
        actor: 0,
        result: StepResult::Busy {
            code: "SQLITE_BUSY".into(),
        },
    };
    check("did", j(&did));
    check(
        "actor_done",
        j(&WorkerMsg::ActorDone {
            worker: 1,
            actor: 0,
        }),
    );
    let op = r#"{"msg":"op","worker":1,"actor":0,"seq":4,"kind":"create_task","outcome":"committed","t_start_ns":5,"t_end_ns":9,"t_begin_ok_ns":6,"t_commit_issued_ns":7,"task_id":"t","event_id":3,"error":{"code":"SQLITE_BUSY","message":"m"},"busy":[{"code":"SQLITE_BUSY","during":"begin","retried":true}],"checkpoint":[0,1,1],"guard_error":"cannot stat","guard":{"guard":"g","at":"after-commit","claimed_pages":1,"file_pages":1,"deficit":0,"page_size":4096,"file_size":4096,"journal_mode":"wal","message":"m"}}"#;
    let rec: WorkerMsg = serde_json::from_str(op).unwrap();
    check("op", j(&rec));
}

#[test]
fn a_minimal_adapter_record_parses() {
    let line = r#"{"msg":"op","worker":1,"actor":0,"seq":4,"kind":"create_task","outcome":"committed","error":null,"t_start_ns":5,"t_end_ns":9,"unknown_field":1}"#;
    match serde_json::from_str::<WorkerMsg>(line).unwrap() {
        WorkerMsg::Op(r) => assert_eq!((r.worker, r.seq, r.latency_us), (1, 4, 0)),
        other => panic!("{other:?}"),
    }
    let hello = r#"{"msg":"hello","protocol":2,"worker":0,"pid":1,"language":"x"}"#;
    assert_eq!(hello_version(hello.as_bytes()), Some(2));
    let ready = r#"{"msg":"ready","worker":3}"#;
    assert!(serde_json::from_str::<WorkerMsg>(ready).is_ok());
}

#[test]
fn a_missing_or_garbled_run_spec_names_its_file() {
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join(RUN_SPEC_FILE);
    match RunSpec::read(dir.path()) {
        Err(RunSpecError::Read { path, .. }) => assert_eq!(path, file),
        other => panic!("{other:?}"),
    }
    std::fs::write(&file, "{").unwrap();
    match RunSpec::read(dir.path()) {
        Err(RunSpecError::Parse { path, .. }) => assert_eq!(path, file),
        other => panic!("{other:?}"),
    }
}
