//! criterion benches of walburst's burst throughput (see BENCHMARKS.md).
//!
//! * `burst_full/<strategy>/<workers>` and `burst_normal/...`: whole `walburst run`s of the
//!   pr-45525 burst (N processes x 220 creates) under `wal` and `flock-tx`, at
//!   synchronous FULL and NORMAL. Each criterion iteration is one run; its time is the
//!   report's `wall_secs` (start barrier to last worker exit: no setup, no verification), and
//!   the throughput is in commits, so criterion's `thrpt` is commits/s as reports count them.
//! * `plan/build/<shape>`: schedule generation (`walburst::plan::build`), ops/s.
//! * `lockstep/steps/<shape>`: a small lockstep run, steps/s (the report's `lockstep.steps`
//!   over its `wall_secs`).
//! * `lockstep/vs_free/20x220`: the shipped `pr-45525-burst` (seed 7) in lockstep, each
//!   iteration preceded by the same run in free mode (untimed), so the printed lockstep/free
//!   wall ratio comes from alternating pairs (issue 15: at most 3x).
//! * `overhead/bare/<workers>` and `overhead/walburst/<workers>`: the same SQL in the same
//!   process layout without walburst (the bench binary re-executes itself as N bare worker
//!   processes), and with it. Each `overhead/walburst` iteration runs a bare burst first
//!   (untimed), so the printed ratio comes from alternating pairs.
//!
//! Whole-run benches take one run per sample (flat sampling, 10 samples after one warm-up
//! run); criterion's "Unable to complete 10 samples" warning is expected for them.

use std::io::{BufRead, BufReader, Write};
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::sync::Mutex;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};

use criterion::{BenchmarkId, Criterion, SamplingMode, Throughput};
use serde::{Deserialize, Serialize};
use serde_json::Value;

use walburst::compare::strategies;
use walburst::scenario::{GuardKind, Overrides, Scenario, Synchronous};

const BIN: &str = env!("CARGO_BIN_EXE_walburst");
/// Set in the environment of a re-executed bench binary: the bare worker's spec file.
const BARE_SPEC_ENV: &str = "WALBURST_BENCH_BARE_SPEC";
const BARE_WORKER_ENV: &str = "WALBURST_BENCH_BARE_WORKER";
const SEED: u64 = 7;
const OPS: u32 = 220;

fn main() {
    if let Ok(spec) = std::env::var(BARE_SPEC_ENV) {
        let worker = std::env::var(BARE_WORKER_ENV)
            .ok()
            .and_then(|w| w.parse().ok())
            .expect("bare worker index");
        std::process::exit(bare::worker_main(Path::new(&spec), worker));
    }
    let mut c = Criterion::default().configure_from_args();
    let tmp = tempfile::Builder::new()
        .prefix("walburst-bench-")
        .tempdir()
        .expect("tempdir");
    let ctx = Ctx {
        dir: tmp.path().to_path_buf(),
    };
    bench_bursts(&mut c, &ctx);
    bench_plan(&mut c);
    bench_lockstep(&mut c, &ctx);
    bench_lockstep_vs_free(&mut c, &ctx);
    bench_overhead(&mut c, &ctx);
    c.final_summary();
    print_overhead_summary();
    print_lockstep_summary();
}

struct Ctx {
    dir: PathBuf,
}

static COUNTER: AtomicU64 = AtomicU64::new(0);

fn unique(dir: &Path, what: &str) -> PathBuf {
    dir.join(format!(
        "{what}-{}",
        COUNTER.fetch_add(1, Ordering::Relaxed)
    ))
}

/// The pr-45525 burst at `workers` x 220, under a compare preset, at `sync`.
fn burst_scenario(preset: &str, workers: u32, sync: Synchronous) -> Scenario {
    let o = Overrides {
        workers: Some(workers),
        ops: Some(OPS),
        ..Overrides::default()
    };
    let (mut s, _) = walburst::scenario::load("pr-45525-burst", &o).expect("shipped scenario");
    strategies::find(preset).expect("preset").apply(&mut s);
    s.sqlite.synchronous = sync;
    s.name = format!("bench-{preset}-{}", sync.as_sql());
    s.seeds = vec![SEED];
    s
}

