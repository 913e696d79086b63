"""facecore's CUDA kernels: time, achieved bandwidth, and the GPU path a user would pick.

For every case: the median (and IQR) of CUDA-event timings after warm-up calls, on the
legacy default stream (where CuPy and PyTorch baselines also run by default); achieved
GB/s = (bytes read + bytes written) / median, next to a device-to-device cudaMemcpy measured
in this process (its GB/s counts the bytes read and written too); and the ratio against a
baseline where one exists: ``torch.nn.functional.grid_sample`` for the warps (with the
uint8 -> float conversion and normalisation it needs), PyTorch / CuPy expressions of the same
maths for blend and refine, ``Tensor.unfold`` for window extraction. Each baseline is checked
against facecore's result first (a misconfigured baseline is worse than none).

Byte accounting: outputs are counted once; for gathers (warps, windows) the input is counted
as the bytes of output pixels sampled (one source pixel per output pixel), not 4 neighbours:
the neighbours come through the cache. Inputs of element-wise kernels are counted once.

Usage::

    python benchmarks/bench_kernels_cuda.py [--quick] [--json PATH] [--repeat N]

Without a CUDA device it prints "no CUDA device: skipped" and exits 0 (CI runs it).
"""

from __future__ import annotations

import argparse
import sys
from functools import partial
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent))


def _skip_reason() -> str:
    import facecore

    if not facecore.cuda_available():
        from facecore.kernels import _cuda as gpu

        return gpu.unavailable_reason() or "no CUDA device"
    return ""


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--quick", action="store_true", help="small sizes, few repeats (CI)")
    ap.add_argument("--json", metavar="PATH", help="write metadata and results as JSON")
    ap.add_argument("--repeat", type=int, default=None, help="timed repeats (default 30, quick 5)")
    ap.add_argument(
        "--warmup", type=int, default=None, help="untimed calls first (default 5, quick 2)"
    )
    args = ap.parse_args(argv)
    reason = _skip_reason()
    if reason:
        print(f"no CUDA device: skipped ({reason})")
        return 0
    return _run(args)


# ---------------------------------------------------------------------------- timing
def _gpu_time(fn, repeat: int, warmup: int) -> dict:
    from facecore import _cuda

    for _ in range(warmup):
        fn()
    _cuda.stream_synchronize(0)
    start, end = _cuda.Event(), _cuda.Event()
    ms = []
    for _ in range(repeat):
        start.record(0)
        fn()
        end.record(0)
        end.synchronize()
        ms.append(start.elapsed_ms(end))
    q25, med, q75 = np.percentile(ms, [25, 50, 75])
    return {
        "median_ms": float(med),
        "iqr_ms": float(q75 - q25),
        "repeat": repeat,
        "times_ms": [round(float(t), 4) for t in ms],
    }


def _copy_bandwidth(repeat: int, nbytes: int) -> float:
    """Device-to-device cudaMemcpy GB/s (read + write), measured here."""
    from facecore import _cuda

    a, b = _cuda.DeviceMemory(nbytes), _cuda.DeviceMemory(nbytes)
    t = _gpu_time(lambda: _cuda.copy_dtod(b.ptr, a.ptr, nbytes, 0), repeat, 3)
    return 2 * nbytes / (t["median_ms"] * 1e-3) / 1e9


# ----------------------------------------------------------------------------- cases
def _torch():
    try:
        import torch

        return torch if torch.cuda.is_available() else None
    except ImportError:
        return None


def _cupy():
    try:
        import cupy

        return cupy
    except ImportError:
        return None


def _matrices(rng, n, h, w, crop):
    ang = rng.uniform(-0.4, 0.4, n)
    sc = crop / rng.uniform(0.1, 0.3, n) / max(h, w)
    cx, cy = rng.uniform(0.3, 0.7, n) * w, rng.uniform(0.3, 0.7, n) * h
    m = np.empty((n, 2, 3))
    m[:, 0, 0] = sc * np.cos(ang)
    m[:, 0, 1] = -sc * np.sin(ang)
    m[:, 1, 0] = sc * np.sin(ang)
    m[:, 1, 1] = sc * np.cos(ang)
    m[:, 0, 2] = crop / 2 - (m[:, 0, 0] * cx + m[:, 0, 1] * cy)
    m[:, 1, 2] = crop / 2 - (m[:, 1, 0] * cx + m[:, 1, 1] * cy)
    return m


