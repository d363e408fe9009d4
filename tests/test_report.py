"""Reviewer outputs: the HTML report renders in headless Chromium; reproduce writes the
summary; compare reports moved metrics."""

import os
import shutil
import subprocess

import pandas as pd
import pyarrow as pa
import pytest

from physai import store
from tests.conftest import physai

TOY = "tests.toy_experiment"


@pytest.fixture(scope="module")
def reproduced(tmp_path_factory):
    root = tmp_path_factory.mktemp("reproduce")
    r = physai("reproduce", "--only", TOY, "--preset", "demo", "--out", str(root), "--no-progress")
    assert r.returncode == 0, r.stderr
    return root


def _chromium() -> str:
    """Finds Chromium. Missing on a user's machine: skipped, naming the command that installs
    it. Missing in CI (``CI`` set; ``.ci/run`` installs it first): a failure, never a skip."""
    for name in ("chromium", "chromium-browser", "google-chrome"):
        if shutil.which(name):
            return shutil.which(name)
    message = "Chromium is not installed; install it with: sudo apt-get install chromium"
    if os.environ.get("CI"):
        pytest.fail(message)
    pytest.skip(message)


CHROME_FLAGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--allow-file-access-from-files",
    "--virtual-time-budget=5000",
]


def test_report_renders_in_headless_chromium_with_figures_and_verdicts(reproduced, tmp_path):
    chromium = _chromium()
    page = reproduced / "toy" / "demo" / "report.html"
    html = page.read_text()
    assert "http://" not in html and "https://" not in html  # self-contained: nothing to fetch
    profile = ["--user-data-dir=" + str(tmp_path / "profile")]
    dom = subprocess.run(
        [chromium, *CHROME_FLAGS, *profile, "--enable-logging=stderr", "--dump-dom", page.as_uri()],
        capture_output=True,
        text=True,
        timeout=180,
    )
    assert dom.returncode == 0, dom.stderr[-2000:]
    assert 'data-figures-loaded="1"' in dom.stdout  # the embedded figure decoded in the browser
    assert "Uncaught" not in dom.stderr  # no JavaScript error on the page
    assert 'id="verdicts"' in dom.stdout and "supported" in dom.stdout
    shot = tmp_path / "report.png"
    r = subprocess.run(
        [chromium, *CHROME_FLAGS, *profile, f"--screenshot={shot}", "--window-size=1200,1600", page.as_uri()],
        capture_output=True,
        text=True,
        timeout=180,
    )
    assert r.returncode == 0 and shot.exists() and shot.stat().st_size > 20_000  # a real, non-blank page


def test_reproduce_writes_summary_index_and_reports(reproduced):
    summary = (reproduced / "SUMMARY.md").read_text()
    assert "| toy | demo | fits |" in summary and "**supported**" in summary
    index = (reproduced / "index.html").read_text()
    assert "toy/demo/report.html" in index
    report = (reproduced / "toy" / "demo" / "report.html").read_text()
    # The reproduce block names a user's experiment by its module path and the results root.
    verify = f"physai verify tests.toy_experiment --preset demo --out {reproduced}"
    for part in ("Question.", "Anchor:", "Provenance", verify, "grid axis"):
        assert part in report, part


def test_report_needs_stored_results(tmp_path):
    r = physai("report", TOY, "--out", str(tmp_path))
    assert r.returncode == 2 and "nothing stored" in r.stderr


def test_compare_flags_metrics_that_moved(reproduced, tmp_path):
    same = physai("compare", TOY, "--out", str(reproduced), "--reference", str(reproduced))
    assert same.returncode == 0 and "0 of 6 median metrics moved" in same.stdout
    # a reference whose test error was 50% lower: every test_mse median moved
    ref = tmp_path / "ref"
    shutil.copytree(reproduced / "toy", ref / "toy")
    for f in (ref / "toy" / "demo" / "trials").glob("*.parquet"):
        t = pd.read_parquet(f)
        t["test_mse"] = t["test_mse"] * 0.5
        store.write_table(f, pa.Table.from_pandas(t, preserve_index=False))
    moved = physai("compare", TOY, "--out", str(reproduced), "--reference", str(ref))
    assert moved.returncode == 1
    assert "2 of 6 median metrics moved" in moved.stdout and "test_mse" in moved.stdout


def test_runtime_is_wall_time_of_overlapping_shards():
    """Two workers' overlapping shards count once; the gap before a resumption does not count."""
    from types import SimpleNamespace

    from physai.report import runtime_seconds

    shards = pd.DataFrame({"start": [0.0, 1.0, 100.0], "end": [10.0, 12.0, 105.0]})
    assert runtime_seconds(SimpleNamespace(shards=shards)) == 17.0  # [0, 12] + [100, 105]
    empty = SimpleNamespace(shards=pd.DataFrame(columns=["start", "end"]))
    assert runtime_seconds(empty) != runtime_seconds(empty)  # NaN
