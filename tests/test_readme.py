"""README numbers come from stored results, never typed by hand."""
from pathlib import Path

from analysis import readme

REPO = Path(__file__).resolve().parent.parent


def test_readme_results_table_matches_stored_verdicts():
    text = (REPO / "README.md").read_text()
    assert readme.render(text, REPO / "results" / "reference") == text, \
        "README results table is stale: run `python -m analysis.readme`"


def test_results_table_lists_each_stored_verdict(tmp_path):
    folder = tmp_path / "exp" / "paper"
    folder.mkdir(parents=True)
    (folder / "verdicts.json").write_text(
        '[{"hypothesis": "h1", "status": "refuted", "measured": 0.5, "expected": "[0.9, 1.1]", "explanation": ""}]')
    table = readme.results_table(tmp_path)
    assert "| exp | paper | h1 | 0.5 | [0.9, 1.1] | **refuted** |" in table
    assert readme.render("a\n<!-- results:start -->\nold\n<!-- results:end -->\nb", tmp_path).count("h1") == 1
