"""README numbers come from stored results, never typed by hand."""

from pathlib import Path

from analysis import readme

REPO = Path(__file__).resolve().parent.parent


def test_readme_results_table_matches_stored_verdicts():
    text = (REPO / "README.md").read_text()
    assert readme.render(text, REPO / "results" / "reference") == text, (
        "README results table is stale: run `python -m analysis.readme`"
    )


def test_results_table_is_the_stored_summary(tmp_path):
    from physai import report
    from physai.experiment import Verdict

    rows = report.summary_rows([("exp", "paper", [Verdict("refuted", 0.5, "[0.9, 1.1]", "", "h1")], 12.0)])
    report.write_summary(rows, str(tmp_path), {})
    table = readme.results_table(tmp_path)
    assert "| exp | paper | h1 | 0.5 | [0.9, 1.1] | **refuted** | 12 s |" in table
    assert readme.render("a\n<!-- results:start -->\nold\n<!-- results:end -->\nb", tmp_path).count("h1") == 1


def test_committed_reference_results_stay_small():
    # The budget is per experiment (the suite grows by experiments), with a cap on the whole.
    reference = REPO / "results" / "reference"
    files = [p for p in reference.rglob("*") if p.is_file()]
    assert sum(p.stat().st_size for p in files) < 16 * 2**20, "reference results must stay under 16 MB"
    for folder in (p for p in reference.iterdir() if p.is_dir()):
        size = sum(p.stat().st_size for p in folder.rglob("*") if p.is_file())
        assert size < 1.5 * 2**20, f"{folder.name}: reference results must stay under 1.5 MB per experiment"
    assert not [p for p in files if p.suffix in (".pkl", ".pickle")]


def test_committed_reference_results_come_from_the_current_code():
    """Every trial of each stored preset is there, made by the experiment's current code (``make
    reference`` after a code change; a change of settings gives new trial ids, not stale ones)."""
    from physai import identity, registry, store, sweep

    reference = REPO / "results" / "reference"
    checked = 0
    for folder in sorted(p for p in reference.iterdir() if p.is_dir()):
        experiment = registry.load(folder.name)
        for preset in sorted(p.name for p in folder.iterdir() if p.is_dir()):
            plan = sweep.plan(experiment, preset)
            stale = identity.stale_shards(plan, str(reference))
            assert not stale, identity.stale_message(plan, stale, "results/reference") + " (make reference)"
            stored = store.stored_status(reference, experiment.name, preset)
            missing = [t.trial_id for t in plan.trials if stored.get(t.trial_id) not in ("ok", "diverged")]
            assert not missing, f"{experiment.name}/{preset}: {len(missing)} planned trials not stored (make reference)"
            checked += 1
    assert checked >= len(registry.names())


def test_the_hypotheses_page_is_generated_from_the_declarations_and_current():
    from analysis import hypotheses

    page = REPO / "docs" / "hypotheses.md"
    assert page.exists() and page.read_text() == hypotheses.render(), (
        "docs/hypotheses.md is stale: run `python -m analysis.hypotheses`"
    )


def test_every_hypothesis_has_a_source_with_a_tolerance_reason():
    from physai import registry

    for name in registry.names():
        for h in registry.load(name).hypotheses:
            s = h.source
            assert s is not None, f"{name}:{h.name} has no source"
            assert all(len(x.strip()) > 3 for x in (s.paper, s.where, s.statement, s.tolerance)), (name, h.name)


def test_nothing_in_the_project_cites_a_document_outside_it():
    import subprocess

    files = subprocess.run(["git", "ls-files"], cwd=REPO, capture_output=True, text=True).stdout.split()
    offenders = []
    for f in files:
        skip = f.startswith("results/") or f == "tests/test_readme.py" or not (REPO / f).is_file()
        if skip or not f.endswith((".py", ".md", ".ipynb", ".toml")):
            continue
        text = (REPO / f).read_text(errors="ignore")
        if "ANCHORS.md" in text or "../shared" in text or "DESIGN.md" in text:
            offenders.append(f)
    assert not offenders, f"cite documents outside the repository: {offenders}"


def test_the_readme_sql_query_runs_on_the_reference_results():
    import re

    from physai import store

    text = (Path(__file__).resolve().parent.parent / "README.md").read_text()
    (command,) = re.findall(r"physai sql (\S+) --preset (\S+) \\\n\s+\"([^\"]+)\"", text)
    name, preset, query = command
    frame = store.connect(REPO / "results" / "reference", name, preset).sql(query).df()
    assert len(frame) >= 5 and frame.iloc[:, 1].notna().all()
