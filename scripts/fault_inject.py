"""Fault injection over ``facecore build-dataset`` (docs/reliability.md): SIGKILL at random
points, a read-only output folder and a full disk (tiny tmpfs), each followed by a normal
rerun. Counts the manifest rows lost against an uninterrupted reference run (must be 0) and
the user files changed (must be 0): notes added to the output folder and a crop a reviewer
moved between identity folders, hashed before and checked after every fault.

    python scripts/fault_inject.py --kills 12 [--seed 0] [--work /tmp/fi]

Needs FACECORE_DATA_DIR (celebs13 photos) and the models. The read-only and full-disk cases
mount tmpfs and need root (they are reported as skipped otherwise). Prints a JSON summary.
"""

from __future__ import annotations

import argparse
import hashlib
import json
import os
import random
import shutil
import signal
import subprocess
import sys
import time
from pathlib import Path

PEOPLE = ("serena_williams", "roger_federer", "elon_musk")


def make_inputs(data: Path, src: Path) -> None:
    for person in PEOPLE:
        (src / person).mkdir(parents=True)
        for n in range(4):
            shutil.copy(
                data / "photos" / "celebs13" / person / f"{n}.jpg", src / person / f"{n}.jpg"
            )
    hostile = os.fsdecode(
        os.path.join(os.fsencode(src / "serena_williams"), b"\xff\xfe_latin1_\xe9.jpg")
    )
    shutil.copy(data / "photos" / "celebs13" / "serena_williams" / "5.jpg", hostile)
    (src / "broken.jpg").write_bytes(b"\xff\xd8 not a jpeg")


def cmd(src: Path, out: Path, *extra: str) -> list[str]:
    return [
        sys.executable,
        "-m",
        "facecore",
        "build-dataset",
        str(src),
        "-o",
        str(out),
        "-q",
        "--min-size",
        "1",
        *extra,
    ]


def rows(out: Path) -> set[tuple]:
    man = out / "manifest.jsonl"
    got = set()
    for line in man.read_text(encoding="utf-8").splitlines():
        r = json.loads(line)
        # what must not be lost: every face of every input and every skipped input's row (the
        # status of a face changes with the quality settings, which the runs vary on purpose)
        got.add(
            (
                r["source"],
                r.get("frame"),
                r.get("face"),
                "box" in r,
                r.get("status") if "box" not in r else None,
            )
        )
    return got


def user_files(out: Path) -> dict[str, str]:
    listing = json.loads((out / ".facecore" / "written.json").read_text())
    ours = set(listing["files"])
    return {
        os.fspath(p.relative_to(out)): hashlib.sha256(p.read_bytes()).hexdigest()
        for p in out.rglob("*")
        if p.is_file() and ".facecore" not in p.parts and os.fspath(p.relative_to(out)) not in ours
    }


def leftovers(out: Path) -> list[str]:
    st = out / ".facecore"
    return [p.name for p in st.iterdir() if p.name.startswith(("staging-", "trash-", "swap.json"))]


def check(out: Path, ref: set, users: dict[str, str]) -> tuple[int, int, list[str]]:
    lost = len(ref - rows(out))
    now = {
        k: hashlib.sha256((out / k).read_bytes()).hexdigest() if (out / k).is_file() else None
        for k in users
    }
    changed = sum(now[k] != v for k, v in users.items())
    return lost, changed, leftovers(out)


def run(args: list[str], **kw) -> subprocess.CompletedProcess:
    return subprocess.run(args, capture_output=True, text=True, timeout=600, **kw)


