"""Batch jobs: the face training-data builder (``facecore build-dataset``).

Modules: :mod:`.builder` (the pipeline), :mod:`.store` (the SQLite embedding store that
makes runs incremental and resumable), :mod:`.sources` (folders, videos, URL lists) and
:mod:`.report` (the HTML review report).
"""

from .builder import BuildResult, build_dataset

__all__ = ["BuildResult", "build_dataset"]
