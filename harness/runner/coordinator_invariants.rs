//! The coordinator's invariants (the module doc of `coordinator.rs`), asserted after every
//! event and grant in debug builds.

use super::Coordinator;

impl Coordinator {
    /// The module doc's invariants, asserted after every event and grant (debug builds).
    pub(super) fn check_invariants(&self) {
        debug_assert!(
            self.holders.is_subset(&self.live),
            "a write-lock holder that is not live: holders {:?}, live {:?}",
            self.holders,
            self.live
        );
        debug_assert!(
            self.holders.len() <= 1 || !self.out.breaches.is_empty(),
            "two holders of the write lock without a recorded breach: {:?}",
            self.holders
        );
        debug_assert!(
            self.granted
                .as_ref()
                .is_none_or(|(g, _)| !self.parked.contains_key(g)),
            "the granted actor is also parked"
        );
        debug_assert!(self.parked.keys().all(|a| self.live.contains(a)));
        debug_assert!(self.futile.is_disjoint(&self.retrying));
        debug_assert!(self.app_waiting.is_disjoint(&self.futile));
        debug_assert!(self.app_waiting.is_disjoint(&self.retrying));
        debug_assert!(self.app_waiting.is_subset(&self.live));
        debug_assert!(self.declared.keys().all(|a| self.live.contains(a)));
        debug_assert!(self.deferred.is_disjoint(&self.holders));
        debug_assert!(self.live.is_subset(&self.actors));
    }
}
