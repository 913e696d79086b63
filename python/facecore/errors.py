"""facecore's exceptions.

Every error facecore raises is a builtin (``TypeError``, ``ValueError``...) or a subclass of the
builtin it means, so ``except ValueError`` works as users expect; the :class:`FacecoreError`
mixin lets them catch facecore's own classes at once.
"""

from __future__ import annotations

__all__ = [
    "FacecoreError",
    "ModelNotFoundError",
    "ModelIntegrityError",
    "CudaUnavailableError",
    "ModelFetchError",
]


class FacecoreError(Exception):
    """Mixin base of facecore's own exception classes."""


class ModelNotFoundError(FacecoreError, FileNotFoundError):
    """A model file is in none of the places searched; the message lists them."""


class ModelIntegrityError(FacecoreError, ValueError):
    """A model file's sha256 is not the one the zoo expects."""


class CudaUnavailableError(FacecoreError, RuntimeError):
    """A GPU array or ``device="cuda"`` was given but facecore._cuda cannot run."""


class ModelFetchError(FacecoreError, OSError):
    """``facecore models fetch`` could not get a model's source file (download, archive)."""
