#!/usr/bin/env bash
# Builds what the coverage-guided fuzz campaign needs (docs/reliability.md), outside the wheel:
#   build/fuzz/core/_core*.so   facecore._core compiled by clang with
#                               FACECORE_SANITIZE="fuzzer-no-link;address;undefined": every edge
#                               of the C++ core feeds libFuzzer's coverage (atheris loads it with
#                               scripts/fuzz_atheris.py --core), ASan/UBSan check each access;
#   build/fuzz/fuzz_<family>    one C++ libFuzzer target per kernel family (tests/fuzz/cpp/),
#                               linked with the kernel sources, -fsanitize=fuzzer,address,undefined.
# Needs clang (Debian: apt-get install clang) and pybind11. Run from the repository root.
set -euo pipefail
CXX="${CXX:-clang++}"
PY="${PYTHON:-python}"
out="${FUZZ_BUILD:-build/fuzz}"
mkdir -p "$out"
pybind_dir="$("$PY" -c 'import pybind11; print(pybind11.get_cmake_dir())')"
cmake -S . -B "$out/cmake" -DCMAKE_CXX_COMPILER="$CXX" -DCMAKE_BUILD_TYPE=RelWithDebInfo \
    -DSKBUILD_PROJECT_NAME=facecore -DSKBUILD_PROJECT_VERSION=0.0.0 -DFACECORE_CUDA=OFF \
    -Dpybind11_DIR="$pybind_dir" -DPython_EXECUTABLE="$(command -v "$PY")" \
    -DFACECORE_SANITIZE="fuzzer-no-link;address;undefined" \
    -DCMAKE_CXX_FLAGS="-fno-sanitize-recover=undefined -fno-sanitize=vptr" > "$out/cmake.log"
cmake --build "$out/cmake" -j "${JOBS:-1}" >> "$out/cmake.log"
mkdir -p "$out/core"
cp "$out"/cmake/_core*.so "$out/core/"
# kernel sources without the Python binding: what the C++ targets link
# (the *_avx2.cpp clones compiled as the wheel compiles them, x86-64-v3 with
# FACECORE_HAVE_AVX2_TU, so the campaign runs the AVX2 rows the CPU picks at run time;
# without the define they would be empty and only the baseline would be fuzzed)
srcs=$(ls src/cpp/*.cpp | grep -v module.cpp | grep -v _avx2.cpp)
flags=(-std=c++17 -O1 -g -fno-omit-frame-pointer -ffp-contract=off -Isrc/cpp
    -fsanitize=fuzzer,address,undefined -fno-sanitize-recover=undefined)
avx2_objs=()
for s in src/cpp/*_avx2.cpp; do
    obj="$out/$(basename "$s" .cpp).o"
    "$CXX" "${flags[@]/-fsanitize=fuzzer,/-fsanitize=fuzzer-no-link,}" -march=x86-64-v3 \
        -DFACECORE_HAVE_AVX2_TU -c "$s" -o "$obj"
    avx2_objs+=("$obj")
done
for t in tests/fuzz/cpp/fuzz_*.cpp; do
    name=$(basename "$t" .cpp)
    "$CXX" "${flags[@]}" -march=x86-64-v2 "$t" $srcs "${avx2_objs[@]}" -o "$out/$name" -lpthread
done
ls -1 "$out/core" "$out"/fuzz_* 
