//! An anomaly's explanation as a person reads it: a cycle's steps in order, each once,
//! separated by exactly one `; `, and a list shortened to its first element, its last three
//! and its length (mutation-testing controls, MUTANTS.md: no other fast test pinned the
//! wording, so a separator placed wrongly or a list printed as nothing passed them all).

use super::anomaly::{Anomaly, CycleStep, explain_step, lost_update};
use super::edges::Why;
use super::history::{History, Mop, Outcome, Txn};

/// Transactions 0..n in processes 10, 11, ... (so a transaction's id and process differ).
fn history(n: u64) -> History {
    History {
        txns: (0..n)
            .map(|i| Txn {
                process: 10 + i,
                outcome: Outcome::Ok,
                start_ns: 0,
                end_ns: None,
                mops: vec![Mop::Append { key: 1, value: i }],
            })
            .collect(),
    }
}

/// A cycle of two: its steps joined by one `; ` (none before the first, none missing
/// between), then the transaction that precedes itself; word for word.
#[test]
fn a_cycles_explanation_names_each_step_once_between_single_separators() {
    let h = history(2);
    let steps = vec![
        CycleStep {
            from: 0,
            to: 1,
            why: Why::Ww {
                key: 1,
                prev: 1,
                next: 2,
            },
        },
        CycleStep {
            from: 1,
            to: 0,
            why: Why::Wr { key: 2, value: 3 },
        },
    ];
    assert_eq!(
        Anomaly::Cycle { steps }.explain(&h),
        "G1c cycle of 2 transactions: \
         T0 (process 10) < T1 (process 11) (ww, key 1): T0 (process 10) appended 1 and \
         T1 (process 11) appended 2 right after it; \
         T1 (process 11) < T0 (process 10) (wr, key 2): T0 (process 10) read key 2 ending at 3, \
         which T1 (process 11) appended; \
         so T0 (process 10) precedes itself"
    );
}

/// A longer cycle (three rw steps, G2-item): the part before `; so` is exactly the steps'
/// own sentences joined by `; `, in the cycle's order.
#[test]
fn a_longer_cycles_steps_are_joined_in_order() {
    let h = history(3);
    let steps: Vec<CycleStep> = (0..3)
        .map(|i| CycleStep {
            from: i,
            to: (i + 1) % 3,
            why: Why::Rw {
                key: i as u64,
                last: None,
                next: 7,
            },
        })
        .collect();
    let text = Anomaly::Cycle {
        steps: steps.clone(),
    }
    .explain(&h);
    let body = text
        .strip_prefix("G2-item cycle of 3 transactions: ")
        .unwrap_or_else(|| panic!("{text}"));
    let (said, end) = body.split_once("; so ").unwrap_or_else(|| panic!("{text}"));
    let each: Vec<String> = steps.iter().map(|s| explain_step(&h, s)).collect();
    assert_eq!(said, each.join("; "));
    assert_eq!(end, "T0 (process 10) precedes itself");
}

/// Lists of up to six elements are shown whole (the empty one as `[]`); a longer one as its
/// first element, `...`, its last three and its length.
#[test]
fn a_long_list_shows_its_first_element_its_last_three_and_its_length() {
    let h = history(2);
    let internal = Anomaly::Internal {
        txn: 1,
        key: 4,
        expected: vec![7, 9],
        exact: false,
        read: (1..=8).collect(),
    };
    assert_eq!(
        internal.explain(&h),
        "internal: T1 (process 11) read key 4 as [1 ... 6 7 8] (8 elements) after its own \
         reads and appends, expected a list ending in [7 9]"
    );
    let seven = Anomaly::Internal {
        txn: 0,
        key: 4,
        expected: Vec::new(),
        exact: true,
        read: (11..=17).collect(),
    };
    assert_eq!(
        seven.explain(&h),
        "internal: T0 (process 10) read key 4 as [11 ... 15 16 17] (7 elements) after its own \
         reads and appends, expected []"
    );
    let order = Anomaly::IncompatibleOrder {
        key: 2,
        reader: 0,
        values: (1..=6).collect(),
        longest_reader: 1,
        longest: vec![1, 9],
    };
    assert_eq!(
        order.explain(&h),
        "incompatible-order: on key 2, T0 (process 10) read [1 2 3 4 5 6] and T1 (process 11) \
         read [1 9]; neither is a prefix of the other"
    );
}

/// A lost update is a cycle of two, a ww and an rw edge on one key (in either order of the
/// steps); the same two edges on two keys are another G-single, not a lost update.
#[test]
fn a_lost_update_is_a_ww_and_an_rw_edge_on_one_key() {
    let ww = |key| CycleStep {
        from: 0,
        to: 1,
        why: Why::Ww {
            key,
            prev: 1,
            next: 2,
        },
    };
    let rw = |key| CycleStep {
        from: 1,
        to: 0,
        why: Why::Rw {
            key,
            last: None,
            next: 1,
        },
    };
    assert_eq!(lost_update(&[ww(1), rw(1)]), Some((0, 1, 1)));
    assert_eq!(lost_update(&[rw(1), ww(1)]), Some((0, 1, 1)));
    assert_eq!(lost_update(&[ww(1), rw(2)]), None);
    assert_eq!(lost_update(&[rw(2), ww(1)]), None);
    assert_eq!(lost_update(&[ww(1), ww(1)]), None);
    assert_eq!(lost_update(&[ww(1), rw(1), rw(1)]), None);
}