def _grid_sample_baseline(torch, frame_t, m, crop, mean, std):
    """What a PyTorch user writes: float frame, normalise, affine_grid + grid_sample."""
    import torch.nn.functional as F

    h, w = frame_t.shape[:2]
    n = m.shape[0]
    full = np.concatenate([m, np.tile([[[0.0, 0.0, 1.0]]], (n, 1, 1))], axis=1)
    inv = np.linalg.inv(full)  # output pixel -> source pixel
    s_in = np.array([[2 / (w - 1), 0, -1], [0, 2 / (h - 1), -1], [0, 0, 1]])
    s_out_inv = np.array(
        [[(crop - 1) / 2, 0, (crop - 1) / 2], [0, (crop - 1) / 2, (crop - 1) / 2], [0, 0, 1]]
    )
    theta = torch.as_tensor((s_in @ inv @ s_out_inv)[:, :2], dtype=torch.float32, device="cuda")
    mean_t = torch.tensor(mean, device="cuda").view(1, 3, 1, 1)
    std_t = torch.tensor(std, device="cuda").view(1, 3, 1, 1)

    def run():
        x = frame_t.permute(2, 0, 1).unsqueeze(0).float()  # BGR uint8 HWC -> 1,3,H,W float
        x = x.flip(1)  # to RGB
        grid = F.affine_grid(theta, (n, 3, crop, crop), align_corners=True)
        y = F.grid_sample(
            x.expand(n, -1, -1, -1), grid, mode="bilinear", padding_mode="zeros", align_corners=True
        )
        return (y - mean_t) / std_t

    return run


