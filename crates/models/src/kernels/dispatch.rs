//! Which kernels run here ([`Kernels`]): the one place that checks the
//! CPU's features, as memchr does. A `Kernels` value can only be made by
//! that check, so holding one is what every `unsafe` call of a
//! `#[target_feature]` kernel relies on: a binary built for any x86-64 or
//! aarch64 CPU (no `target-cpu=native`) still runs the fastest kernels the
//! CPU it runs on has.
//!
//! Order of preference: AVX-512 (F, BW, DQ, VNNI), then AVX2 + FMA
//! (x86-64-v3), then NEON (aarch64, with `dotprod` where present), then
//! none (candle's kernels). `TARJOMAN_KERNELS=avx512|avx2|neon|candle`
//! forces one; a forced set the CPU lacks falls back to candle, with a
//! warning.

use std::sync::OnceLock;

/// An instruction set the kernels are written for.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Isa {
    /// AVX-512 F, BW, DQ and VNNI (512-bit vectors, `vpdpbusd`).
    Avx512,
    /// AVX2 and FMA (x86-64-v3, 256-bit vectors).
    Avx2,
    /// aarch64 NEON (128-bit vectors), `sdot` where the CPU has `dotprod`.
    Neon,
}

/// A set of kernels this CPU runs. The fields are private: the only ways
/// to get one ([`Kernels::detect`], [`Kernels::available`]) check the CPU's
/// features first.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Kernels {
    isa: Isa,
    /// NEON only: the CPU has `sdot` (`FEAT_DotProd`) and it is used.
    dotprod: bool,
}

impl Kernels {
    /// The kernels this process uses: `TARJOMAN_KERNELS` if set (and the
    /// CPU has it), else the fastest the CPU has; `None` leaves the work
    /// to candle. Decided once per process.
    pub fn detect() -> Option<Self> {
        static CHOSEN: OnceLock<Option<Kernels>> = OnceLock::new();
        *CHOSEN.get_or_init(|| {
            let forced = std::env::var("TARJOMAN_KERNELS").unwrap_or_default();
            choose(&forced, &Self::available())
        })
    }

    /// Every set of kernels this CPU runs, fastest first (what the tests
    /// check each of against candle).
    pub fn available() -> Vec<Self> {
        let mut all = Vec::new();
        #[cfg(target_arch = "x86_64")]
        {
            if is_x86_feature_detected!("avx512f")
                && is_x86_feature_detected!("avx512bw")
                && is_x86_feature_detected!("avx512dq")
                && is_x86_feature_detected!("avx512vnni")
            {
                all.push(Self {
                    isa: Isa::Avx512,
                    dotprod: false,
                });
            }
            if is_x86_feature_detected!("avx2") && is_x86_feature_detected!("fma") {
                all.push(Self {
                    isa: Isa::Avx2,
                    dotprod: false,
                });
            }
        }
        #[cfg(target_arch = "aarch64")]
        {
            if std::arch::is_aarch64_feature_detected!("neon") {
                if std::arch::is_aarch64_feature_detected!("dotprod") {
                    all.push(Self {
                        isa: Isa::Neon,
                        dotprod: true,
                    });
                }
                all.push(Self {
                    isa: Isa::Neon,
                    dotprod: false,
                });
            }
        }
        all
    }

    pub fn isa(self) -> Isa {
        self.isa
    }

    /// NEON with `sdot`.
    #[cfg_attr(not(target_arch = "aarch64"), allow(dead_code))]
    pub fn dotprod(self) -> bool {
        self.dotprod
    }

    /// What `TARJOMAN_KERNELS` calls it (and `tarjoman bench` prints).
    pub fn name(self) -> &'static str {
        match (self.isa, self.dotprod) {
            (Isa::Avx512, _) => "avx512",
            (Isa::Avx2, _) => "avx2",
            (Isa::Neon, true) => "neon+dotprod",
            (Isa::Neon, false) => "neon",
        }
    }
}

/// The kernels for a `TARJOMAN_KERNELS` value among those the CPU has
/// (`available`, fastest first).
fn choose(forced: &str, available: &[Kernels]) -> Option<Kernels> {
    let want = match forced.trim() {
        "" | "auto" => return available.first().copied(),
        "candle" => return None,
        "avx512" => Isa::Avx512,
        "avx2" => Isa::Avx2,
        "neon" => Isa::Neon,
        other => {
            eprintln!(
                "warning: TARJOMAN_KERNELS={other} is not one of avx512, avx2, neon, candle; \
                 using the fastest kernels this CPU has"
            );
            return available.first().copied();
        }
    };
    let found = available.iter().copied().find(|k| k.isa == want);
    if found.is_none() {
        eprintln!(
            "warning: TARJOMAN_KERNELS={forced}: this CPU lacks those instructions; \
             using candle's kernels"
        );
    }
    found
}

/// The name of the kernels this process runs (`candle` for none): what
/// `tarjoman bench` reports.
pub fn kernel_path() -> &'static str {
    Kernels::detect().map_or("candle", Kernels::name)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn forcing_a_path_picks_it_or_candle() {
        let all = Kernels::available();
        assert_eq!(choose("", &all), all.first().copied());
        assert_eq!(choose("candle", &all), None);
        for k in &all {
            assert_eq!(
                choose(k.name().split('+').next().unwrap(), &all).map(|k| k.isa),
                Some(k.isa)
            );
        }
        // A set no CPU here has leaves the work to candle.
        assert_eq!(choose("avx2", &[]), None);
        // Every set the CPU has is listed (the tests run each of them):
        // on an AVX-512 machine, AVX2 too.
        #[cfg(target_arch = "x86_64")]
        assert_eq!(
            all.iter().any(|k| k.isa == Isa::Avx2),
            is_x86_feature_detected!("avx2") && is_x86_feature_detected!("fma")
        );
        #[cfg(target_arch = "aarch64")]
        assert!(all.iter().any(|k| k.isa == Isa::Neon && !k.dotprod));
        // Fastest first: AVX-512 before AVX2.
        if let Some(p) = all.iter().position(|k| k.isa == Isa::Avx512) {
            assert_eq!(p, 0);
        }
    }
}
