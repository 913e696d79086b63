#!/usr/bin/env bash
# AddressSanitizer + UndefinedBehaviorSanitizer: build facecore._core with
# FACECORE_SANITIZE="address;undefined" in a throw-away virtualenv (its own build dir), then run
# the kernel tests, the hypothesis fuzz targets and the atheris harness under it. Any report
# aborts the run (halt_on_error), so exit 0 means clean. Leak detection is off for the
# interpreter itself (CPython keeps objects alive at exit); tests/test_reliability.py checks
# the kernels for growth instead. Run from the repository root.
set -euo pipefail
venv="$(mktemp -d)/venv"
python3 -m venv "$venv"
# shellcheck disable=SC1091
source "$venv/bin/activate"
python -m pip install -q --upgrade pip
python -m pip install -q numpy opencv-python-headless onnxruntime onnx tqdm pytest hypothesis \
    scikit-build-core pybind11 atheris
FACECORE_SANITIZE="address;undefined" FACECORE_CUDA=OFF python -m pip install -q --no-build-isolation \
    -C build-dir=build/sanitize .
export LD_PRELOAD="$(gcc -print-file-name=libasan.so) $(gcc -print-file-name=libubsan.so)"
export ASAN_OPTIONS=detect_leaks=0:abort_on_error=1:allocator_may_return_null=1
export UBSAN_OPTIONS=print_stacktrace=1:halt_on_error=1
export OPENCV_LOG_LEVEL=OFF
python -m pytest -q -p no:cacheprovider tests/kernels/test_kernels_warp.py tests/kernels/test_kernels_windows.py \
    tests/kernels/test_kernels_refine.py tests/kernels/test_kernels_blend.py tests/test_threads.py tests/test_align.py
HYPOTHESIS_PROFILE=fuzz FACECORE_FUZZ_EXAMPLES="${FACECORE_FUZZ_EXAMPLES:-2000}" \
    python -m pytest -q -p no:cacheprovider -m fuzz tests/fuzz -s 2>&1 | grep -v "^\[ERROR" | tail -5
python scripts/fuzz_atheris.py -runs="${ATHERIS_RUNS:-50000}" -max_len=1024 2>&1 | grep "_core calls" | tail -1
echo "sanitizer run clean"
