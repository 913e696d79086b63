"""The expression CNN: a small VGG-style network for 48x48 grey faces.

Input ``(N, 1, 48, 48)`` float32, ``(pixel - 128) / 64``; output logits ``(N, 7)``.
Conv-BN-ReLU blocks 16 @48 -> 32,32 @24 -> 64,64 @12 -> 128,128 @6, max-pooling in between,
global average pooling, dropout, one linear layer (about 0.29 M parameters, 24 M MACs).
"""

from __future__ import annotations

import torch
from torch import nn

MEAN, STD = 128.0, 64.0


def _block(cin: int, cout: int) -> nn.Sequential:
    return nn.Sequential(
        nn.Conv2d(cin, cout, 3, padding=1, bias=False), nn.BatchNorm2d(cout), nn.ReLU(inplace=True)
    )


class ExpressionNet(nn.Module):
    def __init__(self, width: int = 16, n_classes: int = 7, dropout: float = 0.3) -> None:
        super().__init__()
        w = width
        self.features = nn.Sequential(
            _block(1, w),
            nn.MaxPool2d(2),
            _block(w, 2 * w),
            _block(2 * w, 2 * w),
            nn.MaxPool2d(2),
            _block(2 * w, 4 * w),
            _block(4 * w, 4 * w),
            nn.MaxPool2d(2),
            _block(4 * w, 8 * w),
            _block(8 * w, 8 * w),
        )
        self.pool = nn.AdaptiveAvgPool2d(1)
        self.drop = nn.Dropout(dropout)
        self.fc = nn.Linear(8 * w, n_classes)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.fc(self.drop(torch.flatten(self.pool(self.features(x)), 1)))


def n_params(m: nn.Module) -> int:
    return sum(p.numel() for p in m.parameters())
