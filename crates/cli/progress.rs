//! Progress bars on stderr (indicatif), implementing the library crates' progress traits.
//!
//! When stderr is not a terminal indicatif draws nothing, but notes and the
//! one-line summary printed when a task ends still go to stderr, so logs of
//! non-interactive runs say what was fetched and how long it took.

use std::sync::{Mutex, MutexGuard};
use std::time::{Duration, Instant};

use indicatif::{HumanBytes, ProgressBar, ProgressDrawTarget, ProgressStyle};

/// A byte progress bar per task (one file fetched or hashed), on stderr.
#[derive(Default)]
pub struct Bars {
    current: Mutex<Option<Task>>,
}

struct Task {
    bar: ProgressBar,
    label: String,
    started: Instant,
}

impl Bars {
    pub fn new() -> Bars {
        Bars::default()
    }

    fn current(&self) -> MutexGuard<'_, Option<Task>> {
        // A panic elsewhere while holding the lock leaves nothing to repair.
        self.current.lock().unwrap_or_else(|e| e.into_inner())
    }
}

fn bar_for(total: Option<u64>) -> ProgressBar {
    let target = ProgressDrawTarget::stderr();
    match total {
        Some(total) => {
            let bar = ProgressBar::with_draw_target(Some(total), target);
            let style = ProgressStyle::with_template(
                "{msg} [{bar:30.cyan/blue}] {bytes}/{total_bytes} {bytes_per_sec} ETA {eta}",
            )
            .map(|s| s.progress_chars("=> "));
            if let Ok(style) = style {
                bar.set_style(style);
            }
            bar
        }
        None => {
            let bar = ProgressBar::with_draw_target(None, target);
            if let Ok(style) =
                ProgressStyle::with_template("{spinner} {msg} {bytes} {bytes_per_sec}")
            {
                bar.set_style(style);
            }
            bar
        }
    }
}

impl tarjoman_registry::Progress for Bars {
    fn begin(&self, label: &str, total_bytes: Option<u64>) {
        let bar = bar_for(total_bytes);
        bar.set_message(label.to_owned());
        bar.enable_steady_tick(Duration::from_millis(200));
        let previous = self.current().replace(Task {
            bar,
            label: label.to_owned(),
            started: Instant::now(),
        });
        if let Some(previous) = previous {
            previous.bar.finish_and_clear();
        }
    }

    fn advance(&self, bytes: u64) {
        if let Some(task) = self.current().as_ref() {
            task.bar.inc(bytes);
        }
    }

    fn end(&self) {
        let Some(task) = self.current().take() else {
            return;
        };
        task.bar.finish_and_clear();
        let bytes = task.bar.position();
        let secs = task.started.elapsed().as_secs_f64();
        if bytes > 0 {
            let rate = HumanBytes((bytes as f64 / secs.max(1e-3)) as u64);
            eprintln!(
                "{}: {} in {secs:.1} s ({rate}/s)",
                task.label,
                HumanBytes(bytes)
            );
        }
    }

    fn note(&self, msg: &str) {
        match self.current().as_ref() {
            // Print above the bar instead of through it.
            Some(task) => task.bar.suspend(|| eprintln!("{msg}")),
            None => eprintln!("{msg}"),
        }
    }
}
