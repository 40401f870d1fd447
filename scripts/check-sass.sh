#!/usr/bin/env bash
# Checks, in the sm_90 SASS, that every fast kernel (tln_fast<N>_*, tln_fastrms<N>_*) issues all
# N 16-byte loads of a row (after scale and bias, which rows of one or two chunks per thread load
# first) before it converts the first element (tln_fastskip<N>_*: all 2N
# loads of X and Skip before the first add): ptxas once
# reused the first chunk's registers for fast8's last loads, a second DRAM
# round trip per row (H200, 8192 x 8192 FP16: 87.9 us against 74.3), and no
# test can see that. Needs no GPU: run it under scripts/with-cuda.sh (nvcc);
# it installs NVIDIA's cuobjdump and nvdisasm (which cuobjdump runs) from PyPI
# into $TRT_LAYERNORM_SASS_VENV (default ~/.cache/trt-layernorm/sass-venv)
# when no cuobjdump is on PATH.
# Usage: scripts/with-cuda.sh scripts/check-sass.sh
set -euo pipefail
cd "$(dirname "$0")/.."

# 13.0 is not on PyPI; 13.2 reads 13.0 cubins.
SASS_PIP_PACKAGES=(nvidia-cuda-cuobjdump==13.2.86 nvidia-cuda-nvdisasm==13.2.86)

nvcc=${NVCC:-$(command -v nvcc || true)}
[[ -x "$nvcc" ]] || { echo "check-sass: no nvcc (run under scripts/with-cuda.sh)" >&2; exit 1; }

cuobjdump=$(command -v cuobjdump || true)
if [[ -z "$cuobjdump" ]]; then
  venv="${TRT_LAYERNORM_SASS_VENV:-$HOME/.cache/trt-layernorm/sass-venv}"
  cuobjdump=$(find "$venv" -path '*/nvidia/cu13/bin/cuobjdump' -type f 2>/dev/null | head -n 1 || true)
  if [[ -z "$cuobjdump" ]]; then
    echo "check-sass: installing NVIDIA's cuobjdump and nvdisasm from PyPI into $venv" >&2
    python3 -m venv "$venv"
    "$venv/bin/pip" install --quiet --disable-pip-version-check "${SASS_PIP_PACKAGES[@]}"
    cuobjdump=$(find "$venv" -path '*/nvidia/cu13/bin/cuobjdump' -type f | head -n 1)
  fi
  export PATH="$(dirname "$cuobjdump"):$PATH" # nvdisasm sits beside it
fi

tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
"$nvcc" -cubin -O3 -std=c++17 -I kernels -gencode=arch=compute_90,code=sm_90 -o "$tmp/k.cubin" kernels/layernorm.cu

kernels=$("$cuobjdump" -sass "$tmp/k.cubin" | sed -n 's/.*Function : \(tln_fast\(rms\|skip\)\{0,1\}[0-9]*_[a-z0-9_]*\).*/\1/p' | sort)
[[ -n "$kernels" ]] || { echo "check-sass: no tln_fast kernels in the cubin" >&2; exit 1; }
status=0
for k in $kernels; do
  n=${k#tln_fast}; n=${n#rms}; n=${n#skip}; n=${n%%_*}
  chunks=$n
  [[ $k == tln_fastskip* ]] && n=$((2 * n))
  # Rows of one or two chunks per thread load their scale (and bias, but for
  # RMSNorm) chunks first, so that their DRAM round trip overlaps X's: those
  # loads come before the row's and count here too.
  if ((chunks <= 2)); then
    [[ $k == tln_fastrms* ]] && n=$((n + chunks)) || n=$((n + 2 * chunks))
  fi
  # 128-bit global loads before the first instruction that converts or adds
  # an element: HADD2.F32 (FP16), a 16-bit shift, 0x10000 multiply, PRMT or
  # high-half mask (BF16), FADD/FFMA (FP32), F2F/DADD/DFMA (the FP64 one-shot),
  # HADD2/HFMA2 on registers (the skip kernels' 16-bit adds). Not the idioms
  # ptxas also spells with these opcodes: moves (HFMA2.MMA R, -RZ, RZ, ...;
  # IMAD.U32 R, RZ, RZ, ...) and address shifts by a register or by 1.
  issued=$("$cuobjdump" -sass -fun "$k" "$tmp/k.cubin" | awk '
    /LDG\.E\.128/ { loads++ }
    loads > 0 && (/HADD2\.F32|FADD|FFMA|F2F|DADD|DFMA/ ||
                  /HADD2(\.MMA)? R[0-9]+, -?R[0-9]+/ || /HFMA2(\.MMA)? R[0-9]+, -?R[0-9]+/ ||
                  /IMAD\.U32 R[0-9]+, R[0-9]+, 0x10000/ || /PRMT R[0-9]+, RZ, 0x5410, R[0-9]+/ ||
                  /SHF\.L\.U32 R[0-9]+, R[0-9]+, 0x10, RZ/ || /LOP3\.LUT R[0-9]+, R[0-9]+, 0xffff0000/) { print loads; exit }')
  if [[ "${issued:-0}" -ge "$n" ]]; then
    printf 'ok    %-22s %s of %s loads in flight before the first conversion\n' "$k" "$issued" "$n"
  else
    printf 'FAIL  %-22s %s of %s loads in flight before the first conversion\n' "$k" "${issued:-0}" "$n"
    status=1
  fi
done
exit $status
