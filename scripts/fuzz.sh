#!/usr/bin/env bash
# The reliability campaign (docs/reliability.md): hypothesis fuzzing of every public kernel and
# the image decoder, then atheris on the compiled entry points. Run from the repository root
# with facecore installed. FACECORE_FUZZ_EXAMPLES sets examples per hypothesis target
# (default 12000: about 10 targets, over 100k calls); ATHERIS_RUNS the atheris iterations.
set -euo pipefail
export HYPOTHESIS_PROFILE=fuzz OPENCV_LOG_LEVEL=OFF
python -m pytest tests/fuzz -m fuzz -p no:cacheprovider -q -s 2>&1 | grep -v "^\[ERROR" | tail -20
if python -c "import atheris" 2>/dev/null; then
    python scripts/fuzz_atheris.py -runs="${ATHERIS_RUNS:-200000}" -max_len=512
else
    echo "atheris not installed (pip install atheris): skipped the libFuzzer pass"
fi
