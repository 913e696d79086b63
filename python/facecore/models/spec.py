"""Input specifications: what a model wants its input tensor to look like."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Literal

__all__ = ["InputSpec"]


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
