"""The two hair models (PyTorch), small enough to ship and run fast on a CPU.

Both take BGR float32 NCHW normalised as ``(v - 127.5) / 64`` (``MEAN`` / ``STD``) and end
in a sigmoid, so the ONNX graphs output probabilities.

- :class:`HairDense`: a depthwise-separable U-Net (MobileNet-style encoder at strides 2..32,
  bilinear-upsampling decoder with skip concatenations), logits at 1/2 resolution,
  upsampled bilinearly in the graph: ``(N, 3, S, S) -> (N, 1, S, S)``.
- :class:`HairPatch`: a small CNN that classifies a ``W x W`` window by its centre pixel:
  ``(N, 3, W, W) -> (N, 1)``.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import nn

MEAN = 127.5
STD = 64.0


def conv_bn(
    cin: int, cout: int, k: int = 3, s: int = 1, groups: int = 1, dilation: int = 1
) -> nn.Sequential:
    pad = dilation * (k // 2)
    return nn.Sequential(
        nn.Conv2d(cin, cout, k, s, pad, dilation=dilation, groups=groups, bias=False),
        nn.BatchNorm2d(cout),
        nn.ReLU(inplace=True),
    )


class DS(nn.Module):
    """Depthwise 3x3 (stride s, dilation d) + pointwise 1x1, each with BN and ReLU; residual when shapes agree."""

    def __init__(self, cin: int, cout: int, s: int = 1, d: int = 1):
        super().__init__()
        self.dw = conv_bn(cin, cin, 3, s, groups=cin, dilation=d)
        self.pw = conv_bn(cin, cout, 1)
        self.res = s == 1 and cin == cout

    def forward(self, x):
        y = self.pw(self.dw(x))
        return x + y if self.res else y


class HairDense(nn.Module):
    def __init__(self, widths=(16, 32, 64, 96, 160)):
        super().__init__()
        c0, c1, c2, c3, c4 = widths
        self.stem = conv_bn(3, c0, 3, 2)  # 1/2
        self.e1 = nn.Sequential(DS(c0, c1, 2), DS(c1, c1))  # 1/4
        self.e2 = nn.Sequential(DS(c1, c2, 2), DS(c2, c2))  # 1/8
        self.e3 = nn.Sequential(DS(c2, c3, 2), DS(c3, c3), DS(c3, c3, d=2))  # 1/16
        self.e4 = nn.Sequential(DS(c3, c4, 2), DS(c4, c4), DS(c4, c4, d=2))  # 1/32
        self.ctx = conv_bn(c4, c4, 1)
        self.d3 = DS(c4 + c3, c3)
        self.d2 = DS(c3 + c2, c2)
        self.d1 = DS(c2 + c1, c1)
        self.d0 = DS(c1 + c0, c0)
        self.head = nn.Conv2d(c0, 1, 1)

    @staticmethod
    def _up(x, ref):
        return F.interpolate(x, size=ref.shape[-2:], mode="bilinear", align_corners=False)

    def logits(self, x):
        s0 = self.stem(x)
        s1 = self.e1(s0)
        s2 = self.e2(s1)
        s3 = self.e3(s2)
        s4 = self.e4(s3)
        s4 = s4 + self.ctx(F.adaptive_avg_pool2d(s4, 1))  # global context (hair is a large region)
        y = self.d3(torch.cat([self._up(s4, s3), s3], 1))
        y = self.d2(torch.cat([self._up(y, s2), s2], 1))
        y = self.d1(torch.cat([self._up(y, s1), s1], 1))
        y = self.d0(torch.cat([self._up(y, s0), s0], 1))
        return F.interpolate(self.head(y), size=x.shape[-2:], mode="bilinear", align_corners=False)

    def forward(self, x):
        return torch.sigmoid(self.logits(x))


class HairPatch(nn.Module):
    """Strided from the first layer (about 0.7 M multiply-adds per 31x31 window), so stride 1 stays usable."""

    def __init__(self, window: int = 31, widths=(16, 32, 48)):
        super().__init__()
        c0, c1, c2 = widths
        self.window = window
        self.f = nn.Sequential(
            conv_bn(3, c0, 3, 2),  # 31 -> 16
            conv_bn(c0, c1, 3, 2),  # 8
            conv_bn(c1, c2, 3, 2),  # 4
        )
        side = (((window + 1) // 2 + 1) // 2 + 1) // 2
        self.fc = nn.Sequential(
            nn.Flatten(), nn.Linear(c2 * side * side, 32), nn.ReLU(inplace=True), nn.Linear(32, 1)
        )

    def logits(self, x):
        return self.fc(self.f(x))

    def forward(self, x):
        return torch.sigmoid(self.logits(x))


def n_params(m: nn.Module) -> int:
    return sum(p.numel() for p in m.parameters())
