"""facecore's CPU kernels against the NumPy/OpenCV code a user would write instead.

    python benchmarks/bench_kernels.py [--quick] [--json out.json] [--repeat N]
                                       [--cases warp,windows,refine,recolor,blend]

Cases (targets from issue 19, for a 2-core machine; ratio = baseline time / facecore time,
"2 thr" = both libraries' default threads, "1 thr" = both on one thread; floor = the bytes the
kernel must move at the copy bandwidth measured in the same run):

warp     64 crops 112x112 (faces of 40-370 px) from a 1920x1080 frame to float32 NCHW,
         normalised ((v - 127.5) / 128, RGB): ``warp_crops(tensor=True)`` vs a
         ``cv2.warpAffine`` loop + ``cv2.dnn.blobFromImages``.  target >= 2x (2 thr), 1.5x (1 thr)
windows  stride-1 35x35 windows over a 256x256x3 image as normalised NCHW batches (facecore's
         default batch; the user's code batches of 4096), a stand-in classifier, mean
         accumulation of its scores into a map: ``probability_map`` vs ``sliding_window_view``
         + normalisation + ``np.add.at``.                           target >= 10x
refine   1080p float32 map, ``1 - (1 - p)**2`` then the 3x3 "lbp3" kernel, clipped:
         ``refine_map`` vs NumPy + ``cv2.filter2D``.  target >= 1.3x (1 thr), >= 40 % of the
         copy floor (2 thr)
recolor  1080p BGR image recoloured in Lab (keep L, take the target's a/b) and blended by an
         alpha map (dense, and hair-like: 25 % of the frame): ``recolor`` vs ``cv2.cvtColor``
         (8-bit Lab) + NumPy blend.          target (dense) >= 4x (2 thr), >= 3x (1 thr)
blend    the blend alone, 1080p: ``blend`` vs the NumPy expression.  target >= 50 % of the
         copy floor (2 thr)

At the end a summary prints, per kernel: bytes moved, the copy floor, the fraction of it
reached and the ratio at 2 and at 1 thread.

Each case runs at the default thread counts and again with facecore and OpenCV on 1 thread.
Before any timing, the outputs of the very callables that get timed are compared; a case
whose check fails is not timed and makes the script exit 1. A missed speed target never
changes the exit status. Methodology: benchmarks/README.md.
"""

from __future__ import annotations

import argparse
import os
import sys
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import cv2
import numpy as np
from numpy.lib.stride_tricks import sliding_window_view

sys.path.insert(0, str(Path(__file__).resolve().parent))  # `python benchmarks/bench_kernels.py`
import common

import facecore as fc

K = fc.kernels

# Model-input normalisation used by the warp and windows cases (ArcFace / SFace style).
MEAN, STD = 127.5, 128.0


@dataclass
class Case:
    """One comparison: facecore and the code it replaces, doing the same job.

    ``facecore`` and every baseline return their result; ``check(fc_out, base_out)`` says
    whether two results agree (dict with ``ok`` and measured differences), and is applied to
    the primary baseline and to every informational one before timing. ``pre_check`` may
    compare intermediate results the timed callables do not return (e.g. window batches).
    """

    name: str
    group: str  # the --cases key that selects it
    description: str
    facecore: Callable[[], Any]
    baseline: tuple[str, Callable[[], Any]]  # the baseline the target refers to
    check: Callable[[Any, Any], dict[str, Any]]
    target: float | None  # ratio at the default threads (2 on the reference machine)
    variants: dict[str, Callable[[], Any]] = field(default_factory=dict)  # informational
    pre_check: Callable[[], dict[str, Any]] | None = None
    floor_bytes: int | None = None  # bytes a kernel must read + write, for the bandwidth floor
    budget_s: float | None = None  # cap on timed seconds per thread setting (slow baselines)
    notes: list[str] = field(default_factory=list)
    target_1t: float | None = None  # ratio on one thread
    floor_target: float | None = None  # fraction of the copy floor at the default threads


# ---------------------------------------------------------------------------- inputs


def _data_photo() -> Path | None:
    """group_01.jpg from $FACECORE_DATA_DIR or ../shared/data beside the checkout."""
    roots = [os.environ.get("FACECORE_DATA_DIR"), str(common.REPO.parent / "shared" / "data")]
    for r in roots:
        if r and (Path(r) / "photos" / "group_01.jpg").is_file():
            return Path(r) / "photos" / "group_01.jpg"
    return None


