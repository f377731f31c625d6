//! Cycle search: Tarjan's strongly connected components of a subgraph (iterative, so a
//! 100k-transaction chain cannot overflow the stack), then inside each component a short
//! cycle through a required kind of edge by breadth-first search.

use super::anomaly::CycleStep;
use super::edges::EdgeKind;
use super::graph::{Edge, Graph, Kinds};
use super::history::TxnId;

/// How many required edges of one component a search starts from; it keeps the shortest
/// cycle found. Bounds the search at O(CANDIDATES x component) even when a broken database
/// makes one component of the whole history.
pub const CANDIDATES: usize = 32;

/// One step of a cycle: `from` reaches `edge.to` by `edge`.
#[derive(Debug, Clone, Copy)]
pub struct Step {
    pub from: TxnId,
    pub edge: Edge,
}

/// Components of more than one transaction in the subgraph of `kinds` (the only ones that
/// can hold a cycle: no edge joins a transaction to itself). `comp[v]` is v's component
/// index in the returned list, or `usize::MAX`.
pub fn components(g: &Graph, kinds: Kinds) -> (Vec<Vec<TxnId>>, Vec<usize>) {
    let n = g.out.len();
    const UNSEEN: usize = usize::MAX;
    let mut index = vec![UNSEEN; n];
    let mut low = vec![0usize; n];
    let mut on_stack = vec![false; n];
    let mut stack: Vec<TxnId> = Vec::new();
    let mut comp = vec![UNSEEN; n];
    let mut out: Vec<Vec<TxnId>> = Vec::new();
    let mut next = 0usize;
    // The explicit call stack: (node, position in its adjacency list).
    let mut calls: Vec<(TxnId, usize)> = Vec::new();
    for root in 0..n {
        if index[root] != UNSEEN {
            continue;
        }
        calls.push((root, 0));
        index[root] = next;
        low[root] = next;
        next += 1;
        stack.push(root);
        on_stack[root] = true;
        while let Some(&(v, resume)) = calls.last() {
            let edges = &g.out[v];
            let mut pos = resume;
            let mut child = None;
            while pos < edges.len() {
                let e = edges[pos];
                pos += 1;
                if !kinds.has(e.why.kind()) {
                    continue;
                }
                let w = e.to;
                if index[w] == UNSEEN {
                    child = Some(w);
                    break;
                } else if on_stack[w] {
                    low[v] = low[v].min(index[w]);
                }
            }
            if let Some(top) = calls.last_mut() {
                top.1 = pos;
            }
            if let Some(w) = child {
                index[w] = next;
                low[w] = next;
                next += 1;
                stack.push(w);
                on_stack[w] = true;
                calls.push((w, 0));
                continue;
            }
            calls.pop();
            if let Some(&(parent, _)) = calls.last() {
                low[parent] = low[parent].min(low[v]);
            }
            if low[v] == index[v] {
                let mut members = Vec::new();
                while let Some(w) = stack.pop() {
                    on_stack[w] = false;
                    members.push(w);
                    if w == v {
                        break;
                    }
                }
                if members.len() > 1 {
                    members.sort_unstable();
                    for &w in &members {
                        comp[w] = out.len();
                    }
                    out.push(members);
                }
            }
        }
    }
    (out, comp)
}

/// Reusable breadth-first search state: generation-stamped, so each search costs only what
/// it visits.
pub struct Search {
    stamp: Vec<u32>,
    generation: u32,
    parent: Vec<Option<Step>>,
    queue: std::collections::VecDeque<TxnId>,
}

impl Search {
    pub fn new(n: usize) -> Search {
        Search {
            stamp: vec![0; n],
            generation: 0,
            parent: vec![None; n],
            queue: std::collections::VecDeque::new(),
        }
    }

    /// The shortest path from `from` to `to` over edges of `kinds` inside component
    /// `component` (every node of a path closing a cycle is in the cycle's component).
    fn path(
        &mut self,
        g: &Graph,
        comp: &[usize],
        component: usize,
        kinds: Kinds,
        from: TxnId,
        to: TxnId,
    ) -> Option<Vec<Step>> {
        self.generation += 1;
        let generation = self.generation;
        self.queue.clear();
        self.stamp[from] = generation;
        self.parent[from] = None;
        self.queue.push_back(from);
        while let Some(v) = self.queue.pop_front() {
            if v == to {
                let mut steps = Vec::new();
                let mut at = to;
                while let Some(step) = self.parent[at] {
                    steps.push(step);
                    at = step.from;
                }
                steps.reverse();
                return Some(steps);
            }
            for e in &g.out[v] {
                if kinds.has(e.why.kind())
                    && comp[e.to] == component
                    && self.stamp[e.to] != generation
                {
                    self.stamp[e.to] = generation;
                    self.parent[e.to] = Some(Step { from: v, edge: *e });
                    self.queue.push_back(e.to);
                }
            }
        }
        None
    }

