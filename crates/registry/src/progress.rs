//! Progress reporting without a terminal dependency: the library calls these
//! hooks, the binary draws them.

/// Receives progress from long operations (downloads, hashing).
///
/// Calls come in the order `begin`, any number of `advance`, `end`, with
/// `note` at any time. `total_bytes` is `None` when the size is not known in
/// advance.
pub trait Progress: Sync {
    /// A new task starts (one file being fetched or hashed).
    fn begin(&self, label: &str, total_bytes: Option<u64>);
    /// `bytes` more bytes of the current task are done.
    fn advance(&self, bytes: u64);
    /// The current task is finished.
    fn end(&self);
    /// A one-line message for the user (what is fetched from where, retries).
    fn note(&self, msg: &str);
}

/// Reports nothing.
#[derive(Debug, Clone, Copy, Default)]
pub struct NoProgress;

impl Progress for NoProgress {
    fn begin(&self, _label: &str, _total_bytes: Option<u64>) {}
    fn advance(&self, _bytes: u64) {}
    fn end(&self) {}
    fn note(&self, _msg: &str) {}
}
