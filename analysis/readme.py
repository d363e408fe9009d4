"""Generates the README's results table from stored verdicts (never typed by hand).

    python -m analysis.readme            rewrite the block in README.md
    python -m analysis.readme --check    exit 1 if README.md is out of date

The block between ``<!-- results:start -->`` and ``<!-- results:end -->`` is
the table of ``results/reference/SUMMARY.md``, written by
``physai reproduce --out results/reference`` (``make reference``).
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

START, END = "<!-- results:start -->", "<!-- results:end -->"
REPO = Path(__file__).resolve().parent.parent


def results_table(reference: Path) -> str:
    """Args: reference: the reference results root.
    Returns: the Markdown table of its ``SUMMARY.md``, one row per hypothesis."""
    from physai.report import read_summary_table

    summary = reference / "SUMMARY.md"
    if not summary.exists():
        return "(no reference results yet: run `make reference`)"
    return read_summary_table(summary)


def render(readme_text: str, reference: Path) -> str:
    """Args: readme_text: current README; reference: results root.
    Returns: the README with its results block regenerated."""
    head, sep, rest = readme_text.partition(START)
    _, sep2, tail = rest.partition(END)
    if not sep or not sep2:
        raise ValueError(f"README.md lacks the {START} ... {END} markers")
    return f"{head}{START}\n{results_table(reference)}\n{END}{tail}"


def main(argv=None) -> int:
    """Rewrites (or with ``--check`` verifies) the README's results block. Returns: exit code."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--check", action="store_true")
    parser.add_argument("--readme", default=str(REPO / "README.md"))
    parser.add_argument("--reference", default=str(REPO / "results" / "reference"))
    args = parser.parse_args(argv)
    readme = Path(args.readme)
    new = render(readme.read_text(), Path(args.reference))
    if args.check:
        if new != readme.read_text():
            print("README.md results table is out of date: run `python -m analysis.readme`", file=sys.stderr)
            return 1
        return 0
    readme.write_text(new)
    return 0


if __name__ == "__main__":
    sys.exit(main())
