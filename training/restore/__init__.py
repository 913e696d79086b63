"""Training code of the learned face restorer (``restore_unet``); not part of the wheel."""
