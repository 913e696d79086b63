"""Face parsing: per-face semantic segmentation into 19 CelebAMask-HQ classes.

Pipeline for one frame (every pixel step is a facecore kernel)::

    5 landmarks per face -> similarity onto the CelebAMask-HQ framing (PARSING_TEMPLATE)
      -> warp_crops: all faces of the frame in ONE call, straight into the normalised
         RGB NCHW tensor
      -> BiSeNet (zoo "bisenet_parsing"), batched over faces
      -> softmax: (19, S, S) probabilities per face, in crop space (FaceParsing)
      -> FaceParsing.paste / paste(): back into the frame with warp_affine(inverse=True)
         over the face's bounding region only; several faces merge by max probability

Classes (``CLASSES``): background, skin, l_brow, r_brow, l_eye, r_eye, eyeglasses, l_ear,
r_ear, earring, nose, mouth (inside), u_lip, l_lip, neck, necklace, cloth, hair, hat.
Groups (``GROUPS``) merge left/right and the lips: ``brows``, ``eyes``, ``ears``, ``lips``.

The parser's weights were trained on CelebAMask-HQ (non-commercial research only); get them
once with ``facecore models fetch bisenet_parsing``. See ``docs/models/parsing.md``.

Examples
--------
>>> import facecore as fc
>>> from facecore.parsing import FaceParser
>>> fa = fc.FaceAnalyzer(parsing=True)                       # doctest: +SKIP
>>> faces = fa.analyze(fc.read_image("group.jpg"))           # doctest: +SKIP
>>> faces[0].parsing.labels.shape                            # doctest: +SKIP
(512, 512)
>>> hair = faces[0].parsing.paste(image.shape[:2], what="hair")  # (H, W) float32  # doctest: +SKIP
"""

from __future__ import annotations

import logging
import os
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from . import kernels
from ._validate import as_image, as_int
from .models.bisenet import CLASSES

__all__ = [
    "CLASSES",
    "GROUPS",
    "PARSING_TEMPLATE",
    "FaceParser",
    "FaceParsing",
    "parsing_matrices",
    "paste",
    "recolor_lips",
]

logger = logging.getLogger(__name__)

#: Class groups (left/right merged, both lips); every class is also its own group.
GROUPS: dict[str, tuple[str, ...]] = {
    "brows": ("l_brow", "r_brow"),
    "eyes": ("l_eye", "r_eye"),
    "ears": ("l_ear", "r_ear"),
    "lips": ("u_lip", "l_lip"),
    "face": (
        "skin",
        "l_brow",
        "r_brow",
        "l_eye",
        "r_eye",
        "eyeglasses",
        "nose",
        "mouth",
        "u_lip",
        "l_lip",
    ),
}

#: Where YuNet's 5 landmarks (right eye, left eye, nose, right and left mouth corner) lie in
#: the CelebAMask-HQ crops the parser was trained on, as fractions of the crop side: the
#: median over 400 of data/parsing/celebamask (spread 0.015-0.036).
PARSING_TEMPLATE = np.array(
    [[0.3771, 0.4736], [0.6188, 0.4776], [0.4921, 0.6205], [0.3871, 0.7291], [0.5953, 0.7363]],
    np.float64,
)


def _class_indices(what: str | Sequence[str]) -> list[int]:
    names = [what] if isinstance(what, str) else list(what)
    out: list[int] = []
    for n in names:
        if not isinstance(n, str):
            raise TypeError(f"what: expected class or group names; got {type(n).__name__}")
        if n in GROUPS:
            out += [CLASSES.index(c) for c in GROUPS[n]]
        elif n in CLASSES:
            out.append(CLASSES.index(n))
        else:
            raise ValueError(
                f"what: unknown class {n!r}; classes: {list(CLASSES)}, groups: {list(GROUPS)}"
            )
    return sorted(set(out))


