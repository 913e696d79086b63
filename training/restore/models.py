"""The learned face restorer: a small gated-convolution U-Net for aligned 128x128 face chips.

Input: the chip with the hole blanked and the hole mask, ``(N, 4, S, S)`` = BGR normalised as
``(v - 127.5) / 127.5`` times ``(1 - mask)``, and the mask (1 = hole). Output: the whole chip,
``(N, 3, S, S)`` in ``[-1, 1]`` (tanh). The encoder starts at stride 2 (the age and gender
models downstream look at 64 and 32 pixel chips, so the network's work happens at 1/2 to
1/8 resolution); a dilated gated-conv bottleneck at 1/8 gives the receptive field the large
lower-face holes need; a light full-resolution head refines the upsampled output with the
input. Gated convolution (Yu et al., "Free-Form Image Inpainting with Gated Convolution",
ICCV 2019): ``y = ELU(conv_f(x)) * sigmoid(conv_g(x))``, one conv producing both halves.

:class:`LamaStyle` wraps it with the LaMa-style ONNX interface facecore's adapter runs:
``image`` (N, 3, H, W) RGB float in [0, 1], ``mask`` (N, 1, H, W) with 1 = hole, ->
``output`` (N, 3, H, W) RGB in [0, 1], the hole filled and the rest passed through.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import nn


class GConv(nn.Module):
    def __init__(self, cin: int, cout: int, k: int = 3, s: int = 1, d: int = 1):
        super().__init__()
        self.conv = nn.Conv2d(cin, 2 * cout, k, s, d * (k // 2), dilation=d)
        self.cout = cout

    def forward(self, x):
        f, g = self.conv(x).split(self.cout, dim=1)
        return F.elu(f) * torch.sigmoid(g)


class ResGConv(nn.Module):
    def __init__(self, c: int, d: int):
        super().__init__()
        self.a = GConv(c, c, 3, 1, d)

    def forward(self, x):
        return x + self.a(x)


class RestoreUNet(nn.Module):
    def __init__(self, widths=(24, 40, 56, 72)):
        super().__init__()
        c0, c1, c2, c3 = widths
        self.e0 = GConv(4, c0, 5, 2)  # 1/2
        self.e1 = GConv(c0, c1, 3, 2)  # 1/4
        self.e2 = GConv(c1, c2, 3, 2)  # 1/8
        self.e3 = GConv(c2, c3, 3, 1)
        self.mid = nn.Sequential(ResGConv(c3, 2), ResGConv(c3, 4), ResGConv(c3, 8), ResGConv(c3, 1))
        self.d2 = GConv(c3 + c2, c2, 3)  # 1/8
        self.d1 = GConv(c2 + c1, c1, 3)  # 1/4
        self.d0 = GConv(c1 + c0, c0, 3)  # 1/2
        self.out_half = nn.Conv2d(c0, 3, 3, 1, 1)
        self.head = nn.Sequential(
            nn.Conv2d(3 + 4, 16, 3, 1, 1), nn.ELU(), nn.Conv2d(16, 3, 3, 1, 1)
        )

    @staticmethod
    def _up(x, ref):
        return F.interpolate(x, size=ref.shape[-2:], mode="bilinear", align_corners=False)

    def forward(self, x):
        """x: (N, 4, S, S) = [masked normalised BGR, mask] -> (N, 3, S, S) in [-1, 1]."""
        s0 = self.e0(x)
        s1 = self.e1(s0)
        s2 = self.e2(s1)
        y = self.mid(self.e3(s2))
        y = self.d2(torch.cat([y, s2], 1))
        y = self.d1(torch.cat([self._up(y, s1), s1], 1))
        y = self.d0(torch.cat([self._up(y, s0), s0], 1))
        coarse = self._up(self.out_half(y), x)
        return torch.tanh(coarse + self.head(torch.cat([coarse, x], 1)))


def make_input(img_norm: torch.Tensor, mask: torch.Tensor) -> torch.Tensor:
    """(N, 3, S, S) normalised BGR and (N, 1, S, S) hole mask -> the network's (N, 4, S, S)."""
    return torch.cat([img_norm * (1 - mask), mask], 1)


class LamaStyle(nn.Module):
    """ONNX interface: (image RGB [0, 1], mask 1 = hole) -> output RGB [0, 1], composited."""

    def __init__(self, net: RestoreUNet):
        super().__init__()
        self.net = net

    def forward(self, image, mask):
        m = (mask > 0.5).float()
        bgr = image.flip(1)
        x = make_input(bgr * 2 - 1, m)
        pred = (self.net(x).flip(1) + 1) * 0.5
        return image * (1 - m) + pred.clamp(0, 1) * m


def n_params(m: nn.Module) -> int:
    return sum(p.numel() for p in m.parameters())
