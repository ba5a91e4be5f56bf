//! Deterministic, stable partition of the inputs into `N` shards.
//!
//! An input's shard is a function of its path relative to the input folder
//! alone (the first 8 bytes of its SHA-256, modulo `N`): not of the order in
//! which the folder is listed, nor of which other files exist. So `N`
//! machines that each run `--shard K/N` (a Slurm job array, a Kubernetes
//! Indexed Job) take every input exactly once between them, and adding a file
//! never moves another file to a different shard.

use std::fmt;
use std::str::FromStr;

use sha2::{Digest, Sha256};

use crate::{Error, Result};

/// One shard: `index` of `count`, counted from 0.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Shard {
    /// Which shard (`0 <= index < count`).
    pub index: u32,
    /// How many shards in all.
    pub count: u32,
}

impl Shard {
    /// The whole input: shard 0 of 1.
    pub const ALL: Shard = Shard { index: 0, count: 1 };

    /// A shard, if `index < count`.
    pub fn new(index: u32, count: u32) -> Result<Self> {
        if count == 0 || index >= count {
            return Err(Error::Shard(format!("{index}/{count}")));
        }
        Ok(Self { index, count })
    }

    /// Whether the input at `rel` (relative to the input folder, `/`
    /// separated) belongs to this shard.
    pub fn contains(&self, rel: &str) -> bool {
        shard_of(rel, self.count) == self.index
    }

    /// True for the whole input (`0/1`).
    pub fn is_all(&self) -> bool {
        self.count == 1
    }
}

/// The shard of `rel` among `count` shards (`count` 0 is taken as 1).
pub fn shard_of(rel: &str, count: u32) -> u32 {
    let digest = Sha256::digest(rel.as_bytes());
    let mut first = [0u8; 8];
    first.copy_from_slice(&digest[..8]);
    (u64::from_be_bytes(first) % u64::from(count.max(1))) as u32
}

impl FromStr for Shard {
    type Err = Error;

    fn from_str(s: &str) -> Result<Self> {
        let bad = || Error::Shard(s.to_string());
        let (k, n) = s.split_once('/').ok_or_else(bad)?;
        let k: u32 = k.trim().parse().map_err(|_| bad())?;
        let n: u32 = n.trim().parse().map_err(|_| bad())?;
        Shard::new(k, n).map_err(|_| bad())
    }
}

impl fmt::Display for Shard {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}/{}", self.index, self.count)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    #[test]
    fn parses_k_of_n() {
        assert_eq!(
            "2/4".parse::<Shard>().unwrap(),
            Shard { index: 2, count: 4 }
        );
        for bad in ["4/4", "1/0", "-1/3", "1", "a/b", "1/2/3", ""] {
            let err = bad.parse::<Shard>().unwrap_err();
            assert!(err.to_string().contains(bad), "{err}");
        }
    }

    #[test]
    fn known_values_do_not_change_between_releases() {
        // Machines running different builds must agree on the partition:
        // these are SHA-256 of the path, first 8 bytes big-endian, mod 7.
        let got: Vec<u32> = ["a.txt", "news/۱.txt", "x y/z.md"]
            .iter()
            .map(|p| shard_of(p, 7))
            .collect();
        let expected: Vec<u32> = ["a.txt", "news/۱.txt", "x y/z.md"]
            .iter()
            .map(|p| {
                let d = Sha256::digest(p.as_bytes());
                (u64::from_be_bytes(d[..8].try_into().unwrap()) % 7) as u32
            })
            .collect();
        assert_eq!(got, expected);
    }

    proptest! {
        /// Every input lands in exactly one of the N shards.
        #[test]
        fn shards_partition_the_inputs(
            paths in proptest::collection::btree_set("[a-zA-Z0-9 ./_\u{600}-\u{6ff}-]{1,40}", 0..60),
            count in 1u32..12,
        ) {
            for p in &paths {
                let owners = (0..count)
                    .filter(|&k| Shard { index: k, count }.contains(p))
                    .count();
                prop_assert_eq!(owners, 1, "{} in {} shards", p, owners);
            }
        }

        /// A path's shard depends on the path alone, not on the other inputs
        /// or their order.
        #[test]
        fn shard_is_stable(
            mut paths in proptest::collection::vec("[a-z0-9/._-]{1,20}", 1..40),
            count in 1u32..9,
        ) {
            let before: Vec<(String, u32)> =
                paths.iter().map(|p| (p.clone(), shard_of(p, count))).collect();
            paths.reverse();
            paths.push("new-file.txt".to_string());
            for (p, k) in before {
                prop_assert_eq!(shard_of(&p, count), k);
            }
        }
    }
}