def parsing_matrices(landmarks: np.ndarray, shape: int = 512) -> np.ndarray:
    """Forward ``(N, 2, 3)`` matrices from the frame to parser crops (least-squares similarity).

    Parameters
    ----------
    landmarks : (N, 5, 2) or (5, 2) float ndarray
        YuNet order, ``(x, y)`` in frame pixels.
    shape : int
        Crop side.

    Returns
    -------
    (N, 2, 3) float64 ndarray
    """
    from .models import _warp

    lm = np.asarray(landmarks, np.float64)
    if lm.ndim == 2:
        lm = lm[None]
    if lm.ndim != 3 or lm.shape[1:] != (5, 2) or not np.isfinite(lm).all():
        raise ValueError(f"landmarks: expected finite (N, 5, 2) points; got shape {lm.shape}")
    s = as_int(shape, "shape", minimum=32)
    return _warp.similarity_batch(lm, PARSING_TEMPLATE * (s - 1))


def _roi(M: np.ndarray, S: int, image_shape: tuple[int, int]) -> tuple[int, int, int, int] | None:
    """Bounding box (x0, y0, x1, y1) in the frame of a crop's footprint, clipped; None if empty."""
    A = np.vstack([M, [0.0, 0.0, 1.0]])
    inv = np.linalg.inv(A)[:2]
    corners = np.array([[0, 0, 1], [S - 1, 0, 1], [0, S - 1, 1], [S - 1, S - 1, 1]], np.float64).T
    pts = inv @ corners
    H, W = image_shape
    x0 = max(int(np.floor(pts[0].min())) - 1, 0)
    y0 = max(int(np.floor(pts[1].min())) - 1, 0)
    x1 = min(int(np.ceil(pts[0].max())) + 2, W)
    y1 = min(int(np.ceil(pts[1].max())) + 2, H)
    if x1 <= x0 or y1 <= y0:
        return None
    return x0, y0, x1, y1


def _paste_channels(maps: np.ndarray, M: np.ndarray, image_shape: tuple[int, int]):
    """Crop-space float32 ``(K, S, S)`` -> frame ROI ``(y0, x0, (h, w, K))`` with the inverse warp."""
    K, S = maps.shape[0], maps.shape[1]
    r = _roi(M, S, image_shape)
    if r is None:
        return None
    x0, y0, x1, y1 = r
    Mr = M.copy()
    Mr[:, 2] += Mr[:, :2] @ np.array([x0, y0], np.float64)  # frame ROI -> crop
    out = np.empty((y1 - y0, x1 - x0, K), np.float32)
    hwc = np.ascontiguousarray(maps.transpose(1, 2, 0))
    for k0 in range(0, K, 4):  # the kernel takes 1, 3 or 4 channels
        k1 = min(k0 + 4, K)
        part = hwc[..., k0:k1]
        if part.shape[2] == 2:
            part = np.concatenate([part, np.zeros_like(part[..., :1])], axis=2)
        src = np.ascontiguousarray(part[..., 0] if part.shape[2] == 1 else part)
        res = kernels.warp_affine(src, Mr, (y1 - y0, x1 - x0), inverse=True)
        out[..., k0:k1] = res.reshape(y1 - y0, x1 - x0, -1)[..., : k1 - k0]
    return y0, x0, out