fn write_scenario(ctx: &Ctx, s: &Scenario) -> PathBuf {
    let path = unique(&ctx.dir, &s.name).with_extension("toml");
    std::fs::write(&path, toml::to_string(s).expect("scenario as TOML")).expect("write scenario");
    path
}

/// One `walburst run` of a scenario file; returns its report.
fn walburst_run(ctx: &Ctx, file: &Path, lockstep: bool) -> Value {
    let out = unique(&ctx.dir, "out");
    let mut cmd = Command::new(BIN);
    cmd.arg("run")
        .arg(file)
        .args(["--seed", &SEED.to_string(), "--quiet", "--out"])
        .arg(&out)
        .arg("--work-dir")
        .arg(ctx.dir.join("work"));
    if lockstep {
        cmd.args(["--mode", "lockstep"]);
    }
    let o = cmd.output().expect("walburst runs");
    assert!(
        o.status.success(),
        "walburst run {} failed:\n{}{}",
        file.display(),
        String::from_utf8_lossy(&o.stdout),
        String::from_utf8_lossy(&o.stderr)
    );
    let path = std::fs::read_dir(&out)
        .expect("report directory")
        .map(|e| e.expect("entry").path())
        .find(|p| p.extension().is_some_and(|x| x == "json"))
        .expect("a report");
    let report: Value =
        serde_json::from_str(&std::fs::read_to_string(&path).expect("read report")).expect("json");
    let _ = std::fs::remove_dir_all(&out);
    report
}

fn wall(report: &Value) -> Duration {
    Duration::from_secs_f64(report["wall_secs"].as_f64().expect("wall_secs"))
}

fn whole_run_group<'a>(
    c: &'a mut Criterion,
    name: &str,
) -> criterion::BenchmarkGroup<'a, criterion::measurement::WallTime> {
    let mut g = c.benchmark_group(name);
    g.sample_size(10)
        .sampling_mode(SamplingMode::Flat)
        .warm_up_time(Duration::from_millis(1))
        // Tiny on purpose: flat sampling then takes exactly one run per sample.
        .measurement_time(Duration::from_millis(1));
    g
}

fn bench_bursts(c: &mut Criterion, ctx: &Ctx) {
    for (group, sync) in [
        ("burst_full", Synchronous::Full),
        ("burst_normal", Synchronous::Normal),
    ] {
        let mut g = whole_run_group(c, group);
        for preset in ["wal", "flock-tx"] {
            for workers in [1u32, 4, 20] {
                let s = burst_scenario(preset, workers, sync);
                let file = write_scenario(ctx, &s);
                let commits = u64::from(workers * OPS);
                g.throughput(Throughput::Elements(commits));
                g.bench_function(BenchmarkId::new(preset, workers), |b| {
                    b.iter_custom(|iters| {
                        (0..iters)
                            .map(|_| {
                                let r = walburst_run(ctx, &file, false);
                                assert_eq!(r["totals"]["committed"].as_u64(), Some(commits));
                                wall(&r)
                            })
                            .sum()
                    })
                });
            }
        }
        g.finish();
    }
}

fn bench_plan(c: &mut Criterion) {
    let mut g = c.benchmark_group("plan");
    g.sample_size(20)
        .warm_up_time(Duration::from_millis(300))
        .measurement_time(Duration::from_secs(2));
    for (workers, ops) in [(20u32, 220u32), (100, 1000)] {
        let o = Overrides {
            workers: Some(workers),
            ops: Some(ops),
            ..Overrides::default()
        };
        let (s, _) = walburst::scenario::load("kanban-mix", &o).expect("shipped scenario");
        g.throughput(Throughput::Elements(u64::from(workers * ops)));
        g.bench_function(BenchmarkId::new("build", format!("{workers}x{ops}")), |b| {
            b.iter(|| walburst::plan::build(std::hint::black_box(&s), SEED))
        });
    }
    g.finish();
}

