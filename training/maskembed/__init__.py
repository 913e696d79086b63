"""Mask-robust face embedding by distillation from the frozen SFace (issue 16).

``prepare`` cuts ArcFace-aligned 112x112 chips (UTKFace, LFW, CelebAMask-HQ; never glint24),
unmasked and with a synthetic mask, runs the frozen SFace on both and caches its embeddings
and conv_13 features; ``train`` fits the student's tail; ``evaluate`` scores a checkpoint
on glint24 with the project's masked-verification code; ``export`` writes the tail as int8
ONNX with our own code. Measured and not shipped: see docs/accuracy.md, "Masked verification".
"""