@dataclass(frozen=True, slots=True, eq=False)
class FaceParsing:
    """The parse of one face, in its aligned crop.

    Attributes
    ----------
    matrix : (2, 3) float64 ndarray
        Forward map from frame pixels to crop pixels.
    probabilities : (19, S, S) float32 read-only ndarray
        Softmax over :data:`CLASSES` per crop pixel.
    classes : tuple of str
    """

    matrix: np.ndarray
    probabilities: np.ndarray = field(repr=False)
    classes: tuple[str, ...] = CLASSES

    def __post_init__(self) -> None:
        m = np.array(self.matrix, np.float64).reshape(2, 3)
        p = np.asarray(self.probabilities)
        if (
            p.dtype != np.float32
            or p.ndim != 3
            or p.shape[0] != len(self.classes)
            or p.shape[1] != p.shape[2]
        ):
            raise ValueError(
                f"probabilities: expected float32 ({len(self.classes)}, S, S); got {p.dtype} {p.shape}"
            )
        m.flags.writeable = False
        if p.flags.writeable:
            p = p.copy()
            p.flags.writeable = False
        object.__setattr__(self, "matrix", m)
        object.__setattr__(self, "probabilities", p)

    @property
    def shape(self) -> tuple[int, int]:
        """Crop size ``(S, S)``."""
        return self.probabilities.shape[1], self.probabilities.shape[2]

    @property
    def labels(self) -> np.ndarray:
        """``(S, S)`` uint8 class index of each crop pixel (argmax)."""
        return self.probabilities.argmax(0).astype(np.uint8)

    def probability(self, what: str | Sequence[str]) -> np.ndarray:
        """``(S, S)`` float32 probability of a class, a group (``"eyes"``...) or their union (sum)."""
        idx = _class_indices(what)
        return self.probabilities[idx].sum(0, dtype=np.float32)

    def fractions(self) -> dict[str, float]:
        """Fraction of the crop's pixels labelled with each class."""
        n = np.bincount(self.labels.ravel(), minlength=len(self.classes)) / float(self.labels.size)
        return {c: float(n[i]) for i, c in enumerate(self.classes)}

    def paste(
        self, image_shape: Sequence[int], *, what: str | Sequence[str] = "labels"
    ) -> np.ndarray:
        """This face's parse in frame coordinates (inverse warp, face region only).

        Parameters
        ----------
        image_shape : (H, W) or (H, W, C)
            The frame's shape.
        what : "labels", "probabilities", a class, a group or a list of them
            ``"labels"``: ``(H, W)`` uint8 argmax (0, background, outside the crop);
            ``"probabilities"``: ``(H, W, 19)`` float32; a class/group: ``(H, W)`` float32.

        Returns
        -------
        ndarray
        """
        return paste([self], image_shape, what=what)

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready: the crop matrix and the fraction of the crop per class (no maps)."""
        return {
            "matrix": [[round(float(v), 6) for v in row] for row in self.matrix],
            "fractions": {k: round(v, 4) for k, v in self.fractions().items()},
        }


def paste(
    parsings: Sequence[FaceParsing],
    image_shape: Sequence[int],
    *,
    what: str | Sequence[str] = "labels",
) -> np.ndarray:
    """Paste the parses of several faces into one frame; overlaps keep the larger probability.

    Parameters
    ----------
    parsings : sequence of FaceParsing
    image_shape : (H, W) or (H, W, C)
    what : "labels", "probabilities", a class/group name or a list of them
        See :meth:`FaceParsing.paste`.

    Returns
    -------
    (H, W) uint8, (H, W, 19) float32 or (H, W) float32 ndarray

    Raises
    ------
    TypeError, ValueError
        If an argument has the wrong type or value.

    Examples
    --------
    >>> import numpy as np
    >>> from facecore.parsing import FaceParsing, paste
    >>> p = np.zeros((19, 64, 64), np.float32); p[1] = 1          # all skin
    >>> fp = FaceParsing(np.array([[1.0, 0, -10], [0, 1.0, -20]]), p)
    >>> lab = paste([fp], (100, 120))
    >>> int(lab[20 + 30, 10 + 30]), int(lab[5, 5])
    (1, 0)
    """
    if not isinstance(image_shape, (tuple, list)) or len(image_shape) not in (2, 3):
        raise ValueError(f"image_shape: expected (H, W) or (H, W, C); got {image_shape!r}")
    H, W = (
        as_int(image_shape[0], "image_shape[0]", minimum=1),
        as_int(image_shape[1], "image_shape[1]", minimum=1),
    )
    items = list(parsings)
    for i, p in enumerate(items):
        if not isinstance(p, FaceParsing):
            raise TypeError(f"parsings[{i}]: expected FaceParsing; got {type(p).__name__}")
    mode = what if isinstance(what, str) and what in ("labels", "probabilities") else "classes"
    idx = list(range(len(CLASSES))) if mode != "classes" else _class_indices(what)
    if mode == "classes":
        out = np.zeros((H, W), np.float32)
        for p in items:
            maps = p.probabilities[idx].sum(0, dtype=np.float32)[None]
            r = _paste_channels(maps, p.matrix, (H, W))
            if r is not None:
                y0, x0, v = r
                sub = out[y0 : y0 + v.shape[0], x0 : x0 + v.shape[1]]
                np.maximum(sub, v[..., 0], out=sub)
        return np.clip(out, 0.0, 1.0)
    probs = np.zeros((H, W, len(CLASSES)), np.float32)
    cover = np.zeros((H, W), np.float32)
    for p in items:
        r = _paste_channels(p.probabilities, p.matrix, (H, W))
        if r is not None:
            y0, x0, v = r
            sub = probs[y0 : y0 + v.shape[0], x0 : x0 + v.shape[1]]
            np.maximum(sub, v, out=sub)
            ones = _paste_channels(np.ones((1,) + p.shape, np.float32), p.matrix, (H, W))
            if ones is not None:
                c = cover[y0 : y0 + v.shape[0], x0 : x0 + v.shape[1]]
                np.maximum(c, ones[2][..., 0], out=c)
    if mode == "probabilities":
        return probs
    labels = probs.argmax(2).astype(np.uint8)
    labels[cover < 0.5] = 0
    return labels


def _softmax(logits: np.ndarray) -> np.ndarray:
    z = logits - logits.max(axis=1, keepdims=True)
    np.exp(z, out=z)
    z /= z.sum(axis=1, keepdims=True)
    return z.astype(np.float32, copy=False)


class FaceParser:
    """Align, parse and return every face's 19-class parse, batched.

    Parameters
    ----------
    model : str, os.PathLike or BiSeNetParser
        ``"bisenet_parsing"`` (the zoo; ``facecore models fetch bisenet_parsing`` once), a
        path to a compatible ONNX file, or an adapter.
    shape : int
        Crop side (a multiple of 32). The weights were trained at 512, the default; 384
        halves the cost for about -0.015 mean F1 on CelebAMask-HQ val, 320 and 256 lose
        more (docs/accuracy.md, "Parser input size"). The attribute models are fitted on
        512 parses.
    batch_size : int
        Faces per model call (bounds memory: ~100 MB of activations per face at 512). On one
        CPU thread batching saves nothing measurable; it pays on a GPU.
    providers, device, threads
        onnxruntime session options.

    Raises
    ------
    ModelNotFoundError
        If the model was not fetched; the message names the command.

    Examples
    --------
    >>> parser = FaceParser(shape=512)                 # doctest: +SKIP
    >>> parses = parser.parse(image, landmarks)        # one FaceParsing per face  # doctest: +SKIP
    """

    def __init__(
        self,
        model: Any = "bisenet_parsing",
        *,
        shape: int = 512,
        batch_size: int = 4,
        providers: Any = None,
        device: str = "cpu",
        threads: int | None = None,
    ) -> None:
        from .models import zoo
        from .models.bisenet import BiSeNetParser

        self.shape = as_int(shape, "shape", minimum=32)
        if self.shape % 32:
            raise ValueError(f"shape: expected a multiple of 32; got {self.shape}")
        self.batch_size = as_int(batch_size, "batch_size", minimum=1)
        if isinstance(model, BiSeNetParser):
            self.model = model
        elif isinstance(model, (str, os.PathLike)):
            s = os.fspath(model)
            spec = zoo.info("bisenet_parsing").input
            path = zoo.find(s) if s in zoo.available() else s
            if not os.path.isfile(path):
                from .errors import ModelNotFoundError

                raise ModelNotFoundError(f"model: {s!r} is neither a zoo name nor a file")
            self.model = BiSeNetParser(
                os.fspath(path), spec=spec, providers=providers, device=device, threads=threads
            )
        else:
            raise TypeError(
                f"model: expected a zoo name, a path or a BiSeNetParser; got {type(model).__name__}"
            )

    def __repr__(self) -> str:
        return f"FaceParser(shape={self.shape}, batch_size={self.batch_size})"

    def tensor(self, image: np.ndarray, matrices: np.ndarray) -> np.ndarray:
        """All crops of one frame as the model's normalised NCHW tensor: ONE warp call."""
        spec = self.model.spec
        return kernels.warp_crops(
            image,
            matrices,
            self.shape,
            tensor=True,
            mean=spec.mean,
            std=spec.std,
            swap_rb=spec.swap_rb,
        )

    def run(self, tensor: np.ndarray) -> np.ndarray:
        """``(N, 3, S, S)`` -> ``(N, 19, S, S)`` float32 probabilities, ``batch_size`` faces per call."""
        outs = [
            _softmax(self.model(tensor[i : i + self.batch_size]))
            for i in range(0, len(tensor), self.batch_size)
        ]
        return (
            np.concatenate(outs)
            if outs
            else np.zeros((0, len(CLASSES), self.shape, self.shape), np.float32)
        )

    def parse(self, image: np.ndarray, landmarks: np.ndarray) -> list[FaceParsing]:
        """Parse every face of ``image`` given its 5 landmarks.

        Parameters
        ----------
        image : (H, W, 3) uint8 ndarray, BGR
        landmarks : (N, 5, 2) float ndarray
            YuNet order (``Face.landmarks``), ``(x, y)``.

        Returns
        -------
        list of FaceParsing
            One per face, in order.

        Raises
        ------
        TypeError, ValueError
            If ``image`` or ``landmarks`` is malformed.
        """
        image = as_image(image, "image", channels=(3,), gray=False)
        lm = np.asarray(landmarks, np.float64)
        if lm.ndim == 3 and lm.shape[0] == 0:
            return []
        mats = parsing_matrices(lm, self.shape)
        probs = self.run(self.tensor(image, mats))
        return [FaceParsing(mats[i], probs[i]) for i in range(len(mats))]


