"""Teaching notebooks: stored without outputs, every experiment covered, and they execute top to bottom.

Static checks (no execution): every registered experiment is run by some notebook, and
every ``run_experiment`` call's preset and overrides plan on ``tiny`` and ``demo``, so a
renamed parameter breaks a test before any notebook runs. In ``make test`` the executed
copies in ``results/notebooks`` (each notebook run on the reference results) stand for
execution: they must hold the notebook's current cells, figures shown once, verdict tables
and no error or warning. ``-m slow`` executes every notebook on ``tiny`` and on the ``demo``
preset a teacher would use.
"""

import ast
from pathlib import Path

import nbformat
import pytest
from nbclient import NotebookClient

from physai import registry, sweep

REPO = Path(__file__).resolve().parent.parent
NOTEBOOKS = sorted((REPO / "notebooks").glob("*.ipynb"))
PRESETS = ("tiny", "demo")  # the notebooks' PRESET: CI's and a teacher's
# Executing a notebook costs 20-90 s on ``tiny`` (a kernel, then the experiments' tiny runs, which
# test_experiments already does), so in ``make test`` the notebooks are checked without executing
# them here: the static checks below plan every call, and the executed copies in results/notebooks
# (made by running each notebook on the reference results) must hold the notebook's current cells
# and no error. ``-m slow`` executes every notebook on ``tiny`` and on ``demo``.


def _cell_tree(source: str) -> ast.Module:
    # IPython magics and shell escapes are not Python; the notebooks' calls are in plain lines.
    return ast.parse("\n".join("" if line.lstrip().startswith(("%", "!")) else line for line in source.splitlines()))


def _literal_names(node: ast.expr, tree: ast.Module) -> list[str]:
    """The experiment names an argument stands for: a string, or a loop variable over a list of strings."""
    if isinstance(node, ast.Constant) and isinstance(node.value, str):
        return [node.value]
    if isinstance(node, ast.Name):  # `for name in [...]` / `{... for name in EXPERIMENTS}` in the same cell
        lists = {
            t.id: n.value
            for n in ast.walk(tree)
            if isinstance(n, ast.Assign)
            for t in n.targets
            if isinstance(t, ast.Name)
        }
        for loop in ast.walk(tree):
            if isinstance(loop, ast.For | ast.comprehension) and getattr(loop.target, "id", None) == node.id:
                values = lists.get(loop.iter.id) if isinstance(loop.iter, ast.Name) else loop.iter
                return list(ast.literal_eval(values))
    raise AssertionError(f"run_experiment's experiment should be a literal name: {ast.unparse(node)}")


def _run_experiment_calls(path: Path) -> list[tuple[str, list[str], list[str]]]:
    """(experiment, presets, overrides) of every ``run_experiment`` call in the notebook's code cells."""
    calls = []
    for cell in nbformat.read(path, as_version=4).cells:
        if cell.cell_type != "code":
            continue
        tree = _cell_tree(cell.source)
        for node in ast.walk(tree):
            if not (isinstance(node, ast.Call) and getattr(node.func, "id", None) == "run_experiment"):
                continue
            args = {
                **dict(zip(["experiment", "preset", "overrides"], node.args)),
                **{k.arg: k.value for k in node.keywords},
            }
            preset = args.get("preset")
            presets = list(PRESETS) if preset is None or isinstance(preset, ast.Name) else [ast.literal_eval(preset)]
            overrides = list(ast.literal_eval(args["overrides"])) if "overrides" in args else []
            for name in _literal_names(args["experiment"], tree):
                calls.append((name, presets, overrides))
    return calls


def test_every_experiment_has_a_notebook():
    covered = {name for path in NOTEBOOKS for name, _, _ in _run_experiment_calls(path)}
    missing = sorted(set(registry.names()) - covered)
    assert not missing, f"experiments no notebook runs: {missing}"


@pytest.mark.parametrize("path", NOTEBOOKS, ids=lambda p: p.stem)
def test_notebook_overrides_plan(path):
    calls = _run_experiment_calls(path)
    assert calls, f"{path.name} runs no experiment"
    for name, presets, overrides in calls:
        for preset in presets:  # raises on an unknown key, a bad value or an oversized grid
            assert sweep.plan(registry.load(name), preset, overrides).trials, (name, preset, overrides)


@pytest.mark.parametrize("path", NOTEBOOKS, ids=lambda p: p.stem)
def test_notebook_is_stored_without_outputs(path):
    nb = nbformat.read(path, as_version=4)
    for cell in nb.cells:
        if cell.cell_type == "code":
            assert not cell.outputs and cell.execution_count is None, f"{path.name} holds outputs"


