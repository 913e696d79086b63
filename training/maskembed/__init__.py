"""Mask-robust face embedding by distillation from the frozen SFace (issue 16).

``prepare`` cuts ArcFace-aligned 112x112 chips of UTKFace (unmasked and with a synthetic
mask), runs the frozen SFace on both and caches its embeddings and the conv_13 features;
``train`` fits the student's tail; ``export`` writes the tail ONNX that
:mod:`facecore.models.embedder` grafts onto SFace.
"""