def recolor_lips(
    image: np.ndarray,
    color: str = "#b0203c",
    *,
    strength: float = 0.6,
    parser: FaceParser | None = None,
    landmarks: np.ndarray | None = None,
    detector: Any = None,
    mode: str = "lab",
    feather: float = 1.5,
) -> tuple[np.ndarray, np.ndarray]:
    """Lip colour: the parser's lip probability drives the fused recolour + blend kernel.

    ``alpha = blur(P(upper lip) + P(lower lip))`` pasted from every face's crop into the
    frame (inverse warp, faces merged by max), then
    :func:`facecore.kernels.recolor` (Lab or HSV, texture kept, blended by ``alpha``).

    Parameters
    ----------
    image : (H, W, 3) uint8 ndarray, BGR
    color : str
        A colour name or ``"#rrggbb"``.
    strength : float
        0 (no change) .. 1.
    parser : FaceParser, optional
        Default: ``FaceParser()`` (the zoo's BiSeNet).
    landmarks : (N, 5, 2) float ndarray, optional
        The faces' landmarks; default: YuNet's (``detector``, default the zoo's).
    mode : {"lab", "hsv"}
    feather : float
        Gaussian sigma (pixels of the frame) that softens the edge of the lip map; 0 for none.

    Returns
    -------
    out : (H, W, 3) uint8 ndarray
        The recoloured image (``image`` is not modified).
    alpha : (H, W) float32 ndarray
        The lip map used.

    Raises
    ------
    TypeError, ValueError
        For a malformed image, colour or option.
    ModelNotFoundError
        If a model is missing.
    """
    import cv2

    from ._validate import as_color, as_float

    image = as_image(image, "image", channels=(3,), gray=False)
    as_color(color, "color")
    strength = as_float(strength, "strength", minimum=0.0, maximum=1.0)
    feather = as_float(feather, "feather", minimum=0.0, maximum=50.0)
    parser = parser if parser is not None else FaceParser()
    if not isinstance(parser, FaceParser):
        raise TypeError(f"parser: expected FaceParser or None; got {type(parser).__name__}")
    if landmarks is None:
        from .models import load

        det = detector if detector is not None else load("yunet", score_threshold=0.6)
        landmarks = det.detect(image).landmarks
    parses = parser.parse(image, landmarks)
    H, W = image.shape[:2]
    if not parses:
        return image.copy(), np.zeros((H, W), np.float32)
    alpha = paste(parses, (H, W), what="lips")
    if feather > 0:
        alpha = cv2.GaussianBlur(alpha, (0, 0), feather)
    alpha = np.ascontiguousarray(np.clip(alpha, 0.0, 1.0), dtype=np.float32)
    out = kernels.recolor(image, alpha, color, mode=mode, strength=strength, device="cpu")
    return out, alpha