def _execute(path, preset, tmp_path, monkeypatch):
    monkeypatch.setenv("PHYSAI_NOTEBOOK_PRESET", preset)
    monkeypatch.setenv("PHYSAI_NOTEBOOK_OUT", str(tmp_path / "results"))
    monkeypatch.setenv("PYTHONPATH", str(REPO))
    nb = nbformat.read(path, as_version=4)
    NotebookClient(nb, timeout=900, kernel_name="python3", resources={"metadata": {"path": str(tmp_path)}}).execute()
    _assert_shows_results(nb, path.name)


def _assert_shows_results(nb, name: str) -> None:
    """An executed notebook shows figures (once, from the cell that displays them, not again where
    they were drawn) and verdict tables, with no error and no warning in its output."""
    outputs = [o for c in nb.cells if c.cell_type == "code" for o in c.outputs]
    assert not [o for o in outputs if o.output_type == "error"], name
    assert any("image/png" in o.get("data", {}) for o in outputs), f"{name} should show the experiment's figures"
    assert any("status" in o.get("data", {}).get("text/html", "") for o in outputs), f"{name}: no verdict table"
    for cell in nb.cells:
        if cell.cell_type == "code" and "run_experiment(" in cell.source:
            assert not [o for o in cell.outputs if "image/png" in o.get("data", {})], (name, cell.source)
    streams = "".join(o.get("text", "") for o in outputs)
    assert "ipywidgets" not in streams and "Warning" not in streams, (name, streams[-2000:])


@pytest.mark.slow
@pytest.mark.parametrize("path", NOTEBOOKS, ids=lambda p: p.stem)
def test_notebook_executes(path, tmp_path, monkeypatch):
    _execute(path, "tiny", tmp_path, monkeypatch)


@pytest.mark.slow
@pytest.mark.parametrize("path", NOTEBOOKS, ids=lambda p: p.stem)
def test_notebook_executes_on_demo(path, tmp_path, monkeypatch):
    _execute(path, "demo", tmp_path, monkeypatch)


EXECUTED = REPO / "results" / "notebooks"


def test_every_notebook_has_a_current_executed_copy():
    """Teachers preview ``results/notebooks/`` (``python -m analysis.notebooks``, run by ``make reference``):
    one executed copy per notebook, with the notebook's own cells, outputs of the reference results
    (figures and verdict tables, no errors) and the exercises left for the reader."""
    from analysis.notebooks import is_exercise

    assert sorted(p.name for p in EXECUTED.glob("*.ipynb")) == [p.name for p in NOTEBOOKS]
    for path in NOTEBOOKS:
        stored, executed = nbformat.read(path, as_version=4), nbformat.read(EXECUTED / path.name, as_version=4)
        assert [c.source for c in executed.cells] == [c.source for c in stored.cells], f"{path.name}: stale copy"
        _assert_shows_results(executed, path.name)
        for cell in executed.cells:
            if is_exercise(cell):
                assert not cell.outputs, f"{path.name}: an exercise is the reader's to run"
    size = sum(p.stat().st_size for p in EXECUTED.glob("*.ipynb"))
    assert size < 0.5 * 2**20 * len(NOTEBOOKS), "executed notebooks must stay under 0.5 MB per notebook"


def _names(source: str) -> tuple[set[str], set[str]]:
    """(names a cell defines, names it reads)."""
    tree = _cell_tree(source)
    defined = {n.id for n in ast.walk(tree) if isinstance(n, ast.Name) and isinstance(n.ctx, ast.Store)}
    defined |= {
        a.asname or a.name for n in ast.walk(tree) if isinstance(n, ast.Import | ast.ImportFrom) for a in n.names
    }
    return defined, {n.id for n in ast.walk(tree) if isinstance(n, ast.Name) and isinstance(n.ctx, ast.Load)}


@pytest.mark.parametrize("path", NOTEBOOKS, ids=lambda p: p.stem)
def test_no_cell_needs_an_exercise_to_have_run(path):
    """The executed copies leave exercises unexecuted, so no other cell may read a name only an exercise defines."""
    from analysis.notebooks import is_exercise

    by_exercises: set[str] = set()
    by_others: set[str] = set()
    for cell in nbformat.read(path, as_version=4).cells:
        if cell.cell_type != "code":
            continue
        defined, used = _names(cell.source)
        if is_exercise(cell):
            by_exercises |= defined
            continue
        needs = used & by_exercises - by_others - defined
        assert not needs, f"{path.name}: a cell reads {sorted(needs)}, defined only by an exercise above it"
        by_others |= defined