fn bench_lockstep(c: &mut Criterion, ctx: &Ctx) {
    let mut g = whole_run_group(c, "lockstep");
    let (workers, ops) = (3u32, 20u32);
    let mut s = burst_scenario("wal", workers, Synchronous::Full);
    s.workload.ops_per_worker = ops;
    s.name = "bench-lockstep".into();
    let file = write_scenario(ctx, &s);
    // Lockstep is deterministic: one probe run gives the step count of every run.
    let steps = walburst_run(ctx, &file, true)["lockstep"]["steps"]
        .as_u64()
        .expect("lockstep.steps");
    g.throughput(Throughput::Elements(steps));
    g.bench_function(BenchmarkId::new("steps", format!("{workers}x{ops}")), |b| {
        b.iter_custom(|iters| {
            (0..iters)
                .map(|_| {
                    let r = walburst_run(ctx, &file, true);
                    assert_eq!(r["lockstep"]["steps"].as_u64(), Some(steps));
                    wall(&r)
                })
                .sum()
        })
    });
    g.finish();
}

/// Wall seconds of (free, lockstep) pairs of the same run.
static LOCKSTEP_PAIRS: Mutex<Vec<(f64, f64)>> = Mutex::new(Vec::new());

fn bench_lockstep_vs_free(c: &mut Criterion, ctx: &Ctx) {
    let mut g = whole_run_group(c, "lockstep");
    let (workers, ops) = (20u32, OPS);
    let o = Overrides {
        workers: Some(workers),
        ops: Some(ops),
        ..Overrides::default()
    };
    let (mut s, _) = walburst::scenario::load("pr-45525-burst", &o).expect("shipped scenario");
    s.seeds = vec![SEED];
    s.name = "bench-lockstep-vs-free".into();
    let file = write_scenario(ctx, &s);
    let commits = u64::from(workers * ops);
    g.throughput(Throughput::Elements(commits));
    g.bench_function(
        BenchmarkId::new("vs_free", format!("{workers}x{ops}")),
        |b| {
            b.iter_custom(|iters| {
                (0..iters)
                    .map(|_| {
                        let free = wall(&walburst_run(ctx, &file, false));
                        let r = walburst_run(ctx, &file, true);
                        assert_eq!(r["verdict"], "pass", "the lockstep run must pass");
                        let t = wall(&r);
                        LOCKSTEP_PAIRS
                            .lock()
                            .unwrap()
                            .push((free.as_secs_f64(), t.as_secs_f64()));
                        t
                    })
                    .sum()
            })
        },
    );
    g.finish();
}

fn print_lockstep_summary() {
    let pairs = LOCKSTEP_PAIRS.lock().unwrap();
    if pairs.is_empty() {
        return;
    }
    let ratios: Vec<f64> = pairs.iter().map(|p| p.1 / p.0).collect();
    let (lo, hi) = ratios
        .iter()
        .fold((f64::MAX, f64::MIN), |(a, b), &r| (a.min(r), b.max(r)));
    println!(
        "lockstep vs free, pr-45525-burst 20 x {OPS}: lockstep {:.2} s vs free {:.2} s (medians of {} alternating pairs): per-pair median ratio {:.2}, range {lo:.2}-{hi:.2}",
        median(pairs.iter().map(|p| p.1).collect()),
        median(pairs.iter().map(|p| p.0).collect()),
        pairs.len(),
        median(ratios),
    );
}

/// Commits/s of (bare, walburst) pairs, per worker count.
static PAIRS: Mutex<Vec<(u32, f64, f64)>> = Mutex::new(Vec::new());

