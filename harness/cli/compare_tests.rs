//! `compare`'s preparation refuses bad flags the way the command line gives them (kept in
//! `cli`, which parses them: `compare` imports nothing of `cli`).

use crate::compare::{CompareError, CompareRequest, prepare};

fn args(extra: &[&str]) -> CompareRequest {
    crate::cli::args::compare_request(extra).unwrap()
}

#[test]
fn prepare_rejects_bad_input_naming_it() {
    let e = prepare(&args(&["--strategies", "wal,nope"])).unwrap_err();
    assert!(
        matches!(&e, CompareError::UnknownStrategy { name, allowed } if name == "nope" && allowed.contains("flock-conn")),
        "{e}"
    );
    let e = prepare(&args(&["--repeat", "0"])).unwrap_err();
    assert!(matches!(e, CompareError::Repeat(0)), "{e}");
    assert!(e.to_string().contains("--repeat 0"), "{e}");
    let e = prepare(&args(&["--workers", "4,0"])).unwrap_err();
    let CompareError::Scenario(le) = &e else {
        panic!("not a scenario error: {e}")
    };
    assert_eq!(le.invalid().map(|i| i.subject()), Some("workload.workers"));
    assert!(le.origin.contains("--workers 0"), "{e}");
    let e = prepare(&args(&["--workers", "4,4"])).unwrap_err();
    assert!(matches!(e, CompareError::WorkersTwice(4)), "{e}");
    let e = prepare(&args(&["no-such-scenario"])).unwrap_err();
    assert!(e.to_string().contains("no-such-scenario"), "{e}");
}
