//! What a sweep shows while it runs. On a terminal (stderr): a progress bar with pairs done
//! of total, failures so far, elapsed time and ETA, each finished run's output printed above
//! it. Without a terminal: each finished run's output followed by one plain progress line.
//! `--quiet`: only failed runs' output. `NO_COLOR` (set and not empty) turns colour off.
//! Whatever the mode, the last line is `N passed, M failed`.

use std::io::{IsTerminal, Write};
use std::time::{Duration, Instant};

use indicatif::{ProgressBar, ProgressDrawTarget, ProgressStyle};

use super::summary::{Pair, PairResult, fmt_secs};

pub fn no_color() -> bool {
    std::env::var_os("NO_COLOR").is_some_and(|v| !v.is_empty())
}

pub struct Progress {
    bar: Option<ProgressBar>,
    quiet: bool,
    total: u64,
    done: u64,
    failed: u64,
    start: Instant,
}

fn print_stdout(text: &str) {
    let mut out = std::io::stdout().lock();
    let _ = out.write_all(text.as_bytes());
    if !text.ends_with('\n') && !text.is_empty() {
        let _ = out.write_all(b"\n");
    }
    let _ = out.flush();
}

impl Progress {
    pub fn new(total: u64, quiet: bool) -> Progress {
        let bar = (!quiet && std::io::stderr().is_terminal()).then(|| {
            // `wide_msg` is cut to the terminal's width: the bar stays one line.
            let template = if no_color() {
                "{elapsed_precise} [{bar:30}] {pos}/{len} pairs, ETA {eta}, {wide_msg}"
            } else {
                "{elapsed_precise} [{bar:30.cyan/blue}] {pos}/{len} pairs, ETA {eta}, {wide_msg}"
            };
            let pb = ProgressBar::with_draw_target(Some(total), ProgressDrawTarget::stderr());
            pb.set_style(
                ProgressStyle::with_template(template)
                    .expect("the template is valid")
                    .progress_chars("=> "),
            );
            pb.set_message("0 failed");
            pb.enable_steady_tick(Duration::from_millis(500));
            pb
        });
        Progress {
            bar,
            quiet,
            total,
            done: 0,
            failed: 0,
            start: Instant::now(),
        }
    }

    /// A line of the sweep's own (headers, recap): above the bar, always shown.
    pub fn line(&self, text: &str) {
        match &self.bar {
            Some(b) => b.suspend(|| print_stdout(text)),
            None => print_stdout(text),
        }
    }

    /// A line shown unless `--quiet`.
    pub fn info(&self, text: &str) {
        if !self.quiet {
            self.line(text);
        }
    }

    pub fn started(&self, pair: &Pair) {
        if let Some(b) = &self.bar {
            b.set_message(format!("{} failed, running {}", self.failed, pair.name));
        }
    }

    pub fn finished(&mut self, pair: &Pair, result: &PairResult) {
        self.done += 1;
        if !result.passed() {
            self.failed += 1;
        }
        if self.quiet {
            if !result.passed() {
                print_stdout(&result.output);
            }
            return;
        }
        match &self.bar {
            Some(b) => {
                b.suspend(|| print_stdout(&result.output));
                b.inc(1);
                b.set_message(format!("{} failed", self.failed));
            }
            None => {
                print_stdout(&result.output);
                let elapsed = self.start.elapsed().as_secs_f64();
                let eta = elapsed / self.done as f64 * (self.total - self.done) as f64;
                print_stdout(&format!(
                    "[{}/{}] {} {} ({:.1} s); {} failed so far; elapsed {}, ETA {}",
                    self.done,
                    self.total,
                    result.status.word(),
                    pair.key(),
                    result.wall_secs,
                    self.failed,
                    fmt_secs(elapsed),
                    fmt_secs(eta),
                ));
            }
        }
    }

    /// Removes the bar; the caller prints the recap and the last line.
    pub fn clear(&mut self) {
        if let Some(b) = self.bar.take() {
            b.finish_and_clear();
        }
    }

    pub fn elapsed_secs(&self) -> f64 {
        self.start.elapsed().as_secs_f64()
    }
}

impl Drop for Progress {
    fn drop(&mut self) {
        self.clear();
    }
}