fn bench_overhead(c: &mut Criterion, ctx: &Ctx) {
    let mut g = whole_run_group(c, "overhead");
    for workers in [4u32, 20] {
        // Like for like: no guard (its PRAGMA would be walburst's extra SQL), plain WAL.
        let mut s = burst_scenario("wal", workers, Synchronous::Full);
        s.guard = GuardKind::None;
        s.name = format!("bench-overhead-{workers}");
        let file = write_scenario(ctx, &s);
        let commits = u64::from(workers * OPS);
        g.throughput(Throughput::Elements(commits));
        g.bench_function(BenchmarkId::new("bare", workers), |b| {
            b.iter_custom(|iters| (0..iters).map(|_| bare::run(ctx, &s)).sum())
        });
        g.bench_function(BenchmarkId::new("walburst", workers), |b| {
            b.iter_custom(|iters| {
                (0..iters)
                    .map(|_| {
                        let bare = bare::run(ctx, &s);
                        let r = walburst_run(ctx, &file, false);
                        assert_eq!(r["totals"]["committed"].as_u64(), Some(commits));
                        let t = wall(&r);
                        let per_sec = |d: Duration| commits as f64 / d.as_secs_f64();
                        PAIRS
                            .lock()
                            .unwrap()
                            .push((workers, per_sec(bare), per_sec(t)));
                        t
                    })
                    .sum()
            })
        });
    }
    g.finish();
}

fn median(mut v: Vec<f64>) -> f64 {
    v.sort_by(f64::total_cmp);
    let n = v.len();
    if n % 2 == 1 {
        v[n / 2]
    } else {
        (v[n / 2 - 1] + v[n / 2]) / 2.0
    }
}

fn print_overhead_summary() {
    let pairs = PAIRS.lock().unwrap();
    for workers in [4u32, 20] {
        let mine: Vec<&(u32, f64, f64)> = pairs.iter().filter(|p| p.0 == workers).collect();
        if mine.is_empty() {
            continue;
        }
        let bare = median(mine.iter().map(|p| p.1).collect());
        let wb = median(mine.iter().map(|p| p.2).collect());
        let ratios: Vec<f64> = mine.iter().map(|p| p.2 / p.1).collect();
        let (lo, hi) = ratios
            .iter()
            .fold((f64::MAX, f64::MIN), |(a, b), &r| (a.min(r), b.max(r)));
        println!(
            "overhead at {workers} workers x {OPS}: walburst free run {wb:.0} commits/s vs bare loop {bare:.0} commits/s \
             (medians of {} alternating pairs): ratio {:.2} (per-pair median {:.2}, range {lo:.2}-{hi:.2})",
            mine.len(),
            wb / bare,
            median(ratios.clone()),
        );
    }
}

/// The bare loop: the same SQL as walburst's `create_task` in the same process layout (N
/// processes, one connection each, opened before a start barrier), with nothing else: no
/// records, timestamps, pipes per op, gate, guard or checks.
mod bare {
    use super::*;

    use rusqlite::params;
    use walburst::plan::{self, payload, task_id, worker_name};
    use walburst::worker::sqlite;
    use walburst::workload::kanban;

    #[derive(Serialize, Deserialize)]
    struct Spec {
        db: PathBuf,
        scenario: Scenario,
        seed: u64,
    }

