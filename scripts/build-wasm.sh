#!/bin/sh
# Rebuilds engine/simd/kernels.wasm from engine/simd/*.c (fedkd's SIMD training kernels:
# kernels.c, conv.c, depthwise.c, sharing simd.h).
# Needs clang ≥ 14 with the wasm32 target and lld (Debian: apt-get install clang lld; wabt for
# the checks). `--check` rebuilds into a temporary file and fails unless it equals the
# committed kernels.wasm byte for byte. Tests never need clang: the .wasm is committed.
set -eu
root=$(cd "$(dirname "$0")/.." && pwd)
dir="$root/engine/simd"
out="$dir/kernels.wasm"
check=0
[ "${1:-}" = "--check" ] && check=1
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT

# -ffile-prefix-map and no debug info keep the output independent of the checkout's path.
clang --target=wasm32 -std=c11 -O3 -msimd128 -mbulk-memory -ffreestanding -fno-builtin -nostdlib \
  -ffile-prefix-map="$root"=. -Wall -Wextra -Werror \
  -Wl,--no-entry -Wl,--import-memory -Wl,--strip-all -Wl,--no-gc-sections \
  -o "$tmp/kernels.wasm" "$dir/kernels.c" "$dir/conv.c" "$dir/depthwise.c"

# The module shares tfjs-backend-wasm's heap, so it must not own any of it: no data
# segments and no use of the shadow stack.
if command -v wasm-objdump >/dev/null 2>&1; then
  if wasm-objdump -h "$tmp/kernels.wasm" | grep -q ' Data '; then
    echo "build-wasm: kernels.wasm has a data section; it would overwrite tfjs's heap" >&2
    exit 1
  fi
  if wasm-objdump -d "$tmp/kernels.wasm" | grep -q 'global\.\(get\|set\)'; then
    echo "build-wasm: kernels.wasm uses the shadow stack (global.get/set); it would write into tfjs's heap" >&2
    exit 1
  fi
else
  echo "build-wasm: wasm-objdump (wabt) not found; skipped the heap-safety checks" >&2
fi

if [ "$check" = 1 ]; then
  if cmp -s "$tmp/kernels.wasm" "$out"; then
    echo "build-wasm: engine/simd/kernels.wasm matches its sources"
  else
    echo "build-wasm: engine/simd/kernels.wasm differs from a rebuild of its sources; run scripts/build-wasm.sh" >&2
    exit 1
  fi
else
  cp "$tmp/kernels.wasm" "$out"
  echo "build-wasm: wrote engine/simd/kernels.wasm ($(wc -c <"$out") bytes)"
fi
