"""YuNet face detector adapter (OpenCV Zoo ``face_detection_yunet_2023mar``).

Preprocessing is what ``cv2.FaceDetectorYN`` does: BGR, raw 0..255 float32, NCHW, the
image padded with zeros at the bottom/right to multiples of 32 (the graph's input dims
are made symbolic in memory so any such size runs). Decoding follows OpenCV's
``face_detect.cpp`` for strides 8, 16 and 32; non-maximum suppression follows
``cv2.dnn.NMSBoxes`` (greedy, score-sorted, integer boxes, IoU > threshold suppressed).
"""

from __future__ import annotations

import logging
import math
from typing import NamedTuple

import cv2
import numpy as np
import onnx

from .._defaults import DET_THRESHOLD
from . import repair
from ._inputs import check_image
from .session import make_session

__all__ = ["Detections", "YuNet", "decode_yunet", "nms"]

logger = logging.getLogger(__name__)

STRIDES = (8, 16, 32)
_OUTPUTS = tuple(f"{k}_{s}" for k in ("cls", "obj", "bbox", "kps") for s in STRIDES)


class Detections(NamedTuple):
    """Detector output for one image, sorted by score (highest first).

    Attributes
    ----------
    boxes : (N, 4) float32 ndarray
        ``(x, y, width, height)`` in image pixels.
    landmarks : (N, 5, 2) float32 ndarray
        Right eye, left eye, nose tip, right and left mouth corner, ``(x, y)``.
    scores : (N,) float32 ndarray
    """

    boxes: np.ndarray
    landmarks: np.ndarray
    scores: np.ndarray

    def __len__(self) -> int:
        return int(self.scores.shape[0])

    def rows(self) -> np.ndarray:
        """``(N, 15)`` float32 in ``cv2.FaceDetectorYN``'s row layout."""
        return np.concatenate(
            [self.boxes, self.landmarks.reshape(-1, 10), self.scores[:, None]], axis=1
        )

    @classmethod
    def empty(cls) -> Detections:
        return cls(
            np.zeros((0, 4), np.float32),
            np.zeros((0, 5, 2), np.float32),
            np.zeros((0,), np.float32),
        )

    def take(self, index: np.ndarray) -> Detections:
        return Detections(self.boxes[index], self.landmarks[index], self.scores[index])


def nms(
    boxes: np.ndarray, scores: np.ndarray, iou_threshold: float, *, top_k: int = 0
) -> np.ndarray:
    """Greedy non-maximum suppression, as ``cv2.dnn.NMSBoxes`` (eta = 1).

    Parameters
    ----------
    boxes : (N, 4) ndarray
        ``(x, y, width, height)``.
    scores : (N,) ndarray
    iou_threshold : float
        A box whose IoU with a kept, higher-scored box is **greater** than this is dropped.
    top_k : int, optional
        Keep only the ``top_k`` highest scores before suppression (0: all).

    Returns
    -------
    (K,) int64 ndarray
        Indices of the kept boxes, highest score first.
    """
    boxes = np.asarray(boxes, np.float64).reshape(-1, 4)
    scores = np.asarray(scores, np.float64).reshape(-1)
    if boxes.shape[0] != scores.shape[0]:
        raise ValueError(f"boxes, scores: lengths differ ({boxes.shape[0]} vs {scores.shape[0]})")
    order = np.argsort(-scores, kind="stable")
    if top_k > 0:
        order = order[:top_k]
    x1, y1 = boxes[:, 0], boxes[:, 1]
    x2, y2 = x1 + boxes[:, 2], y1 + boxes[:, 3]
    area = boxes[:, 2] * boxes[:, 3]
    keep: list[int] = []
    while order.size:
        i = order[0]
        keep.append(int(i))
        rest = order[1:]
        iw = np.clip(np.minimum(x2[i], x2[rest]) - np.maximum(x1[i], x1[rest]), 0, None)
        ih = np.clip(np.minimum(y2[i], y2[rest]) - np.maximum(y1[i], y1[rest]), 0, None)
        inter = iw * ih
        union = area[i] + area[rest] - inter
        iou = np.where(union > 0, inter / np.where(union > 0, union, 1), 0.0)
        order = rest[iou <= iou_threshold]
    return np.asarray(keep, dtype=np.int64)


