//! The thread count candle's CPU kernels use, fixed once at start-up.

use std::sync::OnceLock;

/// The variables candle (and rayon) read for their thread counts.
pub const VARS: [&str; 2] = ["CANDLE_NUM_THREADS", "RAYON_NUM_THREADS"];

static USER_SET: OnceLock<bool> = OnceLock::new();

/// Records whether the user set a thread count, and if not, pins candle's
/// default (one thread per physical core) in `RAYON_NUM_THREADS`.
///
/// candle 0.11 works its default out again on every f32 matrix product
/// (attention, twice per layer and token), and on Linux that reads and
/// parses `/proc/cpuinfo` (`num_cpus::get_physical`): about 3% of the
/// decoding time of Qwen2.5-1.5B in a profile. With the variable set it
/// parses the variable instead. Runs first in `main`, while the process
/// has one thread (setting the environment later could race with readers).
pub fn pin() {
    let user_set = VARS.iter().any(|v| std::env::var_os(v).is_some());
    USER_SET.get_or_init(|| user_set);
    if !user_set {
        let threads = tarjoman_models::cpu_threads();
        std::env::set_var("RAYON_NUM_THREADS", threads.to_string());
    }
}

/// Whether the user set `CANDLE_NUM_THREADS` or `RAYON_NUM_THREADS`
/// (before [`pin`] set its own).
pub fn user_set() -> bool {
    *USER_SET.get_or_init(|| VARS.iter().any(|v| std::env::var_os(v).is_some()))
}
