"""SFace identity embedder adapter (OpenCV Zoo ``face_recognition_sface_2021dec``).

All faces of a frame are aligned to the 112x112 ArcFace template by one call of the
batch warp kernel, straight into the float32 NCHW RGB tensor (raw 0..255: the graph
normalises itself with ``(x - 127.5) * 0.0078125``), and embedded by one onnxruntime
call (the batch dimension is made symbolic in memory).

Mask-robust embedding: facecore's ``sface_mask`` model (docs/models/sface_mask.md) is a
second copy of SFace's last block and fully connected layer, distilled so that a masked
face lands where SFace puts the same face unmasked. It reads SFace's own ``conv_13_relu``
features, so :func:`graft_mask_tail` attaches it to SFace's graph in memory and one
onnxruntime call gives both embeddings (:meth:`SFace.run_both`).
"""

from __future__ import annotations

import logging

import numpy as np
import onnx

from ..align import ARCFACE_112, arcface_matrices
from . import _warp, repair
from ._inputs import check_image, check_landmarks
from .session import make_session, nchw_input

__all__ = ["ARCFACE_112", "SFace", "arcface_matrices", "graft_mask_tail", "l2_normalize"]

#: SFace's tensor the mask-robust tail reads, and the tail graph's input of SFace's fully
#: connected weight (present when the tail stores only a low-rank change of it).
TAIL_INPUT = "conv_13_relu"
TAIL_FC_INPUT = "sface_pre_fc1_weight"
#: Name of the mask-robust output in the grafted graph.
MASK_OUTPUT = "mask_fc1"

logger = logging.getLogger(__name__)


def l2_normalize(x: np.ndarray, axis: int = -1) -> np.ndarray:
    """``x / ||x||`` along ``axis`` (zero vectors stay zero), float32."""
    x = np.asarray(x, np.float32)
    n = np.linalg.norm(x, axis=axis, keepdims=True)
    return x / np.where(n > 0, n, 1.0)


def repair_sface(model: onnx.ModelProto) -> onnx.ModelProto:
    """SFace's in-memory repairs: drop the 29 unread (and the initializer) graph inputs,
    fold the constant DequantizeLinear nodes, make the batch dimension symbolic."""
    m = repair.drop_unread_inputs(model)
    m = repair.fold_dequantize(m)
    inp = m.graph.input[0].name
    return repair.make_dims_symbolic(m, {inp: {0: "batch"}}, all_outputs={0: "batch"})


def graft_mask_tail(sface: onnx.ModelProto, tail: onnx.ModelProto) -> onnx.ModelProto:
    """SFace (repaired) with the mask-robust tail attached: outputs ``fc1`` and ``mask_fc1``.

    The tail's input ``conv_13_relu`` is SFace's tensor of that name; its optional input
    ``sface_pre_fc1_weight`` is SFace's fully connected weight. Every other name of the tail
    gets the prefix ``mask_``; its constant ``DequantizeLinear`` nodes are folded.

    Raises
    ------
    ValueError
        If SFace has no ``conv_13_relu`` tensor or the tail's interface differs.
    """
    g = sface.graph
    produced = {o for n in g.node for o in n.output}
    if TAIL_INPUT not in produced:
        raise ValueError(f"model: no {TAIL_INPUT!r} tensor; the mask tail fits SFace 2021dec only")
    tail = repair.fold_dequantize(tail)
    t_inputs = [i.name for i in tail.graph.input]
    if t_inputs[0] != TAIL_INPUT or set(t_inputs) - {TAIL_INPUT, TAIL_FC_INPUT}:
        raise ValueError(f"mask tail: unexpected inputs {t_inputs}")
    if [o.name for o in tail.graph.output] != ["fc1"]:
        raise ValueError("mask tail: expected one output 'fc1'")
    gemm = [n for n in g.node if n.op_type == "Gemm"]
    rename = {TAIL_INPUT: TAIL_INPUT, "": ""}
    if TAIL_FC_INPUT in t_inputs:
        if len(gemm) != 1:
            raise ValueError("model: expected one Gemm (SFace's fully connected layer)")
        rename[TAIL_FC_INPUT] = gemm[0].input[1]

    def name(n: str) -> str:
        return rename.get(n, "mask_" + n)

    m = onnx.ModelProto()
    m.CopyFrom(sface)
    for init in tail.graph.initializer:
        c = onnx.TensorProto()
        c.CopyFrom(init)
        c.name = name(init.name)
        m.graph.initializer.append(c)
    for node in tail.graph.node:
        c = onnx.NodeProto()
        c.CopyFrom(node)
        c.name = name(node.name) if node.name else ""
        c.ClearField("input")
        c.input.extend(name(i) for i in node.input)
        c.ClearField("output")
        c.output.extend(name(o) for o in node.output)
        m.graph.node.append(c)
    m.graph.output.append(
        onnx.helper.make_tensor_value_info(MASK_OUTPUT, onnx.TensorProto.FLOAT, ["batch", 128])
    )
    return m


