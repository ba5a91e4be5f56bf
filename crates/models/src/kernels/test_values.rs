//! Deterministic test inputs shared by the kernels' tests.

/// Deterministic values in [-1, 1).
pub(super) fn values(n: usize, seed: u64) -> Vec<f32> {
    let mut state = seed.wrapping_mul(6_364_136_223_846_793_005).wrapping_add(1);
    (0..n)
        .map(|_| {
            state ^= state << 13;
            state ^= state >> 7;
            state ^= state << 17;
            (state >> 40) as f32 / (1u64 << 23) as f32 - 1.0
        })
        .collect()
}

/// Values with a spread of magnitudes (up to ±3.5), deterministic: what the
/// K-quant products and activation quantizing are tested on.
pub(super) fn spread(n: usize, seed: u32) -> Vec<f32> {
    let mut state = seed.wrapping_mul(2_654_435_761).wrapping_add(1);
    (0..n)
        .map(|i| {
            state ^= state << 13;
            state ^= state >> 17;
            state ^= state << 5;
            let u = state as f32 / u32::MAX as f32 - 0.5;
            u * (1.0 + (i % 7) as f32)
        })
        .collect()
}
