"""Masked-face verification on glint24, and the mask attribute on real masked photos.

1. ``identity/glint24`` (1,827 ArcFace-aligned 112x112 crops, 24 people): every crop is
   embedded by SFace as it is ("unmasked") and with a synthetic face mask drawn on it by
   :func:`facecore.occlusion.synthesize` from the ArcFace template landmarks (crop ``i``
   gets style ``MASK_STYLES[i % 4]`` and ``seed=i``; no detection, the crops are aligned).
   Three pair types, every pair (no sampling: all genuine and all impostor pairs):

   - unmasked-unmasked: ``(U_i, U_j)``, ``i < j``;
   - masked-unmasked: ``(M_i, U_j)``, ``i != j`` (ordered pairs: each pair both ways);
   - masked-masked: ``(M_i, M_j)``, ``i < j`` (the two masks differ in shape and colour).

   For each: the threshold at FAR 1e-3 and 1e-4 (at most ``floor(FAR * impostors)``
   impostors accepted) and the TAR there, on all 24 identities, with a 95 % bootstrap
   interval over identities (the threshold held fixed). Then the split: thresholds
   calibrated per pair type at FAR 1e-3 on the 12 "dev" identities (even index of the
   sorted names, as scripts/eval_cluster.py) and applied to the 12 "test" identities.
   ``--methods`` adds embeddings to compare (``periocular[:TOP]``: the rows from TOP (56)
   down replaced by a fixed grey on both sides of any pair with a mask). "auto" rows: what
   ``facecore.verify`` does on the test identities, the pair type from ``mask_worn`` on
   each crop at P(mask) >= 0.5 / 0.7 / 0.8 and the dev thresholds of that type.
2. ``photos/masked`` (real photos, with_mask / without_mask): faces found by
   ``FaceAnalyzer`` (largest face), and :func:`facecore.occlusion.mask_worn` on it.

Usage::

    python scripts/eval_masked_verification.py [--json out.json] [--cache DIR] [--methods sface,periocular]
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import time
from pathlib import Path

import numpy as np

REPO = Path(__file__).resolve().parents[1]
PAIR_TYPES = ("unmasked-unmasked", "masked-unmasked", "masked-masked")
FARS = (1e-3, 1e-4)


def load_glint24(data: Path):
    import cv2

    root = data / "identity" / "glint24"
    names = sorted(p.name for p in root.iterdir() if p.is_dir())
    chips, y = [], []
    for k, n in enumerate(names):
        for f in sorted((root / n).glob("*.jpg"), key=lambda p: int(p.stem)):
            chips.append(cv2.imread(str(f)))
            y.append(k)
    return np.stack(chips), np.array(y), names


def mask_chips(chips: np.ndarray) -> np.ndarray:
    from facecore.align import ARCFACE_112
    from facecore.occlusion import MASK_STYLES, synthesize

    return np.stack(
        [
            synthesize(c, ARCFACE_112, style=MASK_STYLES[i % 4], seed=i)[0]
            for i, c in enumerate(chips)
        ]
    )


#: periocular variant: rows from PERIOCULAR_TOP down (ArcFace-112 pixels: just below the eyes at
#: y ~ 51.6, around the top of the synthetic masks) replaced by a fixed grey on both sides.
PERIOCULAR_TOP = 56
PERIOCULAR_FILL = (128, 128, 128)


def periocular_chips(chips: np.ndarray, *, top: int = PERIOCULAR_TOP) -> np.ndarray:
    """Copies of aligned (N, 112, 112, 3) chips with the rows from ``top`` down grey."""
    out = np.array(chips, copy=True)
    out[:, top:] = PERIOCULAR_FILL
    return out


def fixed_mask_chips(chips: np.ndarray) -> np.ndarray:
    """The template face mask (jitter 0, one grey-blue colour, no shading) drawn over every chip."""
    from facecore.align import ARCFACE_112
    from facecore.occlusion import synthesize

    return np.stack(
        [
            synthesize(c, ARCFACE_112, style="surgical_blue", seed=0, jitter=0.0, shading=0.0)[0]
            for c in chips
        ]
    )


def threshold_at(imp: np.ndarray, far: float) -> float:
    """Smallest threshold t such that accepting ``s > t`` passes at most floor(far * n) impostors."""
    imp = np.sort(imp)
    k = int(np.floor(far * imp.size))
    return float(imp[imp.size - k - 1]) if k < imp.size else float(imp[0])


def pairs(sim: np.ndarray, y: np.ndarray, ordered: bool, keep: np.ndarray | None = None):
    """(scores, genuine?, identity of the first side) over the pairs of ``sim``."""
    n = len(y)
    if ordered:
        iu = np.nonzero(~np.eye(n, dtype=bool))
    else:
        iu = np.triu_indices(n, 1)
    a, b = iu
    if keep is not None:
        m = keep[a] & keep[b]
        a, b = a[m], b[m]
    return sim[a, b], y[a] == y[b], y[a]


def bootstrap_tar(gen_ok: np.ndarray, gen_id: np.ndarray, reps: int = 1000, seed: int = 0):
    """95 % percentile interval of TAR, resampling identities (genuine pairs grouped by identity)."""
    ids = np.unique(gen_id)
    acc = np.array([gen_ok[gen_id == i].sum() for i in ids], float)
    tot = np.array([(gen_id == i).sum() for i in ids], float)
    rng = np.random.default_rng(seed)
    r = rng.integers(0, len(ids), size=(reps, len(ids)))
    t = acc[r].sum(1) / tot[r].sum(1)
    return float(np.percentile(t, 2.5)), float(np.percentile(t, 97.5))


def table(sims: dict, y: np.ndarray, keep=None) -> dict:
    out = {}
    for pt in PAIR_TYPES:
        s, same, ida = pairs(sims[pt], y, ordered=pt == "masked-unmasked", keep=keep)
        gen, imp, gid = s[same], s[~same], ida[same]
        row = {"genuine_pairs": int(gen.size), "impostor_pairs": int(imp.size)}
        for far in FARS:
            thr = threshold_at(imp, far)
            ok = gen > thr
            row[f"far_{far:g}"] = {
                "threshold": thr,
                "tar": float(ok.mean()),
                "tar_ci95": bootstrap_tar(ok, gid),
                "far_measured": float((imp > thr).mean()),
            }
        ok = gen >= 0.42
        row["at_default_0.42"] = {
            "tar": float(ok.mean()),
            "tar_ci95": bootstrap_tar(ok, gid),
            "far": float((imp >= 0.42).mean()),
        }
        out[pt] = row
    return out


def split_eval(sims: dict, y: np.ndarray) -> dict:
    """Thresholds per pair type at FAR 1e-3 on the dev identities, applied to the test identities."""
    dev = y % 2 == 0
    out = {}
    for pt in PAIR_TYPES:
        ordered = pt == "masked-unmasked"
        s, same, _ = pairs(sims[pt], y, ordered, keep=dev)
        thr = threshold_at(s[~same], 1e-3)
        s, same, ida = pairs(sims[pt], y, ordered, keep=~dev)
        gen, imp, gid = s[same], s[~same], ida[same]
        ok = gen >= thr
        row = {
            "threshold_dev": thr,
            "test_tar": float(ok.mean()),
            "test_tar_ci95": bootstrap_tar(ok, gid),
            "test_far": float((imp >= thr).mean()),
            "test_genuine": int(gen.size),
            "test_impostors": int(imp.size),
        }
        ok0 = gen >= 0.42
        row["test_at_0.42"] = {
            "tar": float(ok0.mean()),
            "tar_ci95": bootstrap_tar(ok0, gid),
            "far": float((imp >= 0.42).mean()),
        }
        row["test_oracle_far_1e-3"] = {
            "threshold": threshold_at(imp, 1e-3),
            "tar": float((gen > threshold_at(imp, 1e-3)).mean()),
        }
        out[pt] = row
    return out


_MEMO: dict = {}


def _embed(emb, key: str, chips: np.ndarray, cache: Path | None) -> np.ndarray:
    """SFace embeddings of aligned chips, remembered per key (and in the cache folder)."""
    if key in _MEMO:
        return _MEMO[key]
    f = cache / f"emb_{key.replace(':', '_')}.npy" if cache is not None else None
    if f is not None and f.is_file():
        e = np.load(f)
    else:
        e = np.concatenate([emb.embed_aligned(chips[i : i + 64]) for i in range(0, len(chips), 64)])
        if f is not None:
            np.save(f, e)
    _MEMO[key] = e
    return e


def embed_method(
    method: str, emb, chips: np.ndarray, masked: np.ndarray, cache: Path | None = None
) -> dict:
    """Similarity matrices per pair type for one embedding method."""
    if method == "sface":
        u = _embed(emb, "unmasked", chips, cache)
        m = _embed(emb, "masked", masked, cache)
        return {"unmasked-unmasked": u @ u.T, "masked-unmasked": m @ u.T, "masked-masked": m @ m.T}
    if method.startswith("periocular"):  # "periocular" or "periocular:TOP"
        top = int(method.split(":")[1]) if ":" in method else PERIOCULAR_TOP
        eu = _embed(emb, f"periocular:{top}:unmasked", periocular_chips(chips, top=top), cache)
        em = _embed(emb, f"periocular:{top}:masked", periocular_chips(masked, top=top), cache)
        if cache is not None and os.environ.get("EMBED_ONLY"):
            return {}
        u = _embed(emb, "unmasked", chips, cache)
        return {
            "unmasked-unmasked": u @ u.T,
            "masked-unmasked": em @ eu.T,
            "masked-masked": em @ em.T,
            "periocular-unmasked": eu @ eu.T,
        }
    if (
        method == "fixedmask"
    ):  # the same template mask (no jitter, one colour) drawn over both sides
        eu = _embed(emb, "fixedmask:unmasked", fixed_mask_chips(chips), cache)
        em = _embed(emb, "fixedmask:masked", fixed_mask_chips(masked), cache)
        if cache is not None and os.environ.get("EMBED_ONLY"):
            return {}
        u = _embed(emb, "unmasked", chips, cache)
        return {
            "unmasked-unmasked": u @ u.T,
            "masked-unmasked": em @ eu.T,
            "masked-masked": em @ em.T,
        }
    raise ValueError(f"--methods: unknown method {method!r}")


def auto_eval(res: dict, methods, y, flag_u, flag_m, emb, chips, masked, cache) -> dict:
    """What verify() does on the test identities: the pair type from mask_worn on each crop,
    the dev thresholds of that type, and (``periocular`` methods) the periocular embedding
    whenever a mask is detected on either side."""
    test = y % 2 == 1
    u = _embed(emb, "unmasked", chips, cache)
    m = _embed(emb, "masked", masked, cache)
    full = {"UU": u @ u.T, "MU": m @ u.T, "MM": m @ m.T}
    flags = {"U": flag_u, "M": flag_m}
    out = {}
    for method in methods:
        thr_full = {
            pt: (0.42 if pt == "unmasked-unmasked" else res["sface"]["split"][pt]["threshold_dev"])
            for pt in PAIR_TYPES
        }
        peri = None
        if method.startswith("periocular") or method == "fixedmask":
            if method == "fixedmask":
                eu, em = _MEMO["fixedmask:unmasked"], _MEMO["fixedmask:masked"]
            else:
                top = int(method.split(":")[1]) if ":" in method else PERIOCULAR_TOP
                eu, em = _MEMO[f"periocular:{top}:unmasked"], _MEMO[f"periocular:{top}:masked"]
            peri = {"UU": eu @ eu.T, "MU": em @ eu.T, "MM": em @ em.T}
            thr_peri = {pt: res[method]["split"][pt]["threshold_dev"] for pt in PAIR_TYPES[1:]}
        row = {}
        for pt, key in zip(PAIR_TYPES, ("UU", "MU", "MM")):
            ordered = key == "MU"
            n = len(y)
            a, b = np.nonzero(~np.eye(n, dtype=bool)) if ordered else np.triu_indices(n, 1)
            keep = test[a] & test[b]
            a, b = a[keep], b[keep]
            nm = flags[key[0]][a].astype(int) + flags[key[1]][b].astype(int)
            s = full[key][a, b]
            thr = np.array([thr_full[p] for p in PAIR_TYPES])[nm]
            if peri is not None:
                use = nm > 0
                s = np.where(use, peri[key][a, b], s)
                thr = np.where(
                    use,
                    np.array([0.0, thr_peri["masked-unmasked"], thr_peri["masked-masked"]])[nm],
                    thr,
                )
            ok = s >= thr
            same = y[a] == y[b]
            row[pt] = {
                "tar": float(ok[same].mean()),
                "tar_ci95": bootstrap_tar(ok[same], y[a][same]),
                "far": float(ok[~same].mean()),
                "detected_types": [int((nm == k).sum()) for k in range(3)],
            }
        out[method] = row
    return out


def eval_photos(data: Path) -> dict:
    import facecore as fc
    from facecore.analyzer import FaceAnalyzer
    from facecore.occlusion import mask_worn

    fa = FaceAnalyzer(age=False, gender=False, embedder=False, pose=False, quality=False)
    root = data / "photos" / "masked"
    out = {}
    for label in ("with_mask", "without_mask"):
        files = sorted((root / label).glob("*.jpg"), key=lambda p: int(p.stem))
        found, worn, probs = 0, 0, {}
        for f in files:
            img = fc.read_image(f)
            faces = fa.analyze(img)
            if not faces:
                probs[f.name] = None
                continue
            face = max(faces, key=lambda x: x.box.width * x.box.height)
            found += 1
            ms = mask_worn(img, face)
            worn += ms.worn
            probs[f.name] = round(ms.probability, 4)
        out[label] = {
            "photos": len(files),
            "face_found": found,
            "mask_worn": worn,
            "probability": probs,
        }
    return out


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument(
        "--data",
        default=os.environ.get("FACECORE_DATA_DIR") or str(REPO.parent / "shared" / "data"),
    )
    ap.add_argument(
        "--models",
        default=os.environ.get("FACECORE_MODEL_DIR") or str(REPO.parent / "shared" / "models"),
    )
    ap.add_argument(
        "--methods",
        default="sface,periocular",
        help="comma-separated: sface, periocular, periocular:TOP",
    )
    ap.add_argument("--cache", help="folder for the masked crops (npz), reused when present")
    ap.add_argument("--no-photos", action="store_true", help="skip photos/masked")
    ap.add_argument("--only-photos", action="store_true", help="photos/masked only")
    ap.add_argument(
        "--embed-only",
        action="store_true",
        help="compute and cache the embeddings of --methods, then stop",
    )
    ap.add_argument("--json", help="write the figures here")
    args = ap.parse_args(argv)
    data, models = Path(args.data), Path(args.models)
    if not data.is_dir() or not models.is_dir():
        print(f"needs the data ({data}) and models ({models}) folders", file=sys.stderr)
        return 2
    os.environ["FACECORE_MODEL_DIR"] = str(models)
    import facecore as fc

    t0 = time.perf_counter()
    if args.only_photos:
        res = {"photos_masked": eval_photos(data)}
        for k, v in res["photos_masked"].items():
            print(
                f"photos/masked/{k}: {v['photos']} photos, face found {v['face_found']}, mask_worn {v['mask_worn']}"
            )
        if args.json:
            Path(args.json).write_text(json.dumps(res, indent=1) + "\n")
        return 0
    if args.embed_only:
        os.environ["EMBED_ONLY"] = "1"
    chips, y, names = load_glint24(data)
    cache = Path(args.cache) / "glint24_masked.npz" if args.cache else None
    if cache is not None and cache.is_file():
        masked = np.load(cache)["masked"]
    else:
        masked = mask_chips(chips)
        if cache is not None:
            cache.parent.mkdir(parents=True, exist_ok=True)
            np.savez_compressed(cache, masked=masked)
    print(
        f"glint24: {len(y)} crops, {len(names)} identities, masks drawn ({time.perf_counter() - t0:.0f} s)",
        flush=True,
    )
    emb = fc.models.load("sface", kind="embedder")
    from facecore.align import ARCFACE_112
    from facecore.occlusion import mask_worn

    cache_dir = Path(args.cache) if args.cache else None
    if args.embed_only:
        for method in args.methods.split(","):
            embed_method(method, emb, chips, masked, cache_dir)
        print(f"embedded {args.methods} ({time.perf_counter() - t0:.0f} s)")
        return 0
    flags_f = cache_dir / "mask_worn_prob.npz" if cache_dir is not None else None
    if flags_f is not None and flags_f.is_file():
        fl = np.load(flags_f)
        prob_u, prob_m = fl["u"], fl["m"]
    else:
        prob_u = np.array([mask_worn(c, ARCFACE_112).probability for c in chips])
        prob_m = np.array([mask_worn(c, ARCFACE_112).probability for c in masked])
        if flags_f is not None:
            np.savez(flags_f, u=prob_u, m=prob_m)
    from facecore.verify import MASK_PROBABILITY

    res: dict = {
        "machine": {"cpus": os.cpu_count(), "load_avg_1min": os.getloadavg()[0]},
        "dev_identities": [n for k, n in enumerate(names) if k % 2 == 0],
        "mask_worn_glint24": {
            "n": len(y),
            "mask_probability": MASK_PROBABILITY,
            **{
                f"{k}_flagged_at_{t}": int((p >= t).sum())
                for k, p in (("unmasked", prob_u), ("masked", prob_m))
                for t in (0.5, 0.6, 0.7, 0.8, 0.9)
            },
        },
    }
    print("mask_worn on glint24 crops:", res["mask_worn_glint24"], flush=True)
    for method in args.methods.split(","):
        t = time.perf_counter()
        sims = embed_method(method, emb, chips, masked, Path(args.cache) if args.cache else None)
        res[method] = {
            "all": table(sims, y),
            "split": split_eval(sims, y),
            "seconds": time.perf_counter() - t,
        }
        print(f"\n[{method}] ({res[method]['seconds']:.0f} s)")
        for pt, r in res[method]["all"].items():
            print(
                f"  {pt:18s} genuine {r['genuine_pairs']:7d} impostor {r['impostor_pairs']:8d}  "
                + "  ".join(
                    f"FAR {f:g}: thr {r[f'far_{f:g}']['threshold']:.4f} TAR {r[f'far_{f:g}']['tar']:.4f} "
                    f"[{r[f'far_{f:g}']['tar_ci95'][0]:.3f}, {r[f'far_{f:g}']['tar_ci95'][1]:.3f}]"
                    for f in FARS
                )
                + f"  @0.42: TAR {r['at_default_0.42']['tar']:.4f} FAR {r['at_default_0.42']['far']:.2e}"
            )
        for pt, r in res[method]["split"].items():
            print(
                f"  split {pt:18s} dev thr {r['threshold_dev']:.4f} -> test TAR {r['test_tar']:.4f} "
                f"[{r['test_tar_ci95'][0]:.3f}, {r['test_tar_ci95'][1]:.3f}] FAR {r['test_far']:.2e}; "
                f"at 0.42: TAR {r['test_at_0.42']['tar']:.4f} FAR {r['test_at_0.42']['far']:.2e}",
                flush=True,
            )
    if "sface" in res:
        res["auto"] = {}
        for t in (0.5, 0.7, 0.8):
            res["auto"][f"p_mask_{t}"] = r_t = auto_eval(
                res,
                args.methods.split(","),
                y,
                prob_u >= t,
                prob_m >= t,
                emb,
                chips,
                masked,
                cache_dir,
            )
            for k, r in r_t.items():
                print(
                    f"  auto, P(mask) >= {t} ({k}): "
                    + "; ".join(
                        f"{pt}: TAR {v['tar']:.4f} FAR {v['far']:.2e} {v['detected_types']}"
                        for pt, v in r.items()
                    ),
                    flush=True,
                )
    if not args.no_photos:
        res["photos_masked"] = p = eval_photos(data)
        for k, v in p.items():
            print(
                f"photos/masked/{k}: {v['photos']} photos, face found {v['face_found']}, mask_worn {v['mask_worn']}"
            )
    res["seconds"] = time.perf_counter() - t0
    if args.json:
        Path(args.json).write_text(json.dumps(res, indent=1) + "\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