def decode_yunet(
    outputs: dict[str, np.ndarray],
    padded_shape: tuple[int, int],
    *,
    score_threshold: float,
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Decode YuNet's 12 heads into candidate boxes, landmarks and scores (before NMS).

    For stride ``s`` with ``cols = W / s`` and anchor ``i = r * cols + c``:
    ``score = sqrt(clip(cls, 0, 1) * clip(obj, 0, 1))``,
    ``cx = (c + b0) s``, ``cy = (r + b1) s``, ``w = exp(b2) s``, ``h = exp(b3) s``,
    box ``(cx - w/2, cy - h/2, w, h)``; landmark k ``((kps[2k] + c) s, (kps[2k+1] + r) s)``.

    Parameters
    ----------
    outputs : dict of name -> array
        ``cls_8 ... kps_32`` as the model returns them (batch 1).
    padded_shape : (height, width)
        The network input size (multiples of 32).
    score_threshold : float

    Returns
    -------
    boxes (M, 4) float32, landmarks (M, 5, 2) float32, scores (M,) float32
    """
    ph, pw = padded_shape
    bs, ls, ss = [], [], []
    for s in STRIDES:
        cols, rows = pw // s, ph // s
        cls = np.clip(outputs[f"cls_{s}"].reshape(-1), 0.0, 1.0)
        obj = np.clip(outputs[f"obj_{s}"].reshape(-1), 0.0, 1.0)
        if cls.shape[0] != rows * cols:
            raise ValueError(
                f"cls_{s}: expected {rows * cols} anchors for input {ph}x{pw}; got {cls.shape[0]}"
            )
        score = np.sqrt(cls * obj)
        idx = np.flatnonzero(score >= score_threshold)
        if idx.size == 0:
            continue
        r = (idx // cols).astype(np.float32)
        c = (idx % cols).astype(np.float32)
        bb = outputs[f"bbox_{s}"].reshape(-1, 4)[idx]
        kp = outputs[f"kps_{s}"].reshape(-1, 10)[idx]
        cx = (c + bb[:, 0]) * s
        cy = (r + bb[:, 1]) * s
        w = np.exp(bb[:, 2]) * s
        h = np.exp(bb[:, 3]) * s
        bs.append(np.stack([cx - w / 2, cy - h / 2, w, h], axis=1))
        lm = np.empty((idx.size, 5, 2), np.float32)
        lm[:, :, 0] = (kp[:, 0::2] + c[:, None]) * s
        lm[:, :, 1] = (kp[:, 1::2] + r[:, None]) * s
        ls.append(lm)
        ss.append(score[idx])
    if not ss:
        return (
            np.zeros((0, 4), np.float32),
            np.zeros((0, 5, 2), np.float32),
            np.zeros((0,), np.float32),
        )
    return (
        np.concatenate(bs).astype(np.float32),
        np.concatenate(ls).astype(np.float32),
        np.concatenate(ss).astype(np.float32),
    )


def repair_yunet(model: onnx.ModelProto) -> onnx.ModelProto:
    """YuNet's in-memory repairs: fold the block-quantised DequantizeLinear nodes and
    make the input height/width (and the outputs' anchor dim) symbolic."""
    m = repair.drop_unread_inputs(model)
    m = repair.fold_dequantize(m)
    inp = m.graph.input[0].name
    return repair.make_dims_symbolic(
        m, {inp: {2: "height", 3: "width"}}, all_outputs={1: "anchors"}
    )


class YuNet:
    """YuNet face detector on onnxruntime.

    Parameters
    ----------
    model : onnx.ModelProto
        The original graph (repaired in memory here).
    score_threshold : float, optional
        Minimum ``sqrt(cls * obj)`` score (default 0.7, facecore's one default, chosen on
        ``photos/``: docs/cli.md; OpenCV Zoo's demo uses 0.9).
    nms_threshold : float, optional
        IoU above which a lower-scored box is suppressed (default 0.3).
    top_k : int, optional
        Candidates kept before NMS (default 5000).
    max_side : int, optional
        Downscale images whose longer side exceeds this before detection (coordinates
        are mapped back). ``None`` (default) runs at full resolution, as
        ``cv2.FaceDetectorYN`` with ``setInputSize`` at the image size.
    providers, device, threads
        Passed to :func:`facecore.models.session.make_session`.

    Examples
    --------
    >>> import facecore as fc
    >>> from importlib.resources import files
    >>> image = fc.read_image(files("facecore") / "data" / "astronaut.jpg")
    >>> det = fc.models.load("yunet")  # doctest: +MODELS
    >>> found = det.detect(image)
    >>> len(found), found.landmarks.shape, bool(found.scores[0] > 0.9)
    (1, (1, 5, 2), True)
    """

    kind = "detector"

    def __init__(
        self,
        model: onnx.ModelProto,
        *,
        score_threshold: float = DET_THRESHOLD,
        nms_threshold: float = 0.3,
        top_k: int = 5000,
        max_side: int | None = None,
        providers=None,
        device: str = "cpu",
        threads: int | None = None,
    ) -> None:
        self.score_threshold = _prob(score_threshold, "score_threshold")
        self.nms_threshold = _prob(nms_threshold, "nms_threshold")
        if isinstance(top_k, bool) or not isinstance(top_k, int) or top_k < 1:
            raise ValueError(f"top_k: expected a positive int; got {top_k!r}")
        self.top_k = top_k
        if max_side is not None and (
            isinstance(max_side, bool) or not isinstance(max_side, int) or max_side < 32
        ):
            raise ValueError(f"max_side: expected None or an int >= 32; got {max_side!r}")
        self.max_side = max_side
        self.session = make_session(
            repair_yunet(model), providers=providers, device=device, threads=threads
        )
        self._input = self.session.get_inputs()[0].name
        names = [o.name for o in self.session.get_outputs()]
        missing = set(_OUTPUTS) - set(names)
        if missing:
            raise ValueError(f"model: not a YuNet graph; missing outputs {sorted(missing)}")
        self._outputs = list(_OUTPUTS)

    def blob(self, image: np.ndarray) -> tuple[np.ndarray, float]:
        """The padded NCHW float32 input for ``image`` and the scale applied to it."""
        scale = 1.0
        if self.max_side is not None and max(image.shape[:2]) > self.max_side:
            scale = self.max_side / max(image.shape[:2])
            image = cv2.resize(
                image,
                (max(1, round(image.shape[1] * scale)), max(1, round(image.shape[0] * scale))),
                interpolation=cv2.INTER_AREA,
            )
        h, w = image.shape[:2]
        ph, pw = math.ceil(h / 32) * 32, math.ceil(w / 32) * 32
        x = np.zeros((1, 3, ph, pw), np.float32)
        if image.ndim == 2:
            x[0, :, :h, :w] = image[None]
        else:
            x[0, :, :h, :w] = image.transpose(2, 0, 1)
        return x, scale

    def detect(self, image: np.ndarray) -> Detections:
        """Detect faces in one BGR image.

        Parameters
        ----------
        image : (H, W, 3) or (H, W) uint8 ndarray
            BGR (grey images are used as three equal channels).

        Returns
        -------
        Detections
            Boxes, landmarks and scores in ``image``'s pixel coordinates, best first.

        Raises
        ------
        TypeError, ValueError
            If ``image`` is not a uint8 (H, W, 3) or (H, W) array.
        """
        image = check_image(image, "image")
        x, scale = self.blob(image)
        outs = self.session.run(self._outputs, {self._input: x})
        boxes, lms, scores = decode_yunet(
            dict(zip(self._outputs, outs)),
            (x.shape[2], x.shape[3]),
            score_threshold=self.score_threshold,
        )
        if scores.size == 0:
            return Detections.empty()
        # OpenCV runs NMS on integer (truncated) boxes
        keep = nms(np.trunc(boxes), scores, self.nms_threshold, top_k=self.top_k)
        det = Detections(boxes[keep], lms[keep], scores[keep])
        if scale != 1.0:
            det = Detections(det.boxes / scale, det.landmarks / scale, det.scores)
        return det


def _prob(v, name: str) -> float:
    if isinstance(v, bool) or not isinstance(v, (int, float, np.floating)):
        raise TypeError(f"{name}: expected a float; got {type(v).__name__}")
    v = float(v)
    if not 0.0 <= v <= 1.0:
        raise ValueError(f"{name}: expected a value in [0, 1]; got {v}")
    return v
