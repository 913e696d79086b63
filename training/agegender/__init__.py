"""Training code of facecore's own age/gender model (``agegender``); not part of the wheel."""