def _run(args) -> int:
    import facecore
    from facecore import _cuda, kernels
    from facecore.kernels._cuda import DeviceArray

    quick = args.quick
    repeat = args.repeat or (5 if quick else 30)
    warmup = args.warmup or (2 if quick else 5)
    rng = np.random.default_rng(0)
    torch, cupy = _torch(), _cupy()
    props = _cuda.device_properties(0)
    copy_gbs = _copy_bandwidth(repeat, (32 if quick else 512) << 20)
    try:
        from common import format_header, run_metadata, save_json

        meta = run_metadata()
    except ImportError:  # common.py is the other benchmarks' helper; optional here
        format_header = save_json = None
        meta = {}
    meta.update(
        {
            "gpu": props["name"],
            "cuda_runtime": _cuda.runtime_version,
            "copy_gbs": round(copy_gbs, 1),
            "torch": getattr(torch, "__version__", None),
            "cupy": getattr(cupy, "__version__", None),
            "facecore": facecore.__version__,
        }
    )
    if format_header:
        print(format_header(meta))
    print(f"GPU: {props['name']}; device-to-device copy: {copy_gbs:.0f} GB/s (read + write)")
    results = []

    def record(name, size, nbytes, fc_fn, base_fn=None, base_name=None):
        t = _gpu_time(fc_fn, repeat, warmup)
        gbs = nbytes / (t["median_ms"] * 1e-3) / 1e9
        row = {
            "case": name,
            "size": size,
            "bytes": nbytes,
            "facecore": t,
            "gbs": gbs,
            "pct_of_copy": 100 * gbs / copy_gbs,
        }
        line = f"{name:<18} {size:<22} {t['median_ms']:9.3f} ms  {gbs:7.1f} GB/s ({row['pct_of_copy']:5.1f}% of copy)"
        if base_fn is not None:
            b = _gpu_time(base_fn, repeat, warmup)
            row.update(baseline=base_name, baseline_time=b, speedup=b["median_ms"] / t["median_ms"])
            line += f"  vs {base_name}: {b['median_ms']:.3f} ms (x{row['speedup']:.2f})"
        print(line)
        results.append(row)

    frames = [(1080, 1920)] if quick else [(1080, 1920), (2160, 3840)]
    crops_n = [64] if quick else [64, 256, 1024]
    mean, std = (127.5, 127.5, 127.5), (128.0, 128.0, 128.0)
    for h, w in frames:
        frame = rng.integers(0, 256, (h, w, 3), dtype=np.uint8)
        d_frame = DeviceArray.from_numpy(frame)
        for n in crops_n:
            m = _matrices(rng, n, h, w, 112)
            out_u8 = DeviceArray((n, 112, 112, 3), np.uint8)
            record(
                "warp_u8",
                f"{h}p {n}x112",
                2 * out_u8.nbytes,
                partial(kernels.warp_crops, d_frame, m, 112, out=out_u8),
            )
            out_t = DeviceArray((n, 3, 112, 112), np.float32)
            fc = partial(
                kernels.warp_crops,
                d_frame,
                m,
                112,
                tensor=True,
                mean=mean,
                std=std,
                swap_rb=True,
                out=out_t,
            )
            base = None
            if torch is not None:
                frame_t = torch.as_tensor(frame, device="cuda")
                base = _grid_sample_baseline(torch, frame_t, m, 112, mean, std)
                diff = np.abs(base().cpu().numpy() - fc().get())
                # grid_sample rounds differently and blurs no edges the same way: a sanity bound.
                if float(np.median(diff)) > 0.05:
                    print(
                        f"warp_tensor baseline disagrees (median |diff| {float(np.median(diff)):.3f}); not timed"
                    )
                    base = None
            record(
                "warp_tensor",
                f"{h}p {n}x112",
                out_u8.nbytes + out_t.nbytes,
                fc,
                base,
                "grid_sample",
            )
        # blend and recolour over the whole frame
        effect = DeviceArray.from_numpy(rng.integers(0, 256, (h, w, 3), dtype=np.uint8))
        alpha_np = rng.random((h, w), dtype=np.float32)
        alpha = DeviceArray.from_numpy(alpha_np)
        out = DeviceArray((h, w, 3), np.uint8)
        nbytes = 3 * frame.nbytes + alpha_np.nbytes
        base = None
        if torch is not None:
            tb, te = (
                torch.as_tensor(frame, device="cuda"),
                torch.as_tensor(effect.get(), device="cuda"),
            )
            ta = torch.as_tensor(alpha_np, device="cuda")[..., None]

            def base(ta=ta, tb=tb, te=te):  # bound now: timed after this loop step's setup
                return torch.floor((1 - ta) * tb + ta * te + 0.5).clamp_(0, 255).to(torch.uint8)

            kernels.blend(d_frame, effect, alpha, out=out)
            # PyTorch's kernels may fuse multiply-adds: allow its rounding to differ by a level.
            if np.abs(base().cpu().numpy().astype(np.int16) - out.get()).max() > 1:
                print("blend baseline disagrees; not timed")
                base = None
        record(
            "blend",
            f"{h}x{w}x3",
            nbytes,
            partial(kernels.blend, d_frame, effect, alpha, out=out),
            base,
            "torch expression",
        )
        for mode in ("lab", "hsv"):
            record(
                f"recolor_{mode}",
                f"{h}x{w}x3",
                2 * frame.nbytes + alpha_np.nbytes,
                partial(kernels.recolor, d_frame, alpha, "#8a2be2", mode=mode, out=out),
            )
        # refine over a full-frame map
        p_np = rng.random((h, w), dtype=np.float32)
        p = DeviceArray.from_numpy(p_np)
        rp = DeviceArray((h, w), np.float32)
        base = None
        if torch is not None:
            import torch.nn.functional as F

            torch.backends.cudnn.allow_tf32 = False  # the same float32 maths, not TF32
            k = torch.as_tensor(kernels.KERNELS["lbp3"], device="cuda").view(1, 1, 3, 3)
            tp = torch.as_tensor(p_np, device="cuda").view(1, 1, h, w)

            def base(tp=tp, k=k):  # bound now, like the blend baseline
                s = 1 - (1 - tp.clamp(0, 1)) ** 2
                return F.conv2d(F.pad(s, (1, 1, 1, 1), mode="replicate"), k).clamp_(0, 1)

            kernels.refine_map(p, out=rp)
            if not np.allclose(base().cpu().numpy()[0, 0], rp.get(), atol=1e-5):
                print("refine baseline disagrees; not timed")
                base = None
        record(
            "refine",
            f"{h}x{w}",
            2 * p_np.nbytes,
            partial(kernels.refine_map, p, out=rp),
            base,
            "torch pad+conv2d",
        )
    # windows: stride-1 extraction over a 512x512 crop, then accumulation
    side, win = (256, 35) if quick else (512, 35)
    img = rng.integers(0, 256, (side, side, 3), dtype=np.uint8)
    d_img = DeviceArray.from_numpy(img)
    batch = 1024
    out_w = DeviceArray((batch, 3, win, win), np.float32)
    gh, gw = kernels.window_grid(img.shape, win)

    def extract():
        _cuda.extract_windows_nchw_f32(
            d_img,
            win,
            win,
            1,
            1,
            0,
            batch,
            np.zeros(3, np.float32),
            np.ones(3, np.float32),
            False,
            out_w,
            0,
        )

    base = None
    if torch is not None:
        ti = torch.as_tensor(img, device="cuda").permute(2, 0, 1).float()

        def base():
            u = ti.unfold(1, win, 1).unfold(2, win, 1)  # 3, gh, gw, win, win (a view)
            return u.permute(1, 2, 0, 3, 4).reshape(-1, 3, win, win)[:batch].contiguous()

        extract()
        if not np.array_equal(base().cpu().numpy(), out_w.get()):
            print("windows baseline disagrees; not timed")
            base = None
    record(
        "extract_windows",
        f"{side}^2 w{win} b{batch}",
        2 * out_w.nbytes,
        extract,
        base,
        "torch unfold",
    )
    scores = DeviceArray.from_numpy(rng.random((gh, gw), dtype=np.float32))
    acc = DeviceArray((side, side), np.float32)
    for reduce in ("mean", "centre"):
        record(
            f"accumulate_{reduce}",
            f"{side}^2 grid {gh}x{gw}",
            4 * (gh * gw + side * side),
            partial(kernels.accumulate_windows, scores, img.shape, win, reduce=reduce, out=acc),
        )
    if args.json:
        if save_json is not None:
            save_json(args.json, meta, results)
        else:
            import json

            Path(args.json).write_text(json.dumps({"metadata": meta, "results": results}, indent=1))
    return 0


if __name__ == "__main__":
    sys.exit(main())
