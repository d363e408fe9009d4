"""The README's "Your own package" section, followed literally in a fresh virtual environment.

The commands are read from the README itself (the ``sh`` block after "**Your own package.**"),
so the test breaks when the README and the code disagree. The fresh environment borrows the
project environment's installed dependencies through a ``.pth`` file (instead of downloading
JAX again), then installs physai and the example package the way a user would.
"""

import os
import re
import shutil
import site
import subprocess
import sys

import pytest

from tests.conftest import REPO


def _readme_commands() -> list[str]:
    text = (REPO / "README.md").read_text()
    section = text[text.index("**Your own package.**") :]
    block = re.search(r"```sh\n(.*?)```", section, re.S).group(1)
    return [line.split("#")[0].strip() for line in block.splitlines() if line.strip()]


def test_the_readme_section_names_the_worked_example_and_it_is_short():
    example = REPO / "examples" / "mypkg" / "mypkg" / "random_labels.py"
    assert "examples/mypkg/mypkg/random_labels.py" in (REPO / "README.md").read_text()
    assert len(example.read_text().splitlines()) < 150


@pytest.mark.timeout(600)
def test_own_package_runs_as_the_readme_says(tmp_path):
    env_dir = tmp_path / "fresh-venv"
    subprocess.run([sys.executable, "-m", "venv", str(env_dir)], check=True)
    fresh_site = next((env_dir / "lib").glob("python3*/site-packages"))
    (fresh_site / "borrowed.pth").write_text("\n".join(site.getsitepackages()) + "\n")
    py = env_dir / "bin" / "python"
    quiet = dict(check=True, capture_output=True, text=True)
    subprocess.run([py, "-m", "pip", "install", "--quiet", "--no-deps", "-e", str(REPO)], **quiet)
    work = tmp_path / "user"  # a user's folder holding their package, not the repository
    shutil.copytree(REPO / "examples", work / "examples")
    env = {k: v for k, v in os.environ.items() if k not in ("PYTHONPATH", "VIRTUAL_ENV")}
    commands = _readme_commands()
    assert len(commands) == 3
    for line in commands:
        args = line.replace(".venv/bin/", str(env_dir / "bin") + "/").split()
        r = subprocess.run(args, cwd=work, env=env, capture_output=True, text=True)
        assert r.returncode in (0, 1), (line, r.stdout[-2000:], r.stderr[-2000:])  # 1: a verdict not supported
    verdicts = work / "results" / "random_labels" / "demo" / "verdicts.json"
    assert verdicts.exists() and (work / "results" / "random_labels" / "tiny" / "trials").is_dir()


def test_the_worked_examples_checks_can_fail():
    import pandas as pd

    sys.path.insert(0, str(REPO / "examples" / "mypkg"))
    try:
        from mypkg import random_labels as rl
    finally:
        sys.path.pop(0)
    from physai.experiment import Results

    def results(train_permuted, test_real, test_permuted):
        rows = [
            {"width": 512, "shuffle": s, "seed": k, "status": "ok", "train_rel_mse": tr, "test_rel_mse": te}
            for k in range(5)
            for s, tr, te in (
                (0, 0.01, test_real + 0.01 * k),
                (1, train_permuted + 0.001 * k, test_permuted + 0.01 * k),
            )
        ]
        return Results(pd.DataFrame(rows), pd.DataFrame(), pd.DataFrame())

    memorises, gap = (h.evaluate for h in rl.HYPOTHESES)
    assert memorises(results(0.001, 0.1, 1.5)).status == "supported"
    assert memorises(results(0.5, 0.1, 1.5)).status == "refuted"  # a student too small to memorise
    assert gap(results(0.001, 0.1, 1.5)).status == "supported"
    assert gap(results(0.001, 0.1, 0.3)).status == "refuted"  # permuted labels that generalise
