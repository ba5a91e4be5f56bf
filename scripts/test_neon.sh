#!/usr/bin/env bash
# The NEON kernels' tests (crates/models/src/kernels), cross-compiled for
# aarch64 and run under qemu-user: the kernel tests check every set of
# kernels the (emulated) CPU has against candle, NEON with and without
# `dotprod` included. Installs what is missing (the Rust target, Debian's
# gcc-aarch64-linux-gnu as the linker, qemu-user); only the kernel tests
# run, so it stays cheap. Their speed cannot be measured under emulation.
set -euo pipefail
cd "$(dirname "$0")/.."

target=aarch64-unknown-linux-gnu
if ! rustup target list --installed | grep -qx "$target"; then
  echo "adding the Rust target $target" >&2
  rustup target add "$target"
fi
missing=()
command -v aarch64-linux-gnu-gcc >/dev/null || missing+=(gcc-aarch64-linux-gnu)
command -v qemu-aarch64 >/dev/null || missing+=(qemu-user)
if [ ${#missing[@]} -gt 0 ]; then
  if [ "$(id -u)" -ne 0 ]; then
    echo "error: install ${missing[*]} (Debian packages) first" >&2
    exit 1
  fi
  echo "installing ${missing[*]}" >&2
  apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "${missing[@]}" >/dev/null
fi

# Set here, not in .cargo/config.toml: the build's `target-cpu=native`
# means the host, so the aarch64 build names a generic CPU (the kernels
# pick NEON and `dotprod` at run time).
export CARGO_TARGET_AARCH64_UNKNOWN_LINUX_GNU_LINKER=aarch64-linux-gnu-gcc
export CARGO_TARGET_AARCH64_UNKNOWN_LINUX_GNU_RUSTFLAGS="-C target-cpu=generic"
export CARGO_TARGET_AARCH64_UNKNOWN_LINUX_GNU_RUNNER="qemu-aarch64 -L /usr/aarch64-linux-gnu"
export CANDLE_NUM_THREADS=1 RAYON_NUM_THREADS=1
cargo test --release --locked -p tarjoman-models --target "$target" --lib kernels