    /// One bare burst; returns the time from opening the barrier to the last exit.
    pub fn run(ctx: &Ctx, s: &Scenario) -> Duration {
        let dir = unique(&ctx.dir, "bare");
        std::fs::create_dir_all(dir.join("db")).expect("bare dir");
        let db = dir.join("db").join("kanban.db");
        // As the runner does (`setup = "runner"`): schema first, then the workers.
        let conn = sqlite::open(&db, &s.sqlite, s.sqlite.busy_timeout_ms).expect("open");
        kanban::create_schema(&conn).expect("schema");
        drop(conn);
        let spec_path = dir.join("bare.json");
        let spec = Spec {
            db: db.clone(),
            scenario: s.clone(),
            seed: SEED,
        };
        std::fs::write(&spec_path, serde_json::to_vec(&spec).expect("spec")).expect("spec");
        let exe = std::env::current_exe().expect("bench binary");
        let mut children: Vec<_> = (0..s.workload.workers)
            .map(|w| {
                Command::new(&exe)
                    .env(BARE_SPEC_ENV, &spec_path)
                    .env(BARE_WORKER_ENV, w.to_string())
                    .stdin(Stdio::piped())
                    .stdout(Stdio::piped())
                    .spawn()
                    .expect("spawn bare worker")
            })
            .collect();
        for ch in children.iter_mut() {
            let mut line = String::new();
            BufReader::new(ch.stdout.as_mut().expect("piped"))
                .read_line(&mut line)
                .expect("ready line");
            assert_eq!(line.trim(), "ready", "bare worker did not get ready");
        }
        let t0 = Instant::now();
        for ch in children.iter_mut() {
            let stdin = ch.stdin.as_mut().expect("piped");
            stdin
                .write_all(b"go\n")
                .and_then(|_| stdin.flush())
                .expect("go");
        }
        for ch in children.iter_mut() {
            let st = ch.wait().expect("wait");
            assert!(st.success(), "bare worker failed: {st}");
        }
        let elapsed = t0.elapsed();
        // Not timed: every write is there.
        let conn = sqlite::open(&db, &s.sqlite, s.sqlite.busy_timeout_ms).expect("open");
        let n: i64 = conn
            .query_row("SELECT count(*) FROM tasks", [], |r| r.get(0))
            .expect("count");
        assert_eq!(n as u64, s.total_ops(), "bare loop lost writes");
        drop(conn);
        let _ = std::fs::remove_dir_all(&dir);
        elapsed
    }

    /// A bare worker process: connect, say ready, wait for go, run the creates, exit.
    pub fn worker_main(spec_path: &Path, w: u32) -> i32 {
        let spec: Spec =
            serde_json::from_slice(&std::fs::read(spec_path).expect("spec")).expect("spec json");
        let s = &spec.scenario;
        let plan = plan::worker_plan(s, spec.seed, w);
        let conn = sqlite::open(&spec.db, &s.sqlite, s.sqlite.busy_timeout_ms).expect("open");
        println!("ready");
        std::io::stdout().flush().expect("flush");
        let mut line = String::new();
        std::io::stdin().lock().read_line(&mut line).expect("go");
        let me = worker_name(w);
        for op in &plan.ops {
            let (sq, at) = (op.seq, op.at_ms);
            let id = task_id(w, sq);
            let res = (|| -> rusqlite::Result<()> {
                conn.execute_batch("BEGIN IMMEDIATE")?;
                // The statements of walburst's kanban `create_task`, verbatim.
                conn.prepare_cached(
                    "INSERT INTO tasks (id, title, body, priority, created_at, updated_at, created_worker, created_seq)
                     VALUES (?1, ?2, ?3, ?4, ?5, ?5, ?6, ?7)",
                )?
                .execute(params![
                    id,
                    format!("task {sq} of {me}"),
                    payload(spec.seed, w, sq, op.payload_len),
                    i64::from(sq % 5),
                    at,
                    w,
                    sq
                ])?;
                conn.prepare_cached(
                    "INSERT INTO task_events (task_id, kind, payload, created_at, worker, seq) VALUES (?1, ?2, ?3, ?4, ?5, ?6)",
                )?
                .execute(params![
                    Some(&id),
                    "created",
                    format!("{{\"by\":\"{me}\"}}"),
                    at,
                    w,
                    sq
                ])?;
                conn.execute_batch("COMMIT")
            })();
            if let Err(e) = res {
                eprintln!("bare worker {w} op {sq}: {e}");
                return 1;
            }
        }
        0
    }
}
