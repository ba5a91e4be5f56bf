//! Parallel loops on candle's thread pool.
//!
//! candle 0.11 runs its quantized kernels on a barrier pool whose calling
//! thread takes a share of the work and whose workers spin a while before
//! they sleep. Our kernels run between candle's several hundred times per
//! decoded token; on the same pool they find its workers still spinning,
//! where rayon's pool would have to wake its own sleeping threads (futex
//! calls) and two pools' threads would compete for the cores. Writing the
//! output in disjoint chunks from shared closures needs a raw pointer,
//! which is kept here, in one place: with the memory maps of `weights`,
//! the only `unsafe` code outside `kernels`, allowed item by item.

/// The output buffer, written in disjoint chunks by the pool's threads.
struct Out(*mut f32);

// SAFETY: each chunk index is handed to exactly one thread (see
// `for_each_chunk`), so no two threads write the same element.
#[allow(unsafe_code)]
unsafe impl Sync for Out {}

impl Out {
    /// A method, so that closures capture the `Sync` wrapper rather than
    /// the raw pointer inside it.
    fn get(&self) -> *mut f32 {
        self.0
    }
}

/// Calls `f(i, chunk)` for each `chunk`-long piece of `out` (the last may
/// be shorter), spread over candle's thread pool.
pub(crate) fn for_each_chunk(out: &mut [f32], chunk: usize, f: impl Fn(usize, &mut [f32]) + Sync) {
    assert!(chunk > 0, "chunks must not be empty");
    let len = out.len();
    let ptr = Out(out.as_mut_ptr());
    candle_core::utils::barrier_pool().execute_chunked(len.div_ceil(chunk), |indices| {
        for i in indices {
            let start = i * chunk;
            let end = (start + chunk).min(len);
            // SAFETY: the pool hands out disjoint ranges of indices, so
            // these pieces of `out` (borrowed mutably until this call
            // returns) do not overlap.
            #[allow(unsafe_code)]
            let piece =
                unsafe { std::slice::from_raw_parts_mut(ptr.get().add(start), end - start) };
            f(i, piece);
        }
    });
}

/// Calls `f(i)` for each `i` in `0..count`, spread over candle's thread
/// pool.
pub(crate) fn for_each_task(count: usize, f: impl Fn(usize) + Sync) {
    candle_core::utils::barrier_pool().execute_chunked(count, |indices| {
        for i in indices {
            f(i);
        }
    });
}

/// A buffer that tasks write in disjoint pieces that are not contiguous
/// chunks (a matrix's columns, say), where [`for_each_chunk`] does not
/// fit.
pub(crate) struct Disjoint<'a> {
    ptr: *mut f32,
    len: usize,
    _buffer: std::marker::PhantomData<&'a mut [f32]>,
}

// SAFETY: writes go through `write`, whose callers promise that no two
// threads write the same element.
#[allow(unsafe_code)]
unsafe impl Sync for Disjoint<'_> {}

impl<'a> Disjoint<'a> {
    pub(crate) fn new(buffer: &'a mut [f32]) -> Self {
        Self {
            ptr: buffer.as_mut_ptr(),
            len: buffer.len(),
            _buffer: std::marker::PhantomData,
        }
    }

    /// Copies `values` to `at..at + values.len()` (checked against the
    /// buffer's length).
    ///
    /// # Safety
    /// No other thread may write any of these elements during the
    /// buffer's life.
    // SAFETY: the length is checked, and `ptr` is valid for `len`
    // elements for `'a`; its one caller, the prefill kernel (`gemm` in
    // `kernels::kquants`), gives each task its own columns.
    #[allow(unsafe_code)]
    pub(crate) unsafe fn write(&self, at: usize, values: &[f32]) {
        assert!(at + values.len() <= self.len, "write past the buffer");
        // SAFETY: `at..at + values.len()` lies inside the buffer (asserted
        // above), which is borrowed mutably for `'a`, and the caller
        // promises that no other thread writes these elements.
        unsafe { std::ptr::copy_nonoverlapping(values.as_ptr(), self.ptr.add(at), values.len()) };
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_chunk_is_visited_once() {
        let mut out = vec![0f32; 1003];
        for_each_chunk(&mut out, 10, |i, piece| {
            for (j, v) in piece.iter_mut().enumerate() {
                *v += (i * 10 + j) as f32;
            }
        });
        for (j, v) in out.iter().enumerate() {
            assert_eq!(*v, j as f32);
        }
    }
}
