"""facecore's exceptions.

Every error facecore raises is a builtin (``TypeError``, ``ValueError``...) or a subclass of the
builtin it means, so ``except ValueError`` works as users expect; the :class:`FacecoreError`
mixin lets them catch facecore's own classes at once.

Examples
--------
>>> from facecore.errors import FacecoreError, ModelNotFoundError
>>> issubclass(ModelNotFoundError, FileNotFoundError), issubclass(ModelNotFoundError, FacecoreError)
(True, True)
>>> from facecore.models import zoo
>>> try:
...     zoo.info("no_such_model")
... except ValueError as e:
...     print(str(e).split(";")[0])
name: unknown model 'no_such_model'
"""

from __future__ import annotations

__all__ = [
    "CudaUnavailableError",
    "FacecoreError",
    "ModelFetchError",
    "ModelIntegrityError",
    "ModelNotFoundError",
    "OutputError",
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


class OutputError(FacecoreError, OSError):
    """A batch job cannot write its output (disk full, read-only folder, store unwritable).

    An environment failure, not a per-input one: the job stops with a one-line message and
    keeps what it wrote so far (a rerun resumes). The message names the path and the cause;
    ``errno`` is the underlying error's (None when it was not an OS error).
    """

    @classmethod
    def of(cls, message: str, errno: int | None = None) -> OutputError:
        """An OutputError whose str() is ``message`` alone (no "[Errno N]" prefix)."""
        exc = cls(message)
        exc.errno = errno
        return exc
