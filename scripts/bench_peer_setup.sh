#!/usr/bin/env bash
# Install the llama.cpp peer for the side-by-side benchmark: a Python venv at
# target/peer-venv with llama-cpp-python 0.3.36 from PyPI, which compiles llama.cpp from source
# for this machine's CPU. target/ is git-ignored; the venv is the cache: if it already holds
# the pinned version this script does nothing, so re-running it is cheap.
#
# Usage: scripts/bench_peer_setup.sh        (PEER_VENV=DIR to put the venv elsewhere)
#        ISA=avx2 scripts/bench_peer_setup.sh
#                  llama.cpp built for AVX2 + FMA + F16C only (no AVX-512, not native), in
#                  target/peer-venv-avx2: the peer for `ISA=avx2 scripts/bench_compare.sh`,
#                  which runs tarjoman with TARJOMAN_KERNELS=avx2.
# Build log: target/peer-venv.log. Takes ~10-20 min on 2 cores.
set -euo pipefail

root="$(cd "$(dirname "$0")/.." && pwd)"
isa="${ISA:-native}"
case "$isa" in
  native) default_venv="$root/target/peer-venv"
          default_cmake="-DGGML_NATIVE=ON -DCMAKE_BUILD_TYPE=Release -DLLAMA_CURL=OFF" ;;
  avx2)   default_venv="$root/target/peer-venv-avx2"
          default_cmake="-DGGML_NATIVE=OFF -DGGML_AVX=ON -DGGML_AVX2=ON -DGGML_FMA=ON -DGGML_F16C=ON -DGGML_AVX512=OFF -DGGML_AVX512_VNNI=OFF -DGGML_AVX_VNNI=OFF -DCMAKE_BUILD_TYPE=Release -DLLAMA_CURL=OFF" ;;
  *) echo "bench_peer_setup: ISA=$isa is not native or avx2" >&2; exit 2 ;;
esac
venv="${PEER_VENV:-$default_venv}"
version="0.3.36"
python="${PYTHON:-python3}"

if [[ -x "$venv/bin/python" ]] &&
    "$venv/bin/python" -c "import llama_cpp, sys; sys.exit(llama_cpp.__version__ != '$version')" 2>/dev/null; then
    echo "llama-cpp-python $version already installed in $venv" >&2
    exit 0
fi

mkdir -p "$(dirname "$venv")"
"$python" -m venv "$venv"
"$venv/bin/pip" install --quiet --upgrade pip >&2

# GGML_NATIVE: build for this CPU (-march=native), like a local llama.cpp build (ISA=avx2:
# the x86-64-v3 kernels only). Only the CPU backend; no server/tools/examples needed by the
# Python binding. Two parallel compile jobs: the machine has 2 cores and is shared.
export CMAKE_ARGS="${CMAKE_ARGS:-$default_cmake}"
export CMAKE_BUILD_PARALLEL_LEVEL="${CMAKE_BUILD_PARALLEL_LEVEL:-2}"
export MAKEFLAGS="${MAKEFLAGS:--j2}"
# --no-binary forces the source build (never a prebuilt generic wheel); --no-cache-dir so a
# wheel built with other CMAKE_ARGS is not reused from pip's cache.
"$venv/bin/pip" install --verbose --no-cache-dir --no-binary llama-cpp-python \
    "llama-cpp-python==$version" >&2

"$venv/bin/python" -c "import llama_cpp; print('llama-cpp-python', llama_cpp.__version__, 'installed in $venv')"
