import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).parent))  # strategies.py, harness.py by name (importlib mode)


def pytest_terminal_summary(terminalreporter):
    """The number of fuzzed calls (every target's ``harness.call``), which scripts/fuzz.sh
    greps from the log for docs/reliability.md."""
    harness = sys.modules.get("harness")
    if harness is not None and harness.CALLS["n"]:
        terminalreporter.write_line(f"fuzzed calls in this process: {harness.CALLS['n']}")
