"""The fuzz targets' contract check and call counter, shared by every file in tests/fuzz.

Imported by name (tests/fuzz is on sys.path, see conftest.py), so every target counts into the
same ``CALLS``; conftest.py prints the total at the end of each run, which scripts/fuzz.sh
quotes for docs/reliability.md.
"""

from __future__ import annotations

ALLOWED = (TypeError, ValueError)
CALLS = {"n": 0}


def call(fn, *args, **kwargs):
    """``fn(*args, **kwargs)``, or None when it raises one of ``ALLOWED`` (a documented
    rejection of bad input); any other exception propagates and fails the target."""
    CALLS["n"] += 1
    try:
        return fn(*args, **kwargs)
    except ALLOWED:
        return None
