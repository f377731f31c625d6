//! criterion bench of the fault VFS's cost (issue 13): the same seeded schedule with SQLite's
//! own VFS (`plain`) and through the fault VFS counting every call (`shim`, `[io] counters`),
//! as whole `walburst run`s. Each `shim` iteration runs a `plain` one first (untimed for the
//! shim's sample), so the printed ratio comes from alternating pairs, which cancels most of
//! the drift of a shared machine. Throughput is commits, so criterion's `thrpt` is commits/s.
//!
//! `cargo bench --bench vfs`; the bar is a ratio (shim / plain commits/s) above 0.95.
//!
//! On a loaded shared machine whole runs at `synchronous=FULL` are dominated by fsync and
//! scheduling noise, so `vfs_cpu/{plain,shim}/<sync>` also measures the shim's own cost in
//! one process: one connection committing a task and its event per iteration, with SQLite's
//! VFS and with the fault VFS (counting every call), at OFF (no fsync: the shim's share of
//! the CPU work is largest there) and NORMAL.
//!
//! `vfs_external/{plain,preloaded}/full/4` (issue 23): the same alternating pairs for an
//! external worker, the Python example app (`python-pr-45525-burst`, 4 processes x 200
//! creates, `python3` on its own SQLite), without `[io]` against `[io] counters = true`, which
//! preloads `libwalburst_vfs.so` (built first with `cargo build --release -p walburst-vfs`)
//! and counts every call of the app's own SQLite. Skipped, saying so, without `python3`.

use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::Mutex;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

use criterion::{BenchmarkId, Criterion, SamplingMode, Throughput};
use serde_json::Value;

use walburst::scenario::{GuardKind, Overrides, Scenario, Synchronous};

const BIN: &str = env!("CARGO_BIN_EXE_walburst");
const SEED: u64 = 7;
const OPS: u32 = 220;

static COUNTER: AtomicU64 = AtomicU64::new(0);
/// (label, plain commits/s, shim commits/s) per alternating pair.
static PAIRS: Mutex<Vec<(String, f64, f64)>> = Mutex::new(Vec::new());

fn scenario(workers: u32, sync: Synchronous, shim: bool) -> Scenario {
    let o = Overrides {
        workers: Some(workers),
        ops: Some(OPS),
        ..Overrides::default()
    };
    let (mut s, _) = walburst::scenario::load("pr-45525-burst", &o).expect("shipped scenario");
    s.guard = GuardKind::None;
    s.sqlite.synchronous = sync;
    s.io.counters = shim;
    s.name = format!(
        "bench-vfs-{}-{}",
        if shim { "shim" } else { "plain" },
        sync.as_sql()
    );
    s.seeds = vec![SEED];
    s
}

fn write(dir: &Path, s: &Scenario) -> PathBuf {
    let path = dir.join(format!(
        "{}-{}.toml",
        s.name,
        COUNTER.fetch_add(1, Ordering::Relaxed)
    ));
    std::fs::write(&path, toml::to_string(s).expect("TOML")).expect("write scenario");
    path
}

/// One verified run; returns commits/s over the report's wall time and the report.
fn run(dir: &Path, file: &Path) -> (Duration, Value) {
    run_with(dir, file, &[])
}

