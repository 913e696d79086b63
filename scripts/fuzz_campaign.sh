#!/usr/bin/env bash
# The coverage-guided campaign of docs/reliability.md, on one core: the four C++ libFuzzer
# targets, then atheris over the coverage-instrumented facecore._core (structure-aware kernels,
# raw entry-point arguments, and image decoding seeded with every format OpenCV writes).
# Needs scripts/fuzz_build.sh first. SECONDS_CPP / SECONDS_PY set the time per target.
# Prints one line per target: executions, edges covered ("cov", libFuzzer's count of the
# instrumented code's edges), features, findings. Logs and corpora go to build/fuzz/campaign/.
set -uo pipefail
PY="${PYTHON:-python}"
fz="${FUZZ_BUILD:-build/fuzz}"
out="$fz/campaign"
mkdir -p "$out"
export OPENCV_LOG_LEVEL=OFF
asan="$(clang -print-file-name=libclang_rt.asan-x86_64.so)"
[ -f "$fz/libfuzzer_no_main.so" ] || clang++ -shared -fPIC -o "$fz/libfuzzer_no_main.so" -Wl,--whole-archive \
    "$(clang -print-file-name=libclang_rt.fuzzer_no_main-x86_64.a)" -Wl,--no-whole-archive -lpthread
summary() {  # name log
    local last runs cov ft crashes
    last=$(grep -E "^#[0-9]+" "$2" | tail -1)
    runs=$(echo "$last" | sed -E 's/^#([0-9]+).*/\1/')
    cov=$(echo "$last" | sed -nE 's/.*cov: ([0-9]+).*/\1/p')
    ft=$(echo "$last" | sed -nE 's/.*ft: ([0-9]+).*/\1/p')
    crashes=$(grep -cE "ERROR: (AddressSanitizer|UndefinedBehaviorSanitizer|libFuzzer)|runtime error:|Traceback" "$2")
    printf "%-28s runs %9s  edges %5s  features %6s  findings %s\n" "$1" "$runs" "${cov:-0}" "${ft:-0}" "$crashes"
}
status=0
for t in warp windows refine blend; do
    mkdir -p "$out/corpus_$t"
    "$fz/fuzz_$t" "$out/corpus_$t" -max_total_time="${SECONDS_CPP:-60}" -max_len=4096 -print_final_stats=1 \
        -artifact_prefix="$out/$t-" > "$out/$t.log" 2>&1 || status=1
    summary "C++ fuzz_$t" "$out/$t.log"
done
pre="$PWD/$fz/libfuzzer_no_main.so $asan"
opts="detect_leaks=0:verify_asan_link_order=0:symbolize=0:allocator_may_return_null=1"
run_py() {  # name seconds args...
    local name=$1 secs=$2
    shift 2
    mkdir -p "$out/corpus_$name"
    env LD_PRELOAD="$pre" ASAN_OPTIONS="$opts" "$PY" scripts/fuzz_atheris.py "$@" --core "$fz/core" \
        -max_total_time="$secs" -print_final_stats=1 -artifact_prefix="$out/$name-" > "$out/$name.log" 2>&1 || status=1
    summary "atheris $name" "$out/$name.log"
}
run_py kernels "${SECONDS_PY:-150}" --kernels "$out/corpus_kernels" -max_len=512
run_py core_args 60 "$out/corpus_core_args" -max_len=512
run_py decode "${SECONDS_DECODE:-120}" --decode --instrument-python -max_len=4096
echo "campaign exit status $status (logs in $out)"
exit $status
