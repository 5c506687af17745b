//! The agent's logger: env_logger's output, plus the most recent lines kept in memory so a
//! signed `diagnostics` command can send them to the hub.
//!
//! Must never: block a logging thread on anything but its own short lock, or grow without bound.

use std::collections::VecDeque;
use std::sync::{Mutex, OnceLock};

const KEEP: usize = 200;

struct RingLogger {
    inner: env_logger::Logger,
    lines: Mutex<VecDeque<String>>,
}

static LOGGER: OnceLock<RingLogger> = OnceLock::new();

impl log::Log for RingLogger {
    fn enabled(&self, metadata: &log::Metadata) -> bool {
        self.inner.enabled(metadata)
    }

    fn log(&self, record: &log::Record) {
        if !self.inner.matches(record) {
            return;
        }
        self.inner.log(record);
        let line = format!(
            "{} {:<5} {}: {}",
            hashward_common::now_ms(),
            record.level(),
            record.target(),
            record.args()
        );
        let mut lines = self.lines.lock().unwrap_or_else(|p| p.into_inner());
        if lines.len() == KEEP {
            lines.pop_front();
        }
        lines.push_back(line);
    }

    fn flush(&self) {
        self.inner.flush();
    }
}

/// Installs the logger (RUST_LOG, default `default_filter`). Once per process.
pub fn init(default_filter: &str) {
    let inner =
        env_logger::Builder::from_env(env_logger::Env::default().default_filter_or(default_filter)).build();
    let max = inner.filter();
    let logger = LOGGER.get_or_init(|| RingLogger {
        inner,
        lines: Mutex::new(VecDeque::with_capacity(KEEP)),
    });
    if log::set_logger(logger).is_ok() {
        log::set_max_level(max);
    }
}

/// The last `n` lines logged, oldest first; empty when another logger is installed (the
/// all-in-one binary), which the diagnostics report says.
pub fn recent(n: usize) -> Option<Vec<String>> {
    let logger = LOGGER.get()?;
    let lines = logger.lines.lock().unwrap_or_else(|p| p.into_inner());
    Some(
        lines
            .iter()
            .skip(lines.len().saturating_sub(n))
            .cloned()
            .collect(),
    )
}