def load_frame(rng: np.random.Generator) -> tuple[np.ndarray, str]:
    """A 1920x1080 BGR frame: a real group photo, the packaged demo photo, or a smooth image.

    Real content matters little to these kernels (no data-dependent branches except the
    zero-alpha skip, which the alpha maps control), but it keeps the Lab round trip honest.
    """
    path = _data_photo() or Path(fc.__file__).parent / "data" / "astronaut.jpg"
    img = cv2.imread(str(path), cv2.IMREAD_COLOR) if path.is_file() else None
    if img is not None:
        return cv2.resize(img, (1920, 1080), interpolation=cv2.INTER_LINEAR), path.name
    noise = rng.random((135, 240, 3), dtype=np.float32)  # smooth: upsampled coarse noise
    img = cv2.resize(noise, (1920, 1080), interpolation=cv2.INTER_CUBIC)
    return np.clip(img * 255, 0, 255).astype(np.uint8), "synthetic smooth noise"


def smooth_field(rng: np.random.Generator, shape: tuple[int, int], cells: int = 24) -> np.ndarray:
    """A smooth random float32 field in [0, 1] (coarse noise, bicubic upsampling)."""
    h, w = shape
    coarse = rng.random(
        (max(2, h * cells // max(h, w)), max(2, w * cells // max(h, w))), dtype=np.float32
    )
    f = cv2.resize(coarse, (w, h), interpolation=cv2.INTER_CUBIC)
    f -= f.min()
    return f / f.max()


def face_matrices(
    rng: np.random.Generator, n: int, frame_hw: tuple[int, int], size: int = 112
) -> np.ndarray:
    """``n`` forward similarity matrices mapping faces of 40..370 px, rotated up to ±30°, to
    ``size``-pixel crops; centres anywhere in the frame, so some crops hang over the border
    (both sides then fill with 0)."""
    H, W = frame_hw
    face = rng.uniform(40, 370, n)
    ang = np.deg2rad(rng.uniform(-30, 30, n))
    cx, cy = rng.uniform(0.02 * W, 0.98 * W, n), rng.uniform(0.02 * H, 0.98 * H, n)
    s = size / face
    a, b = s * np.cos(ang), s * np.sin(ang)
    c = (size - 1) / 2
    m = np.empty((n, 2, 3), np.float64)
    m[:, 0, 0], m[:, 0, 1], m[:, 0, 2] = a, b, c - (a * cx + b * cy)
    m[:, 1, 0], m[:, 1, 1], m[:, 1, 2] = -b, a, c - (-b * cx + a * cy)
    return m


# ---------------------------------------------------------------------------- checks


def _diff(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    if a.shape != b.shape:
        raise AssertionError(f"shapes differ: facecore {a.shape} vs baseline {b.shape}")
    return np.abs(a.astype(np.float64) - b.astype(np.float64))


def check_max(tol: float, why: str) -> Callable[[Any, Any], dict[str, Any]]:
    """Agreement = every element within ``tol``."""

    def check(x: np.ndarray, y: np.ndarray) -> dict[str, Any]:
        d = _diff(x, y)
        mx = float(d.max())
        return {
            "ok": bool(mx <= tol),
            "max_abs_diff": mx,
            "mean_abs_diff": float(d.mean()),
            "frac_differing": float((d > 0).mean()),
            "rule": f"max |diff| <= {tol:g} ({why})",
            "summary": f"max|d| {mx:.3g}, {100 * (d > 0).mean():.3g}% differ",
        }

    return check


def check_mean(tol: float, why: str) -> Callable[[Any, Any], dict[str, Any]]:
    """Agreement = mean absolute difference below ``tol`` (the max is reported)."""

    def check(x: np.ndarray, y: np.ndarray) -> dict[str, Any]:
        d = _diff(x, y)
        mean, mx = float(d.mean()), float(d.max())
        return {
            "ok": bool(mean < tol),
            "max_abs_diff": mx,
            "mean_abs_diff": mean,
            "frac_differing": float((d > 0).mean()),
            "frac_over_2": float((d > 2).mean()),
            "rule": f"mean |diff| < {tol:g} ({why})",
            "summary": f"mean|d| {mean:.3g}, max|d| {mx:.0f}, {100 * (d > 2).mean():.2g}% > 2",
        }

    return check


# ------------------------------------------------------------------------------ warp


def case_warp(rng: np.random.Generator, frame: np.ndarray, quick: bool) -> list[Case]:
    n, size = 64, 112
    mats = face_matrices(rng, n, frame.shape[:2], size)

    def facecore() -> np.ndarray:
        return K.warp_crops(frame, mats, size, tensor=True, mean=MEAN, std=STD, swap_rb=True)

    def baseline() -> np.ndarray:
        crops = [
            cv2.warpAffine(
                frame,
                m,
                (size, size),
                flags=cv2.INTER_LINEAR,
                borderMode=cv2.BORDER_CONSTANT,
                borderValue=(0, 0, 0),
            )
            for m in mats
        ]
        # The mean must be a 3-tuple: a bare 127.5 becomes Scalar(127.5, 0, 0) and only the
        # first channel would be centred (a silently misconfigured baseline).
        return cv2.dnn.blobFromImages(
            crops, 1.0 / STD, (size, size), (MEAN, MEAN, MEAN), swapRB=True
        )

    def pre_check() -> dict[str, Any]:
        # The uint8 warp on its own, which the tensor path writes in the same pass.
        ours = K.warp_crops(frame, mats, size)
        ref = np.stack([cv2.warpAffine(frame, m, (size, size)) for m in mats])
        return check_max(1, "fixed-point bilinear, documented to within 1 grey level")(ours, ref)

    return [
        Case(
            name="warp",
            group="warp",
            description=f"{n} crops {size}x{size} from 1920x1080 -> float32 NCHW (v-127.5)/128, RGB",
            facecore=facecore,
            baseline=("cv2.warpAffine loop + cv2.dnn.blobFromImages", baseline),
            # (v - 127.5) / 128 and (v - 127.5) * (1/128) are both exact in float32, so any
            # difference is a whole grey level of the warp divided by 128.
            check=check_max(
                1 / STD + 1e-6, "1 grey level / 128; divide vs scalefactor multiply are both exact"
            ),
            target=2.0,
            target_1t=1.5,
            pre_check=pre_check,
            # the float32 tensor written + the source pixels the crops cover (uint8)
            floor_bytes=n * 3 * size * size * 4
            + int(
                sum(
                    min(frame.size, 3 * (size / s) ** 2)
                    for s in np.hypot(mats[:, 0, 0], mats[:, 0, 1])
                )
            ),
        )
    ]


# --------------------------------------------------------------------------- windows


def case_windows(rng: np.random.Generator, frame: np.ndarray, quick: bool) -> list[Case]:
    side, win, stride, bs = (96 if quick else 256), 35, 1, 4096
    img = np.ascontiguousarray(
        cv2.resize(frame[:1080, 420:1500], (side, side), interpolation=cv2.INTER_AREA)
    )
    H, W = img.shape[:2]
    gh, gw = K.window_grid(img.shape, win, stride=stride)
    c = (win - 1) // 2

    def classify(batch: np.ndarray) -> np.ndarray:
        # Stand-in for a model: O(B) work, identical on both sides, and data-dependent so
        # the map check also sees the extraction. A real model costs the same on both sides
        # and would dilute the ratio; here the ratio measures extraction + accumulation.
        return batch[:, :, c, c].mean(axis=1) * 0.5 + 0.5

    def facecore(batch_size: int | None = None) -> np.ndarray:
        return fc.probability_map(
            img,
            classify,
            win,
            stride=stride,
            batch_size=batch_size,
            reduce="mean",
            mean=MEAN,
            std=STD,
            swap_rb=True,
        )

    def facecore_user_batches() -> np.ndarray:
        # Informational: the user's batch of 4096 windows (60 MB, a fresh mmap each time:
        # page faults on first touch) instead of facecore's default (a few MiB, cache-sized).
        return facecore(bs)

    view = sliding_window_view(img, (win, win), axis=(0, 1))  # (gh, gw, C, win, win), no copy

    def np_batches() -> Iterator[tuple[np.ndarray, np.ndarray, np.ndarray]]:
        """What a user writes: fancy-index a batch of windows out of the view, RGB, normalise."""
        for first in range(0, gh * gw, bs):
            k = np.arange(first, min(first + bs, gh * gw))
            ys, xs = np.divmod(k, gw)
            batch = view[ys * stride, xs * stride][:, ::-1].astype(np.float32)  # (B, C, wh, ww)
            batch -= MEAN  # in place: the faster of the two ways to write it
            batch /= STD
            yield ys * stride, xs * stride, batch

    offsets = (np.arange(win)[:, None] * W + np.arange(win)[None, :]).ravel()  # pixels of a window

    def baseline_add_at() -> np.ndarray:
        acc = np.zeros(H * W, np.float64)
        cnt = np.zeros(H * W, np.float64)
        for ys, xs, batch in np_batches():
            s = classify(batch).astype(np.float64)
            idx = ((ys * W + xs)[:, None] + offsets[None, :]).ravel()
            np.add.at(acc, idx, np.repeat(s, offsets.size))
            np.add.at(cnt, idx, 1.0)
        return (acc / np.maximum(cnt, 1)).reshape(H, W).astype(np.float32)

    def baseline_slices() -> np.ndarray:
        # A stronger user: scores on the grid, one shifted slice-add per window offset.
        scores = np.empty(gh * gw, np.float64)
        for ys, xs, batch in np_batches():
            k = (ys // stride) * gw + xs // stride
            scores[k] = classify(batch)
        g = scores.reshape(gh, gw)
        acc = np.zeros((H, W), np.float64)
        cnt = np.zeros((H, W), np.float64)
        for dy in range(win):
            for dx in range(win):
                sl = (slice(dy, dy + stride * gh, stride), slice(dx, dx + stride * gw, stride))
                acc[sl] += g
                cnt[sl] += 1.0
        return (acc / np.maximum(cnt, 1)).astype(np.float32)

    def pre_check() -> dict[str, Any]:
        # Every batch facecore yields against the NumPy batch (same windows, same order).
        worst, n = 0.0, 0
        ours = K.iter_windows(
            img, win, stride=stride, batch_size=bs, mean=MEAN, std=STD, swap_rb=True
        )
        for b, (ys, xs, ref) in zip(ours, np_batches(), strict=True):
            if b.tensor.shape != ref.shape:
                return {"ok": False, "summary": f"batch shape {b.tensor.shape} vs {ref.shape}"}
            if not (np.array_equal(b.origins[:, 0], xs) and np.array_equal(b.origins[:, 1], ys)):
                return {"ok": False, "summary": f"batch {b.first}: window origins differ"}
            worst = max(worst, float(np.abs(b.tensor - ref).max()))
            n += ref.shape[0]
        return {
            "ok": worst == 0.0 and n == gh * gw,
            "max_abs_diff": worst,
            "windows": n,
            "rule": "window tensors identical",
            "summary": f"{n} windows, max|d| {worst:.3g}",
        }

    nbytes = gh * gw * 3 * win * win * 4
    return [
        Case(
            name="windows",
            group="windows",
            description=(
                f"stride-1 {win}x{win} windows over {H}x{W}x3 ({gh * gw} windows, "
                f"{nbytes / 1e6:.0f} MB of float32), default batch (user: {bs}), mean accumulation"
            ),
            facecore=facecore,
            baseline=("sliding_window_view + normalise + np.add.at", baseline_add_at),
            # Both average float32 scores in float64 (facecore via a prefix sum, the
            # baseline by summing), so only summation order differs.
            check=check_max(1e-5, "float64 sums in a different order"),
            target=10.0,
            variants={
                "sliding_window_view + normalise + slice adds": baseline_slices,
                "facecore itself with batch_size=4096": facecore_user_batches,
            },
            pre_check=pre_check,
            floor_bytes=nbytes,  # the window tensors written once (the image stays in cache)
            budget_s=8 if quick else 25,
            notes=[
                "classify = centre pixel of each window (O(B)), the same function on both sides"
            ],
        )
    ]


# ---------------------------------------------------------------------------- refine


def case_refine(rng: np.random.Generator, frame: np.ndarray, quick: bool) -> list[Case]:
    p = smooth_field(rng, (1080, 1920), cells=48)
    kern = K.KERNELS["lbp3"]
    out = np.empty_like(p)

    def facecore() -> np.ndarray:
        return K.refine_map(p, power=2, kernel="lbp3")

    def facecore_out() -> np.ndarray:
        return K.refine_map(p, power=2, kernel="lbp3", out=out)

    def baseline() -> np.ndarray:
        return np.clip(
            cv2.filter2D(1 - (1 - p) ** 2, -1, kern, borderType=cv2.BORDER_REPLICATE), 0, 1
        )

    return [
        Case(
            name="refine",
            group="refine",
            description="1080p float32 map: clip(filter2D(1-(1-p)^2, lbp3 3x3, replicate), 0, 1)",
            facecore=facecore,
            baseline=("NumPy power + cv2.filter2D + np.clip", baseline),
            check=check_max(1e-6, "float32 rounding of the 9-tap sum"),
            target=1.3,
            target_1t=1.3,
            floor_target=0.4,
            variants={"facecore itself with out= (no allocation)": facecore_out},
            floor_bytes=2 * p.nbytes,  # read p once, write the result once
        )
    ]


# --------------------------------------------------------------------------- recolor


def hair_alpha(rng: np.random.Generator, shape: tuple[int, int], area: float = 0.25) -> np.ndarray:
    """A hair-like mask: a soft-edged ellipse, textured, > 0 on ``area`` of the frame, 0 elsewhere."""
    h, w = shape
    edge = 0.15  # soft band, in units of the radius, centred on r = 1 (so alpha > 0 up to 1.075)
    ry = np.sqrt(area * h * w / np.pi / 1.3) / (1 + edge / 2)  # ellipse 1.3x wider than tall
    rx = 1.3 * ry
    yy, xx = np.mgrid[0:h, 0:w].astype(np.float32)
    r = np.sqrt(((xx - 0.5 * w) / rx) ** 2 + ((yy - 0.4 * h) / ry) ** 2)
    t = np.clip((1 + edge / 2 - r) / edge, 0, 1)
    a = t * t * (3 - 2 * t)  # smoothstep
    a *= 0.7 + 0.3 * smooth_field(rng, shape, cells=64)  # strand-like variation inside
    return a.astype(np.float32)


def case_recolor(rng: np.random.Generator, frame: np.ndarray, quick: bool) -> list[Case]:
    color = "#a52a2a"  # "auburn"
    bgr = [int(color[5:7], 16), int(color[3:5], 16), int(color[1:3], 16)]
    target_lab = cv2.cvtColor(np.array([[bgr]], np.uint8), cv2.COLOR_BGR2Lab)[0, 0]
    img = frame
    dense = (0.02 + 0.98 * smooth_field(rng, img.shape[:2])).astype(np.float32)  # in (0, 1]
    hair = hair_alpha(rng, img.shape[:2])
    cases = []
    for label, alpha in (("dense", dense), ("hair", hair)):

        def facecore(alpha: np.ndarray = alpha) -> np.ndarray:
            return K.recolor(img, alpha, color, mode="lab", strength=1.0)

        def baseline(alpha: np.ndarray = alpha) -> np.ndarray:
            lab = cv2.cvtColor(img, cv2.COLOR_BGR2Lab)
            lab[..., 1] = target_lab[1]
            lab[..., 2] = target_lab[2]
            layer = cv2.cvtColor(lab, cv2.COLOR_Lab2BGR)
            return np.floor((1 - alpha)[..., None] * img + alpha[..., None] * layer + 0.5).astype(
                np.uint8
            )

        cover = float((alpha > 0).mean())
        cases.append(
            Case(
                name=f"recolor-{label}",
                group="recolor",
                description=f"1080p BGR, Lab to {color}, alpha {label} ({100 * cover:.0f}% of pixels > 0)",
                facecore=facecore,
                baseline=("cv2.cvtColor Lab (8-bit) + a/b set + back + NumPy blend", baseline),
                # OpenCV's 8-bit Lab quantises L, a and b to integers (and uses its own
                # fixed-point tables); facecore does the float maths. Some pixels differ by
                # a few grey levels; on average they must agree to under one.
                check=check_mean(1.0, "8-bit Lab quantisation in the baseline"),
                target=4.0 if label == "dense" else 3.0,
                target_1t=3.0,
                floor_bytes=img.nbytes * 2 + alpha.nbytes,  # image in, alpha in, image out
                notes=[
                    "facecore copies blocks whose alpha is all 0; the baseline converts "
                    "the whole frame, as a user would"
                ]
                if label == "hair"
                else [],
            )
        )
    # the hair-dye transfer (recolor's default mode): facecore vs the same formula written
    # with NumPy in float32 (Oklab has no cv2.cvtColor code): stats, detail gain, chroma,
    # grey-of-same-luminance gamut mapping
    m1 = np.float32(
        [
            [0.4122214708, 0.5363325363, 0.0514459929],
            [0.2119034982, 0.6806995451, 0.1073969566],
            [0.0883024619, 0.2817188376, 0.6299787005],
        ]
    )
    m2 = np.float32(
        [
            [0.2104542553, 0.7936177850, -0.0040720468],
            [1.9779984951, -2.4285922050, 0.4505937099],
            [0.0259040371, 0.7827717662, -0.8086757660],
        ]
    )
    m2i, m1i = np.linalg.inv(m2).astype(np.float32), np.linalg.inv(m1).astype(np.float32)
    lum = np.float32([0.212671, 0.715160, 0.072169])

    def to_linear(u8: np.ndarray) -> np.ndarray:
        c = u8.astype(np.float32) / 255
        return np.where(c <= 0.04045, c / 12.92, ((c + 0.055) / 1.055) ** 2.4).astype(np.float32)

    def oklab(rgb: np.ndarray) -> np.ndarray:
        return 100 * (np.cbrt(np.clip(rgb @ m1.T, 1e-7, 8)) @ m2.T)

    t_lab = oklab(to_linear(np.uint8([[[0, 0, 255]]])))[0, 0]  # blue, RGB order

    def user_transfer(alpha: np.ndarray = hair) -> np.ndarray:
        lab = oklab(to_linear(img[..., ::-1]))
        L = lab[..., 0]
        a4 = alpha[::4, ::4]
        w = np.where(a4 >= 0.5, a4, 0)
        mu = float((w * L[::4, ::4]).sum() / w.sum())
        k = np.clip((t_lab[0] + 10) / (mu + 10), 0.4, 2.5)
        Ln = np.clip(t_lab[0] + k * (L - mu), 0, 100)
        c = np.clip(Ln / max(t_lab[0], 1), 0, 1.25)
        out = np.stack([Ln, t_lab[1] * c, t_lab[2] * c], -1).astype(np.float32)
        rgb = ((out / 100) @ m2i.T) ** 3 @ m1i.T
        Yc = np.clip(rgb @ lum, 0, 1)[..., None]
        with np.errstate(divide="ignore", invalid="ignore"):
            t = np.where(rgb > 1, (1 - Yc) / (rgb - Yc), np.where(rgb < 0, Yc / (Yc - rgb), 1))
        rgb = np.clip(
            Yc + np.clip(np.nan_to_num(t.min(-1, keepdims=True)), 0, 1) * (rgb - Yc), 0, 1
        )
        srgb = np.where(rgb <= 0.0031308, 12.92 * rgb, 1.055 * rgb ** (1 / 2.4) - 0.055)
        layer = srgb[..., ::-1] * 255
        return np.floor((1 - alpha)[..., None] * img + alpha[..., None] * layer + 0.5).astype(
            np.uint8
        )

    cases.append(
        Case(
            name="recolor-transfer-hair",
            group="recolor",
            description="1080p BGR, colour transfer to blue (hair stats, detail gain, gamut map), alpha hair",
            facecore=lambda: K.recolor(img, hair, "#0000ff", mode="transfer", strength=1.0),
            baseline=("the same Oklab transfer in NumPy float32 + blend", user_transfer),
            check=check_mean(1.0, "float32 vs facecore's float maths: rounding only"),
            target=3.0,
        )
    )
    return cases


def case_blend(rng: np.random.Generator, frame: np.ndarray, quick: bool) -> list[Case]:
    base = frame
    effect = np.ascontiguousarray(frame[::-1, ::-1])
    alpha = smooth_field(rng, base.shape[:2])

    def facecore() -> np.ndarray:
        return K.blend(base, effect, alpha)

    def baseline() -> np.ndarray:
        return np.floor((1 - alpha)[..., None] * base + alpha[..., None] * effect + 0.5).astype(
            np.uint8
        )

    return [
        Case(
            name="blend",
            group="blend",
            description="1080p BGR blend (1-a)*base + a*effect, rounded half up",
            facecore=facecore,
            baseline=("NumPy float32 expression", baseline),
            check=check_max(0, "documented as exactly the NumPy float32 expression"),
            target=None,
            floor_target=0.5,
            floor_bytes=3 * base.nbytes + alpha.nbytes,
        )
    ]


BUILDERS = {
    "warp": case_warp,
    "windows": case_windows,
    "refine": case_refine,
    "recolor": case_recolor,
    "blend": case_blend,
}


# ---------------------------------------------------------------------------- runner


def set_threads(n: int | None, cv2_default: int) -> tuple[int, int]:
    """``None``: both libraries' defaults; else ``n`` threads for both."""
    fc.set_num_threads(0 if n is None else n)
    cv2.setNumThreads(cv2_default if n is None else n)
    return fc.num_threads(), cv2.getNumThreads()


def run_case(
    case: Case,
    threads: int | None,
    cv2_default: int,
    repeat: int,
    warmup: int,
    bandwidth: dict[int, float],
) -> dict[str, Any]:
    fc_threads, cv_threads = set_threads(threads, cv2_default)
    row: dict[str, Any] = {
        "case": case.name,
        "group": case.group,
        "description": case.description,
        "threads": {"facecore": fc_threads, "opencv": cv_threads, "numpy": 1},
        "baseline_name": case.baseline[0],
        "setting": "default" if threads is None else "one",
        "target": case.target if threads is None else case.target_1t,
        "floor_target": case.floor_target if threads is None else None,
        "notes": case.notes,
    }
    # ---- correctness first: the exact callables that will be timed
    checks: dict[str, Any] = {}
    if case.pre_check is not None:
        checks["pre_check"] = case.pre_check()
    ours = case.facecore()
    checks["baseline"] = case.check(ours, case.baseline[1]())
    for vname, vfn in case.variants.items():
        checks[vname] = case.check(ours, vfn())
    del ours
    row["check"] = checks
    row["check_ok"] = all(c["ok"] for c in checks.values())
    if not row["check_ok"]:
        return row  # a baseline that computes something else is worse than none: no timing
    # ---- timing, facecore / baseline / variants interleaved
    fns = {"facecore": case.facecore, "baseline": case.baseline[1], **case.variants}
    stats = common.compare(fns, repeat=repeat, warmup=warmup, budget_s=case.budget_s)
    row["facecore"] = stats.pop("facecore")
    row["baseline"] = stats.pop("baseline")
    row["ratio"] = row["baseline"]["median_ms"] / row["facecore"]["median_ms"]
    row["met"] = None if row["target"] is None else bool(row["ratio"] >= row["target"])
    row["variants"] = [
        {"name": k, **v, "ratio": v["median_ms"] / row["facecore"]["median_ms"]}
        for k, v in stats.items()
    ]
    if case.floor_bytes:
        # The best copy rate at most as many threads as facecore used: a load burst during
        # the N-thread copy must not lower the floor and flatter the kernels.
        gbs = max(v for n, v in bandwidth.items() if n <= max(fc_threads, min(bandwidth)))
        floor_ms = case.floor_bytes / (gbs * 1e9) * 1e3
        row["bandwidth_floor"] = {
            "bytes": case.floor_bytes,
            "copy_gb_per_s": gbs,
            "floor_ms": floor_ms,
            "facecore_fraction": floor_ms / row["facecore"]["median_ms"],
            "baseline_fraction": floor_ms / row["baseline"]["median_ms"],
            "facecore_gb_per_s": case.floor_bytes / (row["facecore"]["median_ms"] * 1e6),
        }
        if row["floor_target"] is not None:
            row["floor_met"] = bool(floor_ms / row["facecore"]["median_ms"] >= row["floor_target"])
    return row


def print_row(row: dict[str, Any]) -> None:
    t = row["threads"]
    thr = f"{t['facecore']}/{t['opencv']}"
    if not row["check_ok"]:
        bad = "; ".join(
            f"{k}: {v.get('summary', '')}" for k, v in row["check"].items() if not v["ok"]
        )
        print(f"{row['case']:<15} {thr:>5}  CHECK FAILED, not timed: {bad}")
        return
    tgt = "-" if row["target"] is None else f">={row['target']:g}x"
    met = "-" if row["met"] is None else ("yes" if row["met"] else "NO")
    print(
        f"{row['case']:<15} {thr:>5} {common.format_ms(row['facecore']):>16} "
        f"{common.format_ms(row['baseline']):>18} {row['ratio']:>7.2f}x {tgt:>7} {met:>4}  "
        f"{row['check']['baseline']['summary']}"
    )
    for v in row["variants"]:
        # Informational rows: the ratio is still this row's time / facecore's main time.
        print(
            f"{'':<15} {'':>5} {'':>16} {common.format_ms(v):>18} {v['ratio']:>7.2f}x {'':>7} {'':>4}  "
            f"{v['name']}"
        )
    if "bandwidth_floor" in row:
        b = row["bandwidth_floor"]
        ft = row.get("floor_target")
        goal = (
            ""
            if ft is None
            else f" (target {100 * ft:.0f}%: {'met' if row['floor_met'] else 'NOT met'})"
        )
        print(
            f"{'':<21} floor {b['floor_ms']:.2f} ms ({b['bytes'] / 1e6:.1f} MB moved at copy {b['copy_gb_per_s']:.1f} GB/s): "
            f"facecore reaches {100 * b['facecore_fraction']:.0f}%{goal}, baseline {100 * b['baseline_fraction']:.0f}%"
        )


def print_summary(results: list[dict[str, Any]]) -> None:
    """Per kernel: bytes moved, copy floor, fraction reached and ratio, at 2 and 1 thread."""
    by_case: dict[str, dict[str, dict[str, Any]]] = {}
    for r in results:
        if r["check_ok"]:
            by_case.setdefault(r["case"], {})[r["setting"]] = r
    print()
    print("summary (fraction = copy floor / facecore time; ratio = baseline / facecore)")
    print(
        f"{'case':<22} {'MB moved':>8} {'floor ms':>8} {'frac N':>7} {'frac 1':>7} "
        f"{'ratio N':>8} {'ratio 1':>8}  targets"
    )
    for name, rows in by_case.items():
        rn, r1 = rows.get("default"), rows.get("one")
        any_row = rn or r1
        b = any_row.get("bandwidth_floor") if any_row else None

        def frac(r: dict[str, Any] | None) -> str:
            return (
                f"{100 * r['bandwidth_floor']['facecore_fraction']:.0f}%"
                if r and "bandwidth_floor" in r
                else "-"
            )

        def ratio(r: dict[str, Any] | None) -> str:
            return f"{r['ratio']:.2f}x" if r else "-"

        goals = []
        if rn and rn["target"] is not None:
            goals.append(f">={rn['target']:g}x N thr {'met' if rn['met'] else 'NOT met'}")
        if r1 and r1["target"] is not None:
            goals.append(f">={r1['target']:g}x 1 thr {'met' if r1['met'] else 'NOT met'}")
        if rn and rn.get("floor_target") is not None:
            goals.append(
                f">={100 * rn['floor_target']:.0f}% floor {'met' if rn['floor_met'] else 'NOT met'}"
            )
        print(
            f"{name:<22} {(b['bytes'] / 1e6 if b else float('nan')):>8.1f} "
            f"{(b['floor_ms'] if b else float('nan')):>8.2f} {frac(rn):>7} {frac(r1):>7} "
            f"{ratio(rn):>8} {ratio(r1):>8}  {'; '.join(goals)}"
        )


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument(
        "--quick", action="store_true", help="small sizes, few repeats (CI: < 60 s on 2 cores)"
    )
    ap.add_argument("--json", metavar="PATH", help="write metadata and results as JSON")
    ap.add_argument(
        "--repeat", type=int, default=None, help="timed repeats per side (default 20, quick 5)"
    )
    ap.add_argument(
        "--warmup", type=int, default=None, help="untimed calls first (default 3, quick 1)"
    )
    ap.add_argument(
        "--cases", default=",".join(BUILDERS), help=f"comma-separated, from {','.join(BUILDERS)}"
    )
    ap.add_argument("--seed", type=int, default=0)
    args = ap.parse_args(argv)

    groups = [g.strip() for g in args.cases.split(",") if g.strip()]
    unknown = [g for g in groups if g not in BUILDERS]
    if unknown:
        ap.error(f"--cases: unknown {unknown}; choose from {list(BUILDERS)}")
    repeat = args.repeat or (5 if args.quick else 20)
    warmup = args.warmup if args.warmup is not None else (1 if args.quick else 3)
    cv2_default = cv2.getNumThreads()
    fc_default = fc.num_threads()

    meta = common.run_metadata()
    rng = np.random.default_rng(args.seed)
    frame, source = load_frame(rng)
    meta.update(
        {
            "suite": "kernels",
            "quick": args.quick,
            "repeat": repeat,
            "warmup": warmup,
            "seed": args.seed,
            "frame_source": source,
        }
    )
    # Copy bandwidth at each thread count the kernels will run with, for the floors.
    bw_counts = sorted({1, fc_default})
    bw = {
        n: common.memcpy_bandwidth(64 << 20 if args.quick else 256 << 20, threads=n)
        for n in bw_counts
    }
    meta["memcpy_bandwidth"] = {str(n): {k: v for k, v in b.items()} for n, b in bw.items()}
    bandwidth = {n: b["gb_per_s"] for n, b in bw.items()}

    print(common.format_header(meta))
    print(
        f"frame: {source} at 1920x1080; repeats {repeat} after {warmup} warm-up; "
        + ", ".join(f"copy {b['gb_per_s']:.1f} GB/s on {n} thread(s)" for n, b in bw.items())
    )
    print()
    print(
        f"{'case':<15} {'thr':>5} {'facecore ms':>16} {'baseline ms':>18} {'ratio':>8} {'target':>7} {'met':>4}  check"
    )
    print(f"{'':<15} {'fc/cv':>5} {'median ± IQR':>16} {'median ± IQR':>18} {'base/fc':>8}")

    results: list[dict[str, Any]] = []
    foreign = common.ForeignLoad().start()
    try:
        for g in groups:
            for case in BUILDERS[g](rng, frame, args.quick):
                for threads in (None, 1):
                    row = run_case(case, threads, cv2_default, repeat, warmup, bandwidth)
                    print_row(row)
                    sys.stdout.flush()
                    results.append(row)
    finally:
        set_threads(None, cv2_default)
    meta["load_average_end"] = common.load_average()
    meta["foreign_load"] = foreign.stop()

    print()
    fl = meta["foreign_load"]
    quiet = (
        "unknown"
        if fl["foreign_cpu_s"] is None
        else f"{fl['foreign_cpu_s']:.1f} CPU-s in {fl['wall_s']:.0f} s ({100 * fl['foreign_fraction']:.1f}% of the machine)"
    )
    print(
        f"load average at start {meta['load_average_start']}, at end {meta['load_average_end']}; "
        f"other processes used {quiet}"
    )
    print_summary(results)
    for r in {r["case"]: r for r in results}.values():
        for note in r["notes"]:
            print(f"note ({r['case']}): {note}")
    if args.json:
        path = common.save_json(args.json, meta, results)
        print(f"wrote {path}")
    failed = [f"{r['case']} ({r['threads']['facecore']} thr)" for r in results if not r["check_ok"]]
    if failed:
        print(f"EQUALITY CHECK FAILED: {', '.join(failed)}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
