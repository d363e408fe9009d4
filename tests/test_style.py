"""The project's file-size rule: every source file is one a reader can hold in their head."""

from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
MAX_LINES = 500
FOLDERS = ("physai", "experiments", "analysis", "benchmarks", "tests")


def test_no_source_file_is_over_500_lines():
    long = {
        str(path.relative_to(REPO)): n
        for folder in FOLDERS
        for path in sorted((REPO / folder).rglob("*.py"))
        if (n := len(path.read_text(encoding="utf-8").splitlines())) > MAX_LINES
    }
    assert not long, f"over {MAX_LINES} lines (split by role, as experiments/mirage/ is): {long}"