class SFace:
    """SFace 128-d face embedder on onnxruntime.

    Parameters
    ----------
    model : onnx.ModelProto
        The original graph (repaired in memory here).
    mask_tail : onnx.ModelProto, optional
        facecore's mask-robust tail (zoo ``sface_mask``), grafted onto SFace in memory
        (:func:`graft_mask_tail`); then :meth:`run_both` and ``masked=True`` work.
    batch_size : int, optional
        Most faces per onnxruntime call (default 64; bounds memory on crowds).
    providers, device, threads
        Passed to :func:`facecore.models.session.make_session`.

    Examples
    --------
    >>> import cv2, numpy as np
    >>> import facecore as fc
    >>> from importlib.resources import files
    >>> image = fc.read_image(files("facecore") / "data" / "astronaut.jpg")
    >>> lm = fc.models.load("yunet").detect(image).landmarks  # doctest: +MODELS
    >>> sface = fc.models.load("sface")
    >>> e = sface.embed(image, lm)
    >>> e.shape, round(float(np.linalg.norm(e[0])), 3)
    ((1, 128), 1.0)
    >>> # the mirrored photo (landmarks mirrored, eyes and mouth corners swapped): the same person
    >>> lm_m = lm[:, [1, 0, 2, 4, 3]] * [-1, 1] + [image.shape[1] - 1, 0]
    >>> float(e[0] @ sface.embed(cv2.flip(image, 1), lm_m)[0]) > 0.8
    True
    """

    kind = "embedder"
    shape = (112, 112)
    dim = 128

    def __init__(
        self,
        model: onnx.ModelProto,
        *,
        batch_size: int = 64,
        providers=None,
        device: str = "cpu",
        threads: int | None = None,
        mask_tail: onnx.ModelProto | None = None,
    ) -> None:
        if isinstance(batch_size, bool) or not isinstance(batch_size, int) or batch_size < 1:
            raise ValueError(f"batch_size: expected a positive int; got {batch_size!r}")
        if mask_tail is not None and not isinstance(mask_tail, onnx.ModelProto):
            raise TypeError(
                f"mask_tail: expected an onnx.ModelProto or None; got {type(mask_tail).__name__}"
            )
        self.batch_size = batch_size
        graph = repair_sface(model)
        if mask_tail is not None:
            graph = graft_mask_tail(graph, mask_tail)
        self.session = make_session(graph, providers=providers, device=device, threads=threads)
        self._input = self.session.get_inputs()[0].name
        self._output = self.session.get_outputs()[0].name
        #: True when the mask-robust embedding is available (``sface_mask`` grafted).
        self.has_mask_tail = mask_tail is not None

    def tensor(self, image: np.ndarray, landmarks: np.ndarray) -> np.ndarray:
        """Aligned RGB float32 (N, 3, 112, 112) input, raw 0..255, from one warp call."""
        m = arcface_matrices(landmarks)
        return _warp.warp_to_tensor(image, m, self.shape, mean=0.0, std=1.0, swap_rb=True)

    def run(self, tensor: np.ndarray) -> np.ndarray:
        """Raw (not normalised) embeddings (N, 128) float32 of an RGB NCHW 0..255 tensor."""
        return self._run(tensor, [self._output])[0]

    def run_both(self, tensor: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """SFace's and the mask-robust raw embeddings, each (N, 128) float32, in one pass.

        Raises
        ------
        ValueError
            If this embedder was built without ``mask_tail``.
        """
        if not self.has_mask_tail:
            raise ValueError("masked: this SFace has no mask tail (load it with mask_tail=)")
        plain, masked = self._run(tensor, [self._output, MASK_OUTPUT])
        return plain, masked

    def _run(self, tensor: np.ndarray, outputs: list[str]) -> list[np.ndarray]:
        tensor = nchw_input(tensor, 112)
        n = tensor.shape[0]
        if n == 0:
            return [np.zeros((0, self.dim), np.float32) for _ in outputs]
        outs = [
            self.session.run(outputs, {self._input: tensor[i : i + self.batch_size]})
            for i in range(0, n, self.batch_size)
        ]
        return [
            np.concatenate([o[k] for o in outs]).astype(np.float32, copy=False)
            for k in range(len(outputs))
        ]

    def _embed_tensor(self, x: np.ndarray, normalize: bool, masked: bool) -> np.ndarray:
        if masked:
            e = self.run_both(x)[1]
        else:
            e = self.run(x)
        return l2_normalize(e) if normalize else e

    def embed(
        self,
        image: np.ndarray,
        landmarks: np.ndarray,
        *,
        normalize: bool = True,
        masked: bool = False,
    ) -> np.ndarray:
        """Embed the faces of one frame.

        Parameters
        ----------
        image : (H, W, 3) uint8 ndarray, BGR
        landmarks : (N, 5, 2) float ndarray
            YuNet-order landmarks ``(x, y)`` in ``image`` pixels.
        normalize : bool, optional
            L2-normalise (default True); False returns SFace's raw ``fc1`` output.
        masked : bool, optional
            Return the mask-robust embedding (``sface_mask``) instead of SFace's; comparable
            with SFace's embedding of an unmasked face (default False).

        Returns
        -------
        (N, 128) float32 ndarray

        Raises
        ------
        ValueError
            If ``masked`` is True and the embedder has no mask tail.
        """
        image = check_image(image, "image")
        if image.ndim == 2:
            image = np.repeat(image[:, :, None], 3, axis=2)
        landmarks = check_landmarks(landmarks, "landmarks")
        return self._embed_tensor(self.tensor(image, landmarks), normalize, masked)

    def embed_aligned(
        self, chips: np.ndarray, *, normalize: bool = True, masked: bool = False
    ) -> np.ndarray:
        """Embed already aligned 112x112 BGR chips ``(N, 112, 112, 3)`` uint8 (``masked``:
        as :meth:`embed`)."""
        chips = np.asarray(chips)
        if chips.ndim == 3:
            chips = chips[None]
        if chips.dtype != np.uint8 or chips.ndim != 4 or chips.shape[1:] != (112, 112, 3):
            raise ValueError(
                f"chips: expected uint8 (N, 112, 112, 3); got {chips.dtype} {chips.shape}"
            )
        x = np.ascontiguousarray(chips[..., ::-1].transpose(0, 3, 1, 2), dtype=np.float32)
        return self._embed_tensor(x, normalize, masked)