fn run_with(dir: &Path, file: &Path, extra: &[&str]) -> (Duration, Value) {
    let out = dir.join(format!("out-{}", COUNTER.fetch_add(1, Ordering::Relaxed)));
    let o = Command::new(BIN)
        .arg("run")
        .arg(file)
        .args(extra)
        .args(["--seed", &SEED.to_string(), "--quiet", "--out"])
        .arg(&out)
        .arg("--work-dir")
        .arg(dir.join("work"))
        .output()
        .expect("walburst runs");
    assert!(
        o.status.success(),
        "walburst run {} failed:\n{}",
        file.display(),
        String::from_utf8_lossy(&o.stdout)
    );
    let path = std::fs::read_dir(&out)
        .expect("reports")
        .map(|e| e.expect("entry").path())
        .find(|p| p.extension().is_some_and(|x| x == "json"))
        .expect("a report");
    let r: Value = serde_json::from_str(&std::fs::read_to_string(&path).unwrap()).unwrap();
    let _ = std::fs::remove_dir_all(&out);
    let wall = Duration::from_secs_f64(r["wall_secs"].as_f64().expect("wall_secs"));
    (wall, r)
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

/// A fresh WAL database with the kanban schema, opened plainly or through the fault VFS.
fn cpu_connection(dir: &Path, name: &str, shim: bool, sync: Synchronous) -> rusqlite::Connection {
    use rusqlite::OpenFlags;
    let path = dir.join(format!("{name}.db"));
    let flags = OpenFlags::SQLITE_OPEN_READ_WRITE | OpenFlags::SQLITE_OPEN_CREATE;
    let conn = if shim {
        let vfs = walburst::worker::vfs::VFS_NAME.to_str().expect("ASCII");
        rusqlite::Connection::open_with_flags_and_vfs(&path, flags, vfs)
    } else {
        rusqlite::Connection::open_with_flags(&path, flags)
    }
    .expect("open");
    conn.pragma_update(None, "journal_mode", "wal")
        .expect("wal");
    conn.pragma_update(None, "synchronous", sync.as_sql())
        .expect("synchronous");
    walburst::workload::kanban::create_schema(&conn).expect("schema");
    conn
}

/// One write transaction: a task and its `created` event, as `create_task` writes them.
fn commit_one(conn: &rusqlite::Connection, n: u64, payload: &str) {
    let id = format!("t-{n}");
    conn.execute_batch("BEGIN IMMEDIATE").unwrap();
    conn.execute(
        "INSERT INTO tasks (id, title, body, priority, created_at, updated_at, created_worker, created_seq) \
         VALUES (?1, 'bench', ?2, 0, 0, 0, 0, 0)",
        rusqlite::params![id, payload],
    )
    .unwrap();
    conn.execute(
        "INSERT INTO task_events (task_id, kind, payload, created_at, worker, seq) \
         VALUES (?1, 'created', ?2, 0, 0, 0)",
        rusqlite::params![id, payload],
    )
    .unwrap();
    conn.execute_batch("COMMIT").unwrap();
}

/// `WALBURST_BENCH_VFS_FIXED=N:plain|shim`: exactly N commits at synchronous=OFF and exit,
/// for counting instructions under `valgrind --tool=callgrind` (a loaded machine's wall
/// clock cannot resolve a few percent; instruction counts can). BENCHMARKS.md has the recipe.
fn fixed(spec: &str) {
    let (n, which) = spec.split_once(':').expect("N:plain|shim");
    let n: u64 = n.parse().expect("N");
    let shim = which == "shim";
    let tmp = tempfile::tempdir().expect("tempdir");
    if shim {
        let io = walburst::scenario::IoFaults {
            counters: true,
            ..Default::default()
        };
        walburst::worker::vfs::install(
            &io,
            false,
            SEED,
            &tmp.path().join("unused.db"),
            tmp.path(),
            0,
        )
        .expect("install");
    }
    let conn = cpu_connection(tmp.path(), "fixed", shim, Synchronous::Off);
    let payload = "x".repeat(512);
    for i in 1..=n {
        commit_one(&conn, i, &payload);
    }
}

fn bench_cpu(c: &mut Criterion, dir: &Path) {
    // Registers the fault VFS in this process (counters only, no points); the plain
    // connections below still open through SQLite's default VFS.
    let io = walburst::scenario::IoFaults {
        counters: true,
        ..Default::default()
    };
    walburst::worker::vfs::install(&io, false, SEED, &dir.join("unused.db"), dir, 0)
        .expect("install");
    let mut g = c.benchmark_group("vfs_cpu");
    g.throughput(Throughput::Elements(1));
    let payload = "x".repeat(512);
    for sync in [Synchronous::Off, Synchronous::Normal] {
        for shim in [false, true] {
            let name = if shim { "shim" } else { "plain" };
            let conn = cpu_connection(dir, &format!("cpu-{name}-{}", sync.as_sql()), shim, sync);
            let mut n = 0u64;
            g.bench_function(BenchmarkId::new(name, sync.as_sql()), |b| {
                b.iter(|| {
                    n += 1;
                    commit_one(&conn, n, &payload);
                })
            });
        }
    }
    g.finish();
}

/// The Python example app's burst, with its worker's path made absolute; `preloaded` adds
/// `[io] counters = true` (the fault VFS in every worker, no point).
fn python_scenario(dir: &Path, preloaded: bool) -> PathBuf {
    let root = Path::new(env!("CARGO_MANIFEST_DIR"));
    let worker = root.join("adapters/python/kanban_worker.py");
    let text = std::fs::read_to_string(root.join("scenarios/python-pr-45525-burst.toml"))
        .expect("shipped scenario")
        .replace(
            "\"{scenario_dir}/../adapters/python/kanban_worker.py\"",
            &format!("{:?}", worker.to_str().expect("UTF-8 path")),
        )
        .replace("guard = \"wal-aware\"", "guard = \"none\"");
    let io = if preloaded {
        "\n[io]\ncounters = true\n"
    } else {
        ""
    };
    let path = dir.join(format!(
        "bench-vfs-external-{}.toml",
        if preloaded { "preloaded" } else { "plain" }
    ));
    std::fs::write(&path, text + io).expect("write scenario");
    path
}

fn bench_external(c: &mut Criterion, dir: &Path) {
    if Command::new("python3").arg("--version").output().is_err() {
        eprintln!("vfs_external skipped: no python3 on PATH");
        return;
    }
    let cargo = std::env::var("CARGO").unwrap_or_else(|_| "cargo".into());
    let built = Command::new(cargo)
        .args(["build", "--release", "-p", "walburst-vfs"])
        .current_dir(env!("CARGO_MANIFEST_DIR"))
        .status()
        .expect("cargo runs");
    assert!(
        built.success(),
        "cargo build --release -p walburst-vfs failed"
    );
    let plain = python_scenario(dir, false);
    let preloaded = python_scenario(dir, true);
    let args = ["--workers", "4", "--ops", "200"];
    let commits = 800u64;
    let label = "full/4".to_string();
    let mut g = c.benchmark_group("vfs_external");
    g.sample_size(10)
        .sampling_mode(SamplingMode::Flat)
        .warm_up_time(Duration::from_millis(1))
        .measurement_time(Duration::from_millis(1))
        .throughput(Throughput::Elements(commits));
    g.bench_function(BenchmarkId::new("plain", &label), |b| {
        b.iter_custom(|iters| (0..iters).map(|_| run_with(dir, &plain, &args).0).sum())
    });
    g.bench_function(BenchmarkId::new("preloaded", &label), |b| {
        b.iter_custom(|iters| {
            (0..iters)
                .map(|_| {
                    let (tp, _) = run_with(dir, &plain, &args);
                    let (ts, r) = run_with(dir, &preloaded, &args);
                    assert_eq!(r["totals"]["committed"].as_u64(), Some(commits));
                    assert!(
                        r["io"]["counters"]["0"]["total"]["wal"]["write"].as_u64() > Some(0),
                        "the preloaded VFS counted nothing"
                    );
                    let per_sec = |d: Duration| commits as f64 / d.as_secs_f64();
                    PAIRS.lock().unwrap().push((
                        format!("the Python app, synchronous/workers {label} x 200"),
                        per_sec(tp),
                        per_sec(ts),
                    ));
                    ts
                })
                .sum()
        })
    });
    g.finish();
}

fn main() {
    if let Ok(spec) = std::env::var("WALBURST_BENCH_VFS_FIXED") {
        fixed(&spec);
        return;
    }
    let mut c = Criterion::default().configure_from_args();
    let tmp = tempfile::Builder::new()
        .prefix("walburst-bench-vfs-")
        .tempdir()
        .expect("tempdir");
    let dir = tmp.path();
    bench_cpu(&mut c, dir);
    bench_external(&mut c, dir);
    let mut g = c.benchmark_group("vfs_overhead");
    g.sample_size(10)
        .sampling_mode(SamplingMode::Flat)
        .warm_up_time(Duration::from_millis(1))
        .measurement_time(Duration::from_millis(1));
    for (sync, workers) in [
        (Synchronous::Full, 4u32),
        (Synchronous::Normal, 4),
        (Synchronous::Full, 20),
    ] {
        let plain = write(dir, &scenario(workers, sync, false));
        let shim = write(dir, &scenario(workers, sync, true));
        let commits = u64::from(workers * OPS);
        let label = format!("{}/{workers}", sync.as_sql());
        g.throughput(Throughput::Elements(commits));
        g.bench_function(BenchmarkId::new("plain", &label), |b| {
            b.iter_custom(|iters| {
                (0..iters)
                    .map(|_| {
                        let (t, r) = run(dir, &plain);
                        assert!(r.get("io").is_none(), "a plain run loaded the fault VFS");
                        t
                    })
                    .sum()
            })
        });
        g.bench_function(BenchmarkId::new("shim", &label), |b| {
            b.iter_custom(|iters| {
                (0..iters)
                    .map(|_| {
                        let (tp, _) = run(dir, &plain);
                        let (ts, r) = run(dir, &shim);
                        assert_eq!(r["totals"]["committed"].as_u64(), Some(commits));
                        assert!(
                            r["io"]["counters"]["0"]["total"]["wal"]["write"].as_u64() > Some(0)
                        );
                        let per_sec = |d: Duration| commits as f64 / d.as_secs_f64();
                        PAIRS.lock().unwrap().push((
                            format!("synchronous/workers {label} x {OPS}"),
                            per_sec(tp),
                            per_sec(ts),
                        ));
                        ts
                    })
                    .sum()
            })
        });
    }
    g.finish();
    c.final_summary();
    let pairs = PAIRS.lock().unwrap();
    let labels: std::collections::BTreeSet<&String> = pairs.iter().map(|p| &p.0).collect();
    for label in labels {
        let mine: Vec<&(String, f64, f64)> = pairs.iter().filter(|p| &p.0 == label).collect();
        let ratios: Vec<f64> = mine.iter().map(|p| p.2 / p.1).collect();
        println!(
            "fault VFS overhead, {label}: shim {:.0} vs plain {:.0} commits/s \
             (medians of {} alternating pairs): per-pair median ratio {:.3}",
            median(mine.iter().map(|p| p.2).collect()),
            median(mine.iter().map(|p| p.1).collect()),
            mine.len(),
            median(ratios),
        );
    }
}
