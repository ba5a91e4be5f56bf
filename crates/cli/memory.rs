//! How the C allocator treats large blocks, set once at start-up.

/// Keeps freed memory in the process for the next allocation instead of
/// handing it back to the kernel (glibc's malloc on Linux; elsewhere this
/// does nothing).
///
/// candle allocates every operation's output afresh, and a prompt's
/// tensors are large: at 1,024 tokens one feed-forward activation of
/// Qwen2.5-1.5B is 36 MB, and each layer makes several. glibc serves
/// blocks above its mmap threshold (128 KiB, rising as such blocks are
/// freed) with fresh pages from the kernel and unmaps them on `free`, so
/// every operation page-faulted and zeroed its output again: about a fifth
/// of a 1,024-token prefill in a profile. Here blocks up to 32 MiB (the
/// most glibc allows) come from the heap, the heap grows 256 MiB at a time
/// (address space; pages count only once touched) and is not trimmed
/// below 1 GiB of free space, so a prompt reuses the previous prompt's
/// pages. Measured on Qwen2.5-1.5B, 1,024-token prefill: 117-170 tokens/s
/// without, 184-225 with (the growth step alone: 170 at 0, 177 at 64 MiB,
/// 225 at 256 MiB); peak memory unchanged (1,400-1,435 MiB either way).
/// Runs first in `main`, before any other thread exists.
pub fn keep_freed_memory() {
    #[cfg(all(target_os = "linux", target_env = "gnu"))]
    // SAFETY: `mallopt` only changes malloc's tuning parameters; called
    // while the process has one thread.
    unsafe {
        libc::mallopt(libc::M_MMAP_THRESHOLD, 32 << 20);
        libc::mallopt(libc::M_TRIM_THRESHOLD, 1 << 30);
        libc::mallopt(libc::M_TOP_PAD, 256 << 20);
    }
}
