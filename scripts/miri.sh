#!/usr/bin/env bash
# Miri (undefined-behaviour checks) over the pure-Rust plugin modules: the unit tests of the
# wire format, fields, configuration and kernel selection, and the property tests with a
# few cases each. Needs a nightly toolchain with the miri and rust-src components
# (`rustup component add --toolchain nightly miri rust-src`); skips with one line without.
# Building runs build.rs natively, so it needs nvcc like every build:
#   scripts/with-cuda.sh scripts/miri.sh   (on 2 cores: ~105 s of tests under Miri, plus the build)
set -euo pipefail
cd "$(dirname "$0")/.."

toolchain="${MIRI_TOOLCHAIN:-nightly}"
if ! cargo "+$toolchain" miri --version >/dev/null 2>&1; then
  echo "miri: skipped: no 'cargo +$toolchain miri' (rustup component add --toolchain $toolchain miri rust-src)"
  exit 0
fi
export TRT_LAYERNORM_CUDA_ARCHS="${TRT_LAYERNORM_CUDA_ARCHS:-90}"
export CARGO_TARGET_DIR="${CARGO_TARGET_DIR:-target/miri}"

cargo "+$toolchain" miri test --lib -- plugin::wire plugin::fields plugin::config select
# proptest reads its failure-persistence file and the clock: Miri's isolation must be off.
PROPTEST_CASES="${PROPTEST_CASES:-4}" MIRIFLAGS="${MIRIFLAGS:-} -Zmiri-disable-isolation" \
  cargo "+$toolchain" miri test --test plugin_properties
