"""The one set of defaults shared by the Python API and the CLI (docs/cli.md says why).

``DET_THRESHOLD``: YuNet score threshold, chosen by measurement on ``photos/`` (28 scene photos
with counted faces, 4 of them with no human face) and ``photos/celebs13``
(``scripts/measure_det_threshold.py``): 0.70 is the lowest threshold with a margin over the
highest score on a no-face photo (a motorcycle headlight, 0.647) and loses 1 of 67 counted
faces against 0.60. ``RECOLOR_STRENGTH`` and ``RECOLOR_COLOR``: the hair recolour's (strength 1 with the
colour-transfer mode gives the colour asked for, measured in docs/accuracy.md).
"""

DET_THRESHOLD: float = 0.7
RECOLOR_STRENGTH: float = 1.0
RECOLOR_COLOR: str = "#8a2be2"
