#!/usr/bin/env bash
# The reliability campaign (docs/reliability.md): hypothesis fuzzing of every public kernel and
# model-free function, then atheris on the compiled entry points and on image decoding. Run
# from the repository root with facecore installed. FACECORE_FUZZ_EXAMPLES sets examples per
# hypothesis target (default 12000: 16 targets, about 190k calls); ATHERIS_RUNS and
# DECODE_RUNS the atheris iterations. The full log goes to ${FUZZ_LOG:-fuzz.log}.
set -euo pipefail
export HYPOTHESIS_PROFILE=fuzz OPENCV_LOG_LEVEL=OFF
log="${FUZZ_LOG:-fuzz.log}"
: > "$log"
status=0
python -m pytest tests/fuzz -m fuzz -p no:cacheprovider -q -s >> "$log" 2>&1 || status=$?
grep -E "fuzzed calls|passed|failed|Falsifying|Failing test case" "$log" || true
if python -c "import atheris" 2>/dev/null; then
    python scripts/fuzz_atheris.py -runs="${ATHERIS_RUNS:-200000}" -max_len=512 >> "$log" 2>&1 || status=$?
    grep "_core calls" "$log" | tail -1
    python scripts/fuzz_atheris.py --decode -runs="${DECODE_RUNS:-100000}" -max_len=4096 >> "$log" 2>&1 || status=$?
    grep "decode_image calls" "$log" | tail -1
else
    echo "atheris not installed (pip install atheris): skipped the libFuzzer passes"
fi
echo "fuzz campaign exit status $status (full log: $log)"
exit "$status"