def main() -> int:
    ap = argparse.ArgumentParser()
    ap.add_argument("--kills", type=int, default=12)
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--work", default="/tmp/facecore-fault-injection")
    a = ap.parse_args()
    data = Path(os.environ.get("FACECORE_DATA_DIR", "../shared/data"))
    work = Path(a.work)
    shutil.rmtree(work, ignore_errors=True)
    src, ref_out, out = work / "in", work / "reference", work / "out"
    make_inputs(data, src)
    rnd = random.Random(a.seed)
    report: dict = {"kills": [], "read_only": None, "full_disk": None}

    t0 = time.perf_counter()
    r = run(cmd(src, ref_out))
    full = time.perf_counter() - t0
    assert r.returncode == 1, r.stderr  # 1: the broken file is skipped
    ref = rows(ref_out)
    report["reference"] = {"rows": len(ref), "seconds": round(full, 1)}

    # the output a reviewer works on: notes, and one crop moved to another identity
    assert run(cmd(src, out)).returncode == 1
    (out / "NOTES.txt").write_text("reviewed up to identity_0001\n")
    (out / "identity_0000" / "checked.txt").write_text("ok\n")
    crop = sorted((out / "identity_0000").glob("*.jpg"))[0]
    shutil.move(crop, out / "identity_0001" / crop.name)
    users = user_files(out)
    report["user_files"] = sorted(users)

    settings = [[], ["--min-face", "20"], ["--min-blur", "5"], ["--max-yaw", "60"]]
    for i in range(a.kills):
        extra = settings[i % len(settings)]
        if i % 3 == 2:  # sometimes a fresh store too: the kill then lands in detection
            shutil.rmtree(out / ".facecore" / "store.sqlite", ignore_errors=True)
            for f in (out / ".facecore").glob("store.sqlite*"):
                f.unlink()
        delay = rnd.uniform(0.3, full)
        p = subprocess.Popen(
            cmd(src, out, *extra), stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL
        )
        time.sleep(delay)
        killed = p.poll() is None
        if killed:
            p.send_signal(signal.SIGKILL)
        p.wait()
        again = run(cmd(src, out, *extra))
        lost, changed, left = check(out, ref, users)
        report["kills"].append(
            {
                "delay_s": round(delay, 2),
                "killed": killed,
                "rerun_exit": again.returncode,
                "rows_lost": lost,
                "user_files_changed": changed,
                "leftovers": left,
            }
        )

    # read-only output folder and full disk: tmpfs mounts (root only)
    if os.geteuid() == 0 and shutil.which("mount"):
        mnt = work / "mnt"
        mnt.mkdir()
        try:
            subprocess.run(
                ["mount", "-t", "tmpfs", "-o", "size=64m", "tmpfs", str(mnt)], check=True
            )
            o = mnt / "out"
            assert run(cmd(src, o)).returncode == 1
            (o / "NOTES.txt").write_text("mine\n")
            users_ro = user_files(o)
            subprocess.run(["mount", "-o", "remount,ro", str(mnt)], check=True)
            r = run(cmd(src, o, "--min-face", "20"))
            subprocess.run(["mount", "-o", "remount,rw", str(mnt)], check=True)
            lost, changed, left = check(o, ref, users_ro)
            r2 = run(cmd(src, o, "--min-face", "20"))
            lost2, changed2, left2 = check(o, ref, users_ro)
            report["read_only"] = {
                "exit": r.returncode,
                "stderr": r.stderr.strip().splitlines(),
                "rows_lost": lost,
                "user_files_changed": changed,
                "after_rw_rerun": {
                    "exit": r2.returncode,
                    "rows_lost": lost2,
                    "user_files_changed": changed2,
                    "leftovers": left2,
                },
            }
            # full disk: the same output on a tmpfs just big enough for it, then a rerun that
            # must rewrite every output file (a new setting) and embed anew (a fresh store)
            subprocess.run(["umount", str(mnt)], check=True)
            used = sum(p.stat().st_size for p in o.rglob("*") if p.is_file()) if o.exists() else 0
            subprocess.run(
                ["mount", "-t", "tmpfs", "-o", "size=64m", "tmpfs", str(mnt)], check=True
            )
            assert run(cmd(src, o)).returncode == 1
            (o / "NOTES.txt").write_text("mine\n")
            users_fd = user_files(o)
            for f in (o / ".facecore").glob("store.sqlite*"):
                f.unlink()
            used = sum(p.stat().st_size for p in mnt.rglob("*") if p.is_file())
            subprocess.run(
                ["mount", "-o", f"remount,size={used + 200 * 1024}", str(mnt)], check=True
            )
            r = run(cmd(src, o, "--min-face", "20"))
            lost, changed, left = check(o, ref, users_fd)
            subprocess.run(["mount", "-o", "remount,size=64m", str(mnt)], check=True)
            r2 = run(cmd(src, o, "--min-face", "20"))
            lost2, changed2, left2 = check(o, ref, users_fd)
            report["full_disk"] = {
                "tmpfs_bytes": used + 200 * 1024,
                "exit": r.returncode,
                "stderr": r.stderr.strip().splitlines()[-3:],
                "rows_lost_before_rerun": lost,
                "user_files_changed": changed,
                "after_rerun_with_space": {
                    "exit": r2.returncode,
                    "rows_lost": lost2,
                    "user_files_changed": changed2,
                    "leftovers": left2,
                },
            }
        finally:
            subprocess.run(["umount", str(mnt)], check=False)
    else:
        report["read_only"] = report["full_disk"] = "skipped: needs root to mount a tmpfs"

    k = report["kills"]
    report["totals"] = {
        "kills": sum(x["killed"] for x in k),
        "runs": len(k),
        "rows_lost": sum(x["rows_lost"] for x in k),
        "user_files_changed": sum(x["user_files_changed"] for x in k),
        "leftover_folders": sum(len(x["leftovers"]) for x in k),
    }
    print(json.dumps(report, indent=1, ensure_ascii=True))
    bad = report["totals"]["rows_lost"] or report["totals"]["user_files_changed"]
    return 1 if bad else 0


if __name__ == "__main__":
    sys.exit(main())
