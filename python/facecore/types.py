"""Result types: small frozen, slotted dataclasses with ``to_dict()`` for JSON.

Coordinates are image pixels, points are ``(x, y)``, angles are degrees. Arrays held by
these objects are read-only copies, so a result can be shared between threads and never
changes under its user. Use :func:`dataclasses.replace` to derive a modified copy.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass, field, fields, replace
from types import MappingProxyType
from typing import Any

import numpy as np

__all__ = [
    "EXPRESSIONS",
    "LANDMARK_NAMES",
    "Attributes",
    "Box",
    "Expression",
    "Face",
    "Landmarks",
    "Pose",
    "Quality",
    "Verification",
]

#: Order of the five landmarks, "right" meaning the subject's right (image left).
LANDMARK_NAMES = ("right_eye", "left_eye", "nose_tip", "right_mouth", "left_mouth")


def _readonly(a: Any, dtype, shape: tuple[int | None, ...], name: str) -> np.ndarray:
    arr = np.array(a, dtype=dtype, copy=True)
    if arr.ndim != len(shape) or any(s is not None and s != d for s, d in zip(shape, arr.shape)):
        raise ValueError(f"{name}: expected shape {shape}; got {arr.shape}")
    if not np.all(np.isfinite(arr)):
        raise ValueError(f"{name}: values must be finite")
    arr.flags.writeable = False
    return arr


def _finite(value: Any, name: str) -> float:
    try:
        v = float(value)
    except (TypeError, ValueError):
        raise TypeError(f"{name}: expected a real number; got {type(value).__name__}") from None
    if not math.isfinite(v):
        raise ValueError(f"{name}: expected a finite number; got {v}")
    return v


def _round(v: float, nd: int = 4) -> float:
    return float(round(float(v), nd))


@dataclass(frozen=True, slots=True)
class Box:
    """Axis-aligned box in pixels: top-left corner ``(x, y)``, ``width``, ``height``.

    Examples
    --------
    >>> b = Box(10, 20, 30, 40)
    >>> b.x2, b.y2, b.center, b.area
    (40.0, 60.0, (25.0, 40.0), 1200.0)
    """

    x: float
    y: float
    width: float
    height: float

    def __post_init__(self) -> None:
        for f in ("x", "y", "width", "height"):
            object.__setattr__(self, f, _finite(getattr(self, f), f))
        if self.width < 0 or self.height < 0:
            raise ValueError(f"width, height: must be >= 0; got {self.width}, {self.height}")

    @property
    def x2(self) -> float:
        """Right edge ``x + width``."""
        return self.x + self.width

    @property
    def y2(self) -> float:
        """Bottom edge ``y + height``."""
        return self.y + self.height

    @property
    def center(self) -> tuple[float, float]:
        """Centre ``(x, y)``."""
        return (self.x + self.width / 2, self.y + self.height / 2)

    @property
    def area(self) -> float:
        return self.width * self.height

    @property
    def xyxy(self) -> tuple[float, float, float, float]:
        """``(x1, y1, x2, y2)``."""
        return (self.x, self.y, self.x2, self.y2)

    @property
    def xywh(self) -> tuple[float, float, float, float]:
        return (self.x, self.y, self.width, self.height)

    def __iter__(self):
        """Unpacks as the corners ``x1, y1, x2, y2`` (as InsightFace's ``face.bbox``), the
        form drawing and cropping take: ``x1, y1, x2, y2 = face.box``. The constructor and
        :attr:`xywh` stay ``(x, y, width, height)``.

        Examples
        --------
        >>> x1, y1, x2, y2 = Box(10, 20, 30, 40)
        >>> (x1, y1, x2, y2)
        (10.0, 20.0, 40.0, 60.0)
        """
        return iter(self.xyxy)

    def __len__(self) -> int:
        return 4

    def __array__(self, dtype=None, copy=None):
        """``np.asarray(box)``: the corners ``[x1, y1, x2, y2]`` (float64)."""
        return np.asarray(self.xyxy, dtype=dtype if dtype is not None else np.float64)

    def iou(self, other: Box) -> float:
        """Intersection over union with ``other`` (0 when both are empty)."""
        if not isinstance(other, Box):
            raise TypeError(f"other: expected Box; got {type(other).__name__}")
        iw = max(0.0, min(self.x2, other.x2) - max(self.x, other.x))
        ih = max(0.0, min(self.y2, other.y2) - max(self.y, other.y))
        inter = iw * ih
        union = self.area + other.area - inter
        return inter / union if union > 0 else 0.0

    def to_dict(self) -> dict[str, float]:
        return {
            "x": _round(self.x, 2),
            "y": _round(self.y, 2),
            "width": _round(self.width, 2),
            "height": _round(self.height, 2),
        }


@dataclass(frozen=True, slots=True)
class Landmarks:
    """Five facial landmarks, a read-only ``(5, 2)`` float64 array of ``(x, y)``.

    Order: right eye, left eye, nose tip, right and left mouth corner (subject's right
    = image left), as YuNet and the ArcFace template have them.
    """

    points: np.ndarray

    def __post_init__(self) -> None:
        object.__setattr__(self, "points", _readonly(self.points, np.float64, (5, 2), "points"))

    def __array__(self, dtype=None, copy=None):
        return self.points if dtype is None else self.points.astype(dtype)

    def __getitem__(self, key):
        return self.points[key]

    def __len__(self) -> int:
        return 5

    def __eq__(self, other: object) -> bool:
        return isinstance(other, Landmarks) and np.array_equal(self.points, other.points)

    def __hash__(self) -> int:
        return hash(self.points.tobytes())

    @property
    def right_eye(self) -> tuple[float, float]:
        x, y = self.points[0]
        return float(x), float(y)

    @property
    def left_eye(self) -> tuple[float, float]:
        x, y = self.points[1]
        return float(x), float(y)

    @property
    def nose_tip(self) -> tuple[float, float]:
        x, y = self.points[2]
        return float(x), float(y)

    @property
    def eye_distance(self) -> float:
        """Distance between the two eye centres in pixels."""
        return float(np.hypot(*(self.points[1] - self.points[0])))

    def to_dict(self) -> dict[str, list[float]]:
        return {n: [_round(v, 2) for v in p] for n, p in zip(LANDMARK_NAMES, self.points)}


@dataclass(frozen=True, slots=True)
class Pose:
    """Head pose in degrees.

    Signs: ``yaw > 0`` the face turns toward the image's right side (the subject's
    left); ``pitch > 0`` the chin goes up; ``roll > 0`` the head tilts clockwise as seen
    in the image.
    """

    pitch: float
    yaw: float
    roll: float

    def __post_init__(self) -> None:
        for f in ("pitch", "yaw", "roll"):
            object.__setattr__(self, f, _finite(getattr(self, f), f))

    @property
    def frontalness(self) -> float:
        """Cosine of the angle between the face normal and the line of sight, in [0, 1]."""
        c = math.cos(math.radians(self.yaw)) * math.cos(math.radians(self.pitch))
        return max(0.0, min(1.0, c))

    def to_dict(self) -> dict[str, float]:
        return {
            "pitch": _round(self.pitch, 2),
            "yaw": _round(self.yaw, 2),
            "roll": _round(self.roll, 2),
        }


@dataclass(frozen=True, slots=True)
class Quality:
    """Face quality for recognition; every field but ``blur`` and ``size`` is in [0, 1].

    Attributes
    ----------
    blur : float
        Variance of the Laplacian of the grey 112x112 aligned crop (higher is sharper).
    size : float
        Inter-ocular distance in pixels of the source image.
    brightness : float
        Mean grey level of the aligned crop / 255.
    contrast : float
        Standard deviation of the grey level of the aligned crop / 255.
    frontalness : float
        ``cos(yaw) * cos(pitch)``; 1 for a frontal face.
    score : float
        Combined score in [0, 1] (see :func:`facecore.quality.assess`).
    """

    blur: float
    size: float
    brightness: float
    contrast: float
    frontalness: float
    score: float

    def __post_init__(self) -> None:
        for f in fields(self):
            object.__setattr__(self, f.name, _finite(getattr(self, f.name), f.name))

    def to_dict(self) -> dict[str, float]:
        return {f.name: _round(getattr(self, f.name)) for f in fields(self)}


#: The expression classes, in the order of :attr:`Expression.probabilities`.
EXPRESSIONS = ("angry", "disgust", "fear", "happy", "sad", "surprise", "neutral")


@dataclass(frozen=True, slots=True)
class Expression:
    """A face's expression: the most probable class and the 7 calibrated probabilities.

    Attributes
    ----------
    probabilities : (7,) float32 read-only ndarray
        In :data:`EXPRESSIONS` order, summing to 1.

    Examples
    --------
    >>> e = Expression([0.05, 0.0, 0.05, 0.7, 0.05, 0.05, 0.1])
    >>> e.label, round(e.confidence, 2)
    ('happy', 0.7)
    """

    probabilities: np.ndarray = field(compare=False)

    def __post_init__(self) -> None:
        p = _readonly(self.probabilities, np.float32, (len(EXPRESSIONS),), "probabilities")
        if p.min() < 0 or abs(float(p.sum()) - 1.0) > 1e-3:
            raise ValueError(
                f"probabilities: expected {len(EXPRESSIONS)} non-negative values summing to 1; got sum {float(p.sum())}"
            )
        object.__setattr__(self, "probabilities", p)

    @property
    def label(self) -> str:
        """The most probable class (ties: the first in :data:`EXPRESSIONS`)."""
        return EXPRESSIONS[int(np.argmax(self.probabilities))]

    @property
    def confidence(self) -> float:
        """The probability of :attr:`label`."""
        return float(self.probabilities.max())

    def to_dict(self) -> dict[str, Any]:
        return {
            "label": self.label,
            "probabilities": {c: _round(float(v)) for c, v in zip(EXPRESSIONS, self.probabilities)},
        }


@dataclass(frozen=True, slots=True)
class Attributes:
    """What a face wears or hides, with probabilities (see :mod:`facecore.attributes`).

    Attributes
    ----------
    glasses, sunglasses, hat, mask, blur : float
        Probabilities in [0, 1] (``glasses``: eyewear that is not sunglasses).
    occlusion : mapping of str to float
        P(hidden) of ``"eyes"``, ``"nose"`` and ``"mouth"``.
    label : str
        The most probable of Normal / Glasses / Sunglasses / Mask / Occlusion / Blur.
    probabilities : mapping of str to float
        The six labels' probabilities (they sum to 1).
    """

    glasses: float
    sunglasses: float
    hat: float
    mask: float
    occlusion: Mapping[str, float]
    blur: float
    label: str
    probabilities: Mapping[str, float]

    def __post_init__(self) -> None:
        for n in ("glasses", "sunglasses", "hat", "mask", "blur"):
            v = _finite(getattr(self, n), n)
            if not 0.0 <= v <= 1.0:
                raise ValueError(f"{n}: expected a probability in [0, 1]; got {v}")
            object.__setattr__(self, n, v)
        for n in ("occlusion", "probabilities"):
            d = getattr(self, n)
            if not isinstance(d, Mapping):
                raise TypeError(f"{n}: expected a mapping of str to float; got {type(d).__name__}")
            object.__setattr__(
                self, n, MappingProxyType({str(k): _finite(v, f"{n}[{k!r}]") for k, v in d.items()})
            )
        if not isinstance(self.label, str):
            raise TypeError(f"label: expected str; got {type(self.label).__name__}")

    def to_dict(self) -> dict[str, Any]:
        return {
            "label": self.label,
            "glasses": _round(self.glasses),
            "sunglasses": _round(self.sunglasses),
            "hat": _round(self.hat),
            "mask": _round(self.mask),
            "blur": _round(self.blur),
            "occlusion": {k: _round(v) for k, v in self.occlusion.items()},
            "probabilities": {k: _round(v) for k, v in self.probabilities.items()},
        }


@dataclass(frozen=True, slots=True)
class Face:
    """One detected face and what was read from it.

    Attributes
    ----------
    box : Box
    landmarks : Landmarks
    score : float
        Detector confidence in [0, 1].
    age : float or None
        Expected age in years (the mean of the age model's distribution: 0..120 years for
        the default ``agegender``, 0..80 for dlib's ``age``).
    p_male : float or None
        Probability that the face is male.
    pose : Pose or None
    quality : Quality or None
    embedding : (128,) float32 read-only ndarray or None
        L2-normalised identity embedding.
    expression : Expression or None
        With ``FaceAnalyzer(expression=True)``.
    parsing : facecore.parsing.FaceParsing or None
        The face's 19-class parse in its aligned crop (``FaceAnalyzer(parsing=True)``).
    attributes : Attributes or None
        Glasses, sunglasses, hat, mask, occlusion, blur and the single label
        (``FaceAnalyzer(attributes=True)``).
    embedding_masked : (128,) float32 read-only ndarray or None
        L2-normalised mask-robust embedding (facecore's ``sface_mask``, comparable with
        ``embedding`` of an unmasked face); :func:`facecore.verify` uses it for a face that
        wears a mask. Not in :meth:`to_dict`.
    """

    box: Box
    landmarks: Landmarks
    score: float
    age: float | None = None
    p_male: float | None = None
    pose: Pose | None = None
    quality: Quality | None = None
    embedding: np.ndarray | None = field(default=None, compare=False)
    expression: Expression | None = None
    parsing: Any = field(default=None, compare=False, repr=False)
    attributes: Attributes | None = None
    embedding_masked: np.ndarray | None = field(default=None, compare=False, repr=False)

    def __post_init__(self) -> None:
        if self.attributes is not None and not isinstance(self.attributes, Attributes):
            raise TypeError(
                f"attributes: expected Attributes or None; got {type(self.attributes).__name__}"
            )
        if not isinstance(self.box, Box):
            raise TypeError(f"box: expected Box; got {type(self.box).__name__}")
        if not isinstance(self.landmarks, Landmarks):
            object.__setattr__(self, "landmarks", Landmarks(self.landmarks))
        object.__setattr__(self, "score", _finite(self.score, "score"))
        if self.age is not None:
            object.__setattr__(self, "age", _finite(self.age, "age"))
        if self.p_male is not None:
            p = _finite(self.p_male, "p_male")
            if not 0.0 <= p <= 1.0:
                raise ValueError(f"p_male: expected a probability in [0, 1]; got {p}")
            object.__setattr__(self, "p_male", p)
        if self.pose is not None and not isinstance(self.pose, Pose):
            raise TypeError(f"pose: expected Pose or None; got {type(self.pose).__name__}")
        if self.quality is not None and not isinstance(self.quality, Quality):
            raise TypeError(f"quality: expected Quality or None; got {type(self.quality).__name__}")
        if self.embedding is not None:
            emb = np.array(self.embedding, dtype=np.float32, copy=True)
            if emb.ndim != 1:
                raise ValueError(f"embedding: expected a 1-d vector; got shape {emb.shape}")
            emb.flags.writeable = False
            object.__setattr__(self, "embedding", emb)
        if self.embedding_masked is not None:
            emb = np.array(self.embedding_masked, dtype=np.float32, copy=True)
            if emb.ndim != 1:
                raise ValueError(f"embedding_masked: expected a 1-d vector; got shape {emb.shape}")
            emb.flags.writeable = False
            object.__setattr__(self, "embedding_masked", emb)
        if self.expression is not None and not isinstance(self.expression, Expression):
            raise TypeError(
                f"expression: expected Expression or None; got {type(self.expression).__name__}"
            )

    @property
    def gender(self) -> str | None:
        """``"male"`` or ``"female"`` (the larger probability; ties go to female)."""
        if self.p_male is None:
            return None
        return "male" if self.p_male > 0.5 else "female"

    def with_(self, **changes: Any) -> Face:
        """A copy with some fields replaced (``dataclasses.replace``)."""
        return replace(self, **changes)

    def to_dict(self, *, embedding: bool = True) -> dict[str, Any]:
        """JSON-ready dict; ``embedding=False`` leaves the vector out."""
        d: dict[str, Any] = {
            "box": self.box.to_dict(),
            "landmarks": self.landmarks.to_dict(),
            "score": _round(self.score),
        }
        if self.age is not None:
            d["age"] = _round(self.age, 2)
        if self.p_male is not None:
            d["gender"] = self.gender
            d["p_male"] = _round(self.p_male)
        # null where the pose stage ran into points no pose fits (tiny faces) or was off
        d["pose"] = self.pose.to_dict() if self.pose is not None else None
        if self.quality is not None:
            d["quality"] = self.quality.to_dict()
        if self.expression is not None:
            d["expression"] = self.expression.to_dict()
        if self.attributes is not None:
            d["attributes"] = self.attributes.to_dict()
        if self.parsing is not None:
            d["parsing"] = self.parsing.to_dict()
        if embedding and self.embedding is not None:
            d["embedding"] = [float(round(float(v), 6)) for v in self.embedding]
        return d


@dataclass(frozen=True, slots=True)
class Verification:
    """Result of comparing two faces.

    Attributes
    ----------
    similarity : float
        Cosine similarity of the two L2-normalised embeddings, in [-1, 1].
    is_same : bool
        ``similarity >= threshold``.
    threshold : float
    pair : str or None
        The pair type the threshold was chosen for (``facecore.verify.PAIR_TYPES``), or None.
    """

    similarity: float
    is_same: bool
    threshold: float
    pair: str | None = None

    def __bool__(self) -> bool:
        return self.is_same

    def to_dict(self) -> dict[str, Any]:
        d: dict[str, Any] = {
            "similarity": _round(self.similarity),
            "is_same": bool(self.is_same),
            "threshold": _round(self.threshold),
        }
        if self.pair is not None:
            d["pair"] = self.pair
        return d
