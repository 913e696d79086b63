#!/usr/bin/env bash
# Leak check of the compiled core under valgrind memcheck: the same loop of every kernel call
# (and a failing call of each kind, whose error path must free what it allocated) runs
# ROUNDS_A and then ROUNDS_B times; memory "definitely lost" in frames of facecore's own
# extension must be zero and must not grow with the number of rounds. Run from the repository
# root with facecore installed (pip install -e . or pip install .). Takes a few minutes.
set -euo pipefail
ROUNDS_A="${ROUNDS_A:-5}"
ROUNDS_B="${ROUNDS_B:-25}"
out="$(mktemp -d)"
run() {
    PYTHONMALLOC=malloc FACECORE_NUM_THREADS=2 OPENCV_LOG_LEVEL=OFF valgrind --tool=memcheck \
        --leak-check=full --show-leak-kinds=definite --num-callers=30 --error-limit=no \
        --log-file="$out/vg-$1.log" python scripts/leakcheck_loop.py "$1" > /dev/null
}
run "$ROUNDS_A"
run "$ROUNDS_B"
python - "$out" "$ROUNDS_A" "$ROUNDS_B" <<'PY'
import re, sys
out, a, b = sys.argv[1], sys.argv[2], sys.argv[3]

def ours(n):
    """Bytes definitely lost in records whose stack passes through facecore's extensions."""
    text = open(f"{out}/vg-{n}.log").read()
    total = 0
    for rec in re.split(r"\n==\d+== \n", text):
        m = re.search(r"([\d,]+) bytes in [\d,]+ blocks are definitely lost", rec)
        if m and re.search(r"_core\.cpython|_cuda\.cpython|src/cpp/|src/cuda/", rec):
            total += int(m.group(1).replace(",", ""))
    summary = re.search(r"definitely lost: ([\d,]+) bytes", text)
    return total, summary.group(1) if summary else "?"

(la, alla), (lb, allb) = ours(a), ours(b)
print(f"{a} rounds: definitely lost in facecore frames {la} B (whole process {alla} B)")
print(f"{b} rounds: definitely lost in facecore frames {lb} B (whole process {allb} B)")
growth = int(allb.replace(",", "")) - int(alla.replace(",", "")) if "?" not in (alla, allb) else 0
if la or lb or growth > 1024:
    sys.exit(f"LEAK (facecore frames, or the process grew by {growth} B): see {out}")
print(f"no leak in facecore's extension and no growth with rounds ({growth:+d} B); logs in {out}")
PY
