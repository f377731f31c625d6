//! A cycle's class from its edge kinds alone, and each class's printed name
//! (mutation-testing controls, MUTANTS.md).

use super::anomaly::{AnomalyClass as C, CycleStep};
use super::edges::Why;

/// ww edges only: G0; ww and wr: G1c; one rw: G-single; more: G2-item; a real-time edge makes
/// each the `-realtime` form. The report prints each by its Adya/Elle name.
#[test]
fn a_cycles_class_follows_its_edge_kinds() {
    let ww = Why::Ww {
        key: 1,
        prev: 1,
        next: 2,
    };
    let wr = Why::Wr { key: 1, value: 1 };
    let rw = Why::Rw {
        key: 1,
        last: None,
        next: 1,
    };
    let rt = Why::Rt {
        end_ns: 1,
        start_ns: 2,
    };
    let cycle = |whys: &[Why]| -> Vec<CycleStep> {
        whys.iter()
            .enumerate()
            .map(|(i, why)| CycleStep {
                from: i,
                to: (i + 1) % whys.len(),
                why: *why,
            })
            .collect()
    };
    let cases = [
        (vec![ww, ww], C::G0, "G0"),
        (vec![ww, wr], C::G1c, "G1c"),
        (vec![wr, wr], C::G1c, "G1c"),
        (vec![ww, rw], C::GSingle, "G-single"),
        (vec![rw, rw], C::G2Item, "G2-item"),
        (vec![ww, ww, rt], C::G0Realtime, "G0-realtime"),
        (vec![wr, rt], C::G1cRealtime, "G1c-realtime"),
        (vec![rw, rt], C::GSingleRealtime, "G-single-realtime"),
        (vec![rw, rw, rt], C::G2ItemRealtime, "G2-item-realtime"),
    ];
    for (whys, class, name) in cases {
        let got = C::of_cycle(&cycle(&whys));
        assert_eq!(got, class, "{whys:?}");
        assert_eq!(got.to_string(), name);
    }
}
