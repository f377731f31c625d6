//! criterion bench of the isolation checker (`walburst::check::isolation`, see
//! BENCHMARKS.md): `isolation/check/<txns>` checks a generated strict-serializable
//! list-append history of 10k and 100k transactions (8 processes, 8 open keys, 32 appends
//! per key, 1-4 micro-ops each; ~4% failed, ~3% ambiguous), txns/s. Generating the history
//! is not timed. A serializable history has no cycles, so this is the cost every clean run
//! pays: version orders, the four edge kinds and the components.

use criterion::{BenchmarkId, Criterion, SamplingMode, Throughput};

use walburst::check::isolation::{self, sample};

/// `WALBURST_BENCH_ISOLATION_FIXED=N:gen|check`: generate an N-transaction history (and
/// check it, for `check`) once and exit, for counting instructions under
/// `valgrind --tool=callgrind`: `check` minus `gen` is the checker's own count, which a
/// loaded machine's wall clock cannot resolve (BENCHMARKS.md has the recipe).
fn fixed(spec: &str) {
    let (n, what) = spec.split_once(':').expect("N:gen|check");
    let shape = sample::Shape {
        txns: n.parse().expect("N"),
        ..sample::Shape::default()
    };
    let history = sample::serializable(7, shape);
    if what == "check" {
        let analysis = isolation::check(&history).expect("well-formed");
        assert!(analysis.valid());
        eprintln!("{:?}", analysis.edges);
    }
}

fn main() {
    if let Ok(spec) = std::env::var("WALBURST_BENCH_ISOLATION_FIXED") {
        fixed(&spec);
        return;
    }
    let mut c = Criterion::default().configure_from_args();
    let mut group = c.benchmark_group("isolation/check");
    group.sampling_mode(SamplingMode::Flat).sample_size(10);
    for txns in [10_000usize, 100_000] {
        let shape = sample::Shape {
            txns,
            ..sample::Shape::default()
        };
        let history = sample::serializable(7, shape);
        let analysis = isolation::check(&history).expect("well-formed");
        assert!(analysis.valid(), "the generated history must be clean");
        group.throughput(Throughput::Elements(txns as u64));
        group.bench_with_input(BenchmarkId::from_parameter(txns), &history, |b, h| {
            b.iter(|| isolation::check(h).expect("well-formed"))
        });
    }
    group.finish();
    c.final_summary();
}