    /// A short cycle in `members` (component `component` of `comp`) that starts with an
    /// edge of kind `first` and closes over edges of `rest`: the shortest found from the
    /// first [`CANDIDATES`] such edges, in ascending transaction order.
    pub fn cycle(
        &mut self,
        g: &Graph,
        comp: &[usize],
        component: usize,
        members: &[TxnId],
        first: EdgeKind,
        rest: Kinds,
    ) -> Option<Vec<Step>> {
        let mut best: Option<Vec<Step>> = None;
        let mut tried = 0;
        for &u in members {
            for e in &g.out[u] {
                if e.why.kind() != first || comp[e.to] != component {
                    continue;
                }
                if tried == CANDIDATES {
                    return best;
                }
                tried += 1;
                if let Some(mut path) = self.path(g, comp, component, rest, e.to, u) {
                    if best.as_ref().is_some_and(|b| b.len() <= path.len() + 1) {
                        continue;
                    }
                    path.insert(0, Step { from: u, edge: *e });
                    let shortest = path.len() == 2;
                    best = Some(path);
                    if shortest {
                        return best;
                    }
                }
            }
        }
        best
    }
}

impl From<Step> for CycleStep {
    fn from(s: Step) -> CycleStep {
        CycleStep {
            from: s.from,
            to: s.edge.to,
            why: s.edge.why,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::super::edges::Why;
    use super::*;

    fn ww(to: TxnId) -> Edge {
        Edge {
            to,
            why: Why::Ww {
                key: 0,
                prev: 0,
                next: to as u64,
            },
        }
    }

    fn graph(out: Vec<Vec<Edge>>) -> Graph {
        Graph { out }
    }

    /// Only components that can hold a cycle are returned: an acyclic graph has none.
    #[test]
    fn an_acyclic_graph_has_no_component() {
        let g = graph(vec![vec![ww(1)], vec![ww(2)], vec![]]);
        let (members, comp) = components(&g, Kinds::of(&[EdgeKind::Ww]));
        assert!(members.is_empty(), "{members:?}");
        assert!(comp.iter().all(|&c| c == usize::MAX), "{comp:?}");
    }

    /// The search keeps the shortest cycle: tried first, a three-step cycle (0 -> 2 -> 3
    /// -> 0) gives way to the two-step one (0 -> 1 -> 0) found after it.
    #[test]
    fn the_shortest_cycle_is_kept_when_a_longer_one_is_found_first() {
        let g = graph(vec![
            vec![ww(2), ww(1)],
            vec![ww(0)],
            vec![ww(3)],
            vec![ww(0)],
        ]);
        let kinds = Kinds::of(&[EdgeKind::Ww]);
        let (members, comp) = components(&g, kinds);
        assert_eq!(members, [vec![0, 1, 2, 3]]);
        let mut search = Search::new(4);
        let steps = search
            .cycle(&g, &comp, 0, &members[0], EdgeKind::Ww, kinds)
            .unwrap();
        let path: Vec<TxnId> = steps.iter().map(|s| s.from).collect();
        assert_eq!(path.len(), 2, "{path:?}");
    }

    /// Of two cycles as short, the first found is kept (0 -> 1 -> 2 -> 0, not 0 -> 3 -> 4
    /// -> 0); and the search stops after CANDIDATES first edges, even when a shorter cycle
    /// lies behind the next one.
    #[test]
    fn the_first_of_equal_cycles_is_kept_and_the_candidates_are_bounded() {
        let kinds = Kinds::of(&[EdgeKind::Ww]);
        let first = |g: &Graph| {
            let (members, comp) = components(g, kinds);
            let steps = Search::new(g.out.len())
                .cycle(g, &comp, 0, &members[0], EdgeKind::Ww, kinds)
                .unwrap();
            steps.iter().map(|s| s.from).collect::<Vec<TxnId>>()
        };
        let g = graph(vec![
            vec![ww(1), ww(3)],
            vec![ww(2)],
            vec![ww(0)],
            vec![ww(4)],
            vec![ww(0)],
        ]);
        assert_eq!(first(&g), [0, 1, 2]);
        // Node 0 starts CANDIDATES three-step cycles, then one two-step cycle.
        let n = CANDIDATES;
        let mut out = vec![Vec::new(); 2 * n + 2];
        for i in 0..n {
            let (a, b) = (1 + 2 * i, 2 + 2 * i);
            out[0].push(ww(a));
            out[a].push(ww(b));
            out[b].push(ww(0));
        }
        out[0].push(ww(2 * n + 1));
        out[2 * n + 1].push(ww(0));
        assert_eq!(first(&graph(out)).len(), 3, "the search stopped at the cap");
    }
}
