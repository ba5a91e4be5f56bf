//! The weight formats the kernels read ([`Format`]), their block sizes,
//! the tiling constants, the repacked tile layouts of the prefill kernel
//! ([`TileBlock`], [`TileBlock32`]) and `rows_of!`, which picks a kernel
//! instance for a register block of rows.

/// Values per block (`QK_K`).
pub(super) const BLOCK: usize = 256;
/// Bytes per Q6_K block: 128 low nibbles, 64 bytes of high bit pairs, 16
/// signed 8-bit scales, an f16 scale.
pub(super) const Q6K_BYTES: usize = 210;
/// Bytes per Q4_K block: an f16 scale and an f16 scale of minimums, 12
/// bytes of 6-bit scales and minimums (8 of each), 128 bytes of nibbles.
pub(super) const Q4K_BYTES: usize = 144;
/// Bytes per Q5_0 block: an f16 scale, 32 high bits, 16 bytes of nibbles
/// (32 values).
pub(super) const Q5_0_BYTES: usize = 22;
/// Bytes per Q8_0 block: an f16 scale, 32 signed bytes.
pub(super) const Q8_0_BYTES: usize = 34;
/// Values per Q5_0 and Q8_0 block (`QK5_0`, `QK8_0`).
pub(super) const BLOCK_32: usize = 32;
/// Up to this many rows, Q4_K and Q6_K go through the matrix-vector
/// kernels, which read the GGUF layout and unpack each weight block again
/// for every row (decoding: one row per sequence); above it, through the
/// prefill kernel (`gemm`), which repacks 16 weight rows at a time and
/// runs every row over them. Q5_0 likewise.
pub(super) const MAX_ROWS: usize = 16;
/// Weight rows per tile of the prefill kernel: one 512-bit vector of
/// 32-bit lanes.
pub(super) const TILE: usize = 16;
/// Activation rows per register block of the prefill kernel: each repacked
/// weight vector is loaded once for this many `vpdpbusd`, and as many
/// independent sums hide the instruction's latency.
pub(super) const MT: usize = 8;
/// Weight rows per parallel task.
pub(super) const ROWS_PER_TASK: usize = 32;

/// The weight formats the kernels read.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum Format {
    Q4K,
    Q6K,
    Q5_0,
    /// Decoding only (a few rows); prefill leaves it to candle.
    Q8_0,
}

impl Format {
    pub(super) fn block_bytes(self) -> usize {
        match self {
            Self::Q4K => Q4K_BYTES,
            Self::Q6K => Q6K_BYTES,
            Self::Q5_0 => Q5_0_BYTES,
            Self::Q8_0 => Q8_0_BYTES,
        }
    }

    /// Values per block.
    pub(super) fn block_len(self) -> usize {
        match self {
            Self::Q4K | Self::Q6K => BLOCK,
            Self::Q5_0 | Self::Q8_0 => BLOCK_32,
        }
    }
}

/// One 256-value block of 16 weight rows, repacked for the prefill
/// kernel: values one per byte, four consecutive values of a row side by
/// side and the 16 rows after each other (`[group of 4 (64)][row (16)][4]`),
/// so that one 512-bit load holds four values of each row for `vpdpbusd`
/// against four broadcast activations; and the scales as f32 per
/// sub-block and row.
#[repr(C, align(64))]
pub(super) struct TileBlock {
    /// Q4_K: 0..=15; Q6_K: 0..=63 (the value plus 32).
    pub(super) qs: [u8; BLOCK * TILE],
    /// `d · scale` per sub-block (Q4_K: 8 of 32 values; Q6_K: 16 of 16).
    pub(super) scales: [[f32; TILE]; 16],
    /// Q4_K: `dmin · min` per sub-block.
    pub(super) mins: [[f32; TILE]; 8],
}

impl TileBlock {
    pub(super) fn zeroed() -> Self {
        Self {
            qs: [0; BLOCK * TILE],
            scales: [[0.0; TILE]; 16],
            mins: [[0.0; TILE]; 8],
        }
    }
}

/// One Q5_0 block (32 values) of 16 weight rows, repacked for the
/// prefill kernel as [`TileBlock`] is: values 0..=31 (the value plus 16)
/// one per byte, `[group of 4 (8)][row (16)][4]`, and the rows' scales.
#[repr(C, align(64))]
pub(super) struct TileBlock32 {
    pub(super) qs: [u8; BLOCK_32 * TILE],
    pub(super) d: [f32; TILE],
}

impl TileBlock32 {
    pub(super) fn zeroed() -> Self {
        Self {
            qs: [0; BLOCK_32 * TILE],
            d: [0.0; TILE],
        }
    }
}

/// Calls `kernel::<n>(args)` for a register block of `n` (1..=[`MT`])
/// activation rows: the number of rows is a constant in each instance, so
/// that its sums stay in registers.
macro_rules! rows_of {
    ($kernel:ident, $n:expr, $($arg:expr),*) => {
        match $n {
            1 => $kernel::<1>($($arg),*),
            2 => $kernel::<2>($($arg),*),
            3 => $kernel::<3>($($arg),*),
            4 => $kernel::<4>($($arg),*),
            5 => $kernel::<5>($($arg),*),
            6 => $kernel::<6>($($arg),*),
            7 => $kernel::<7>($($arg),*),
            8 => $kernel::<8>($($arg),*),
            n => unreachable!("{n} rows in a register block of at most {MT}"),
        }
    };
}
pub(super) use rows_of;
