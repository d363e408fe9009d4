"""The physai command as a user runs it: bad input is one line and exit 2, nothing written."""

import os
import subprocess
import sys
from pathlib import Path

import pytest

from tests.conftest import REPO, physai

TOY = "tests.toy_experiment"


def _snapshot(root: Path) -> dict:
    return {p: p.stat().st_mtime_ns for p in root.rglob("*")} if root.exists() else {}


@pytest.fixture(scope="module")
def stored(tmp_path_factory):
    """A results root holding a finished toy demo run."""
    root = tmp_path_factory.mktemp("results")
    r = physai("run", TOY, "--out", str(root), "--no-progress")
    assert r.returncode == 0, r.stderr
    return root


BAD = {
    "unknown experiment": (["run", "nope"], "unknown experiment 'nope'; choose from:"),
    "unknown preset": (
        ["run", TOY, "--preset", "huge"],
        "unknown preset 'huge' for toy; choose from: tiny, demo, paper",
    ),
    "unknown grid key": (["run", TOY, "--set", "depth=3"], "unknown key 'depth'"),
    "malformed value": (["run", TOY, "--set", "lr=[1,"], "malformed value"),
    "mistyped value": (["run", TOY, "--set", "width=wide"], "expected int"),
    "missing =": (["run", TOY, "--set", "width"], "expected key=value"),
    "unknown strategy": (["run", TOY, "--strategy", "magic"], "invalid choice: 'magic'"),
    "unknown command": (["frobnicate"], "invalid choice: 'frobnicate'"),
    "verify unknown preset": (["verify", TOY, "--preset", "huge"], "unknown preset"),
    "plot nothing stored": (["plot", TOY, "--set", "seed=[99]"], "nothing stored"),
    # values of the right type but outside their meaning
    "width above the compiled maximum": (
        ["run", "width_minima", "--preset", "tiny", "--set", "width=1000"],
        "width=1000 is outside its domain",
    ),
    "width 0": (["run", TOY, "--set", "width=0"], "width must be an integer >= 1"),
    "negative seed": (["run", TOY, "--set", "seed=-1"], "seed=-1 is outside its domain"),
    "n 0": (["run", "width_minima", "--preset", "tiny", "--set", "n=0"], "n=0 is outside its domain"),
    "negative steps": (["run", TOY, "--set", "steps=-5"], "steps must be an integer >= 1"),
    "zero learning rate": (["run", TOY, "--set", "lr=0"], "lr must be a number > 0"),
    "zero workers": (["run", TOY, "--backend", "processes", "--workers", "0"], "--workers must be at least 1"),
    "grid over the limit": (["run", TOY, "--max-trials", "5"], "the grid has 6 trials, over the limit of 5"),
}


@pytest.mark.parametrize("case", list(BAD))
def test_bad_input_is_one_line_exit_2_and_writes_nothing(case, stored, capsys):
    # In this process (the console script's main, without a Python start-up per case); the
    # console script itself is exercised by the subprocess tests around this one.
    from physai import cli

    args, message = BAD[case]
    before = _snapshot(stored)
    try:
        code = cli.main([*args, "--out", str(stored)] if args[0] != "frobnicate" else list(args))
    except SystemExit as e:  # argparse's own exit, as the console script would see it
        code = e.code
    out, err = capsys.readouterr()
    assert code == 2, (out, err)
    lines = err.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("physai: error:"), err
    assert message in lines[0]
    assert "Traceback" not in err
    assert _snapshot(stored) == before  # nothing written or overwritten


def test_bad_input_through_the_console_script_is_one_line_exit_2(stored):
    r = physai("run", TOY, "--set", "width=0", "--out", str(stored))
    assert r.returncode == 2 and r.stderr.count("\n") == 1 and "width must be an integer >= 1" in r.stderr


def test_unwritable_out_is_refused(tmp_path):
    blocker = tmp_path / "file"
    blocker.write_text("not a folder")
    r = physai("run", TOY, "--out", str(blocker / "sub"))
    assert r.returncode == 2 and "not a writable folder" in r.stderr
    assert blocker.read_text() == "not a folder"


def test_debug_shows_the_traceback():
    r = physai("run", "nope", "--debug")
    assert r.returncode != 0 and "Traceback" in r.stderr


def test_verify_exit_codes_follow_the_verdicts(stored):
    ok = physai("verify", TOY, "--out", str(stored), "--no-progress")
    assert ok.returncode == 0, ok.stderr
    assert "supported" in ok.stdout and "0 shards run, 4 already stored" in ok.stdout
    assert (stored / "toy" / "demo" / "verdicts.json").exists()
    # diverge preset, all lr huge: no ok trials -> the check has no data -> inconclusive -> exit 1
    bad = physai("verify", TOY, "--preset", "diverge", "--set", "lr=1e6", "--out", str(stored), "--no-progress")
    assert bad.returncode == 1, bad.stderr
    assert "inconclusive" in bad.stdout


def test_status_and_list(stored):
    r = physai("status", TOY, "--out", str(stored))
    assert r.returncode == 0 and "6/6 trials stored" in r.stdout
    assert "GFLOP/s" in r.stdout and "of this machine's float32 matmul peak" in r.stdout, r.stdout
    r = physai("status", TOY, "--preset", "paper", "--out", str(stored))
    assert "0/12 trials stored" in r.stdout and "12 missing" in r.stdout
    r = physai("list")
    assert r.returncode == 0 and "double_descent" in r.stdout


def test_a_command_on_one_experiment_imports_that_experiment_alone():
    # every command would otherwise pay for importing all experiments' dependencies
    code = (
        "import sys; from physai import registry; registry.load('width_minima');"
        "print(sorted(m for m in sys.modules if m.startswith('experiments.')))"
    )
    r = subprocess.run([sys.executable, "-c", code], cwd=REPO, capture_output=True, text=True, timeout=120)
    assert r.returncode == 0 and r.stdout.strip() == "['experiments.width_minima']", r.stderr


def test_output_into_a_closed_pipe_stops_quietly():
    # `physai list | head -1`: the reader leaves before physai writes
    env = {**os.environ, "PYTHONPATH": str(REPO)}
    proc = subprocess.Popen(
        [sys.executable, "-m", "physai.cli", "list"], cwd=REPO, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE
    )
    proc.stdout.close()
    err = proc.stderr.read().decode()
    assert proc.wait(timeout=120) == 0 and err == ""


def test_persistent_compilation_cache_is_private_and_used(tmp_path):
    cache = tmp_path / "cache"
    r = physai("run", TOY, "--out", str(tmp_path / "res"), "--no-progress", env={"PHYSAI_CACHE_DIR": str(cache)})
    assert r.returncode == 0, r.stderr
    assert cache.is_dir() and (cache.stat().st_mode & 0o777) == 0o700
    assert any(cache.iterdir()), "compiled programs should be cached"


@pytest.mark.skipif(not hasattr(os, "geteuid") or os.geteuid() != 0, reason="needs root to chown a folder")
def test_a_compilation_cache_owned_by_another_user_is_refused_not_taken_over(tmp_path):
    cache = tmp_path / "theirs"
    cache.mkdir(mode=0o777)
    os.chmod(cache, 0o777)
    os.chown(cache, 12345, 12345)
    r = physai(
        "run",
        TOY,
        "--preset",
        "tiny",
        "--out",
        str(tmp_path / "res"),
        "--no-progress",
        env={"PHYSAI_CACHE_DIR": str(cache)},
    )
    assert r.returncode == 0, r.stderr
    assert "belongs to another user" in r.stderr and "running without it" in r.stderr
    assert (cache.stat().st_mode & 0o777) == 0o777 and cache.stat().st_uid == 12345  # not chmod-ed
    assert not any(cache.iterdir())  # and nothing of ours written into it


def test_bare_physai_lists_the_commands_and_version_prints_the_version():
    r = physai()
    assert r.returncode == 0 and all(c in r.stdout for c in ("list", "run", "verify", "reproduce", "compare"))
    r = physai("--version")
    assert r.returncode == 0 and r.stdout.strip().startswith("physai ")
    import physai as pkg

    assert r.stdout.strip() == f"physai {pkg.__version__}"


def test_progress_in_a_log_is_a_plain_line_at_a_steady_interval(tmp_path):
    r = physai("run", TOY, "--out", str(tmp_path), env={"PHYSAI_TOY_SLEEP": "0.5", "PHYSAI_PROGRESS_EVERY": "0.25"})
    assert r.returncode == 0, r.stderr
    lines = [line for line in r.stderr.splitlines() if line.startswith("toy: ")]
    assert len(lines) >= 4, r.stderr  # ~2 s of shards, a line every 0.25 s: not one bar at the end
    assert lines[-1].startswith("toy: 6/6 trials") and "elapsed, ETA" in lines[-1]
    assert "\x1b[" not in r.stderr  # no terminal escape codes in a log
    assert lines[0].endswith("ETA -:--:--")  # nothing to go by before the first shard ends
    # A second sweep of new seeds knows its ETA from the start: the stored shards' timings.
    r = physai(
        "run", TOY, "--out", str(tmp_path), "--set", "seed=[7,8]",
        env={"PHYSAI_TOY_SLEEP": "0.5", "PHYSAI_PROGRESS_EVERY": "0.1"},
    )  # fmt: skip
    first = [line for line in r.stderr.splitlines() if line.startswith("toy: ")][0]
    assert first.startswith("toy: 0/") and not first.endswith("-:--:--"), first


def test_progress_moves_inside_a_shard_through_a_worker_process(tmp_path):
    # Each shard waits a second after training, before it is stored: the trainer's own
    # reports, forwarded by the worker, count its trials during that second.
    r = physai(
        "run", TOY, "--out", str(tmp_path), "--backend", "processes", "--workers", "1",
        env={"PHYSAI_TOY_SLEEP_AFTER": "1", "PHYSAI_PROGRESS_EVERY": "0.2"},
    )  # fmt: skip
    assert r.returncode == 0, r.stderr
    lines = [line for line in r.stderr.splitlines() if line.startswith("toy: ")]
    # Once stored, the last shard ends the sweep with one line; its trained trials showed before.
    assert sum(line.startswith("toy: 6/6") for line in lines) >= 3, r.stderr


def test_eta_from_the_observed_rate_or_else_from_earlier_runs():
    from physai.timing import eta_seconds

    assert eta_seconds(10.0, 0.5, 6, prior=3.0) == 8.0  # half a trial carries the compile: the prior still rules
    assert eta_seconds(10.0, 0.5, 6, prior=None) == 120.0  # nothing else to go by
    assert eta_seconds(10.0, 2, 6, prior=100.0) == 30.0  # observed: 5 s per trial
    assert eta_seconds(10.0, 0, 6, prior=3.0) == 8.0  # prior: 18 s of work, 10 already spent
    assert eta_seconds(30.0, 0, 6, prior=3.0) == 0.0
    assert eta_seconds(10.0, 0, 6, prior=None) != eta_seconds(10.0, 0, 6, prior=None)  # NaN: unknown


def test_undecodable_results_are_a_one_line_error_naming_the_file(tmp_path):
    assert physai("run", TOY, "--preset", "tiny", "--out", str(tmp_path), "--no-progress").returncode == 0
    victim = sorted((tmp_path / "toy" / "tiny" / "trials").glob("*.parquet"))[0]
    victim.write_bytes(b"\xff\xfe not parquet at all \x00" * 20)
    for command in ("plot", "report", "status"):
        r = physai(command, TOY, "--preset", "tiny", "--out", str(tmp_path))
        if command == "status":  # status counts it as missing (a run would set it aside and redo it)
            assert r.returncode == 0 and "missing" in r.stdout, r.stderr
            continue
        assert r.returncode == 2, (command, r.stdout, r.stderr)
        line = r.stderr.strip().splitlines()
        assert len(line) == 1 and victim.name in line[0] and "Traceback" not in r.stderr, r.stderr


def test_sql_queries_the_deduplicated_tables(stored):
    from physai import store

    r = physai("sql", TOY, "SELECT width, count(*) AS n FROM trials GROUP BY width ORDER BY width", "--csv")
    assert r.returncode == 2 and "nothing stored" in r.stderr  # default --out results holds no toy run
    query = "SELECT width, count(*) AS n, max(step) AS last FROM trials JOIN curves USING (trial_id) GROUP BY width"
    r = physai("sql", TOY, query + " ORDER BY width", "--csv", "--out", str(stored))
    assert r.returncode == 0, r.stderr
    trials = store.load(stored, "toy", "demo")["trials"]
    lines = r.stdout.strip().splitlines()
    assert lines[0] == "width,n,last" and len(lines) - 1 == trials["width"].nunique()
    r = physai("sql", TOY, "SELECT nope FROM trials", "--out", str(stored))
    assert r.returncode == 2 and len(r.stderr.strip().splitlines()) == 1 and "query failed" in r.stderr
    con = store.connect(stored, "toy", "demo")
    assert con.execute("SELECT count(DISTINCT trial_id) FROM trials").fetchone()[0] == len(trials)


def test_export_writes_an_mlflow_file_store_of_every_trial(stored, tmp_path):
    from physai import store

    r = physai("export", TOY, "--out", str(stored), "--to", str(tmp_path))
    assert r.returncode == 0, r.stderr
    trials = store.load(stored, "toy", "demo")["trials"]
    (experiment,) = [p for p in (tmp_path / "mlruns").iterdir() if p.is_dir()]
    assert "name: toy/demo" in (experiment / "meta.yaml").read_text()
    runs = sorted(p for p in experiment.iterdir() if p.is_dir())
    assert [p.name for p in runs] == sorted(trials["trial_id"])
    runs = [p for p in runs if (p / "metrics" / "train_mse").exists()] or runs  # diverged: NaN curves
    row = trials.set_index("trial_id").loc[runs[0].name]
    assert (runs[0] / "params" / "width").read_text() == str(row["width"])
    history = (runs[0] / "metrics" / "train_mse").read_text().splitlines()  # split_metric
    steps = [int(line.split()[2]) for line in history]
    assert len(steps) >= 2 and steps == sorted(steps)  # the whole curve, in step order
    final = float((runs[0] / "metrics" / "final_train_mse").read_text().split()[1])
    assert final == row["train_mse"]
    again = physai("export", TOY, "--out", str(stored), "--to", str(tmp_path))
    assert again.returncode == 0 and len([p for p in experiment.iterdir() if p.is_dir()]) == len(runs)  # no copies


def test_a_verdict_not_supported_at_demo_scale_says_what_the_reference_runs_got():
    from physai import registry, sweep
    from physai.console import scale_notes
    from physai.experiment import Verdict

    plan_ = sweep.plan(registry.load("double_descent.linear"), "demo")
    names = [h.name for h in plan_.experiment.hypotheses]
    verdicts = [Verdict("refuted", 1.0, "", hypothesis=names[0]), Verdict("supported", 1.0, "", hypothesis=names[0])]
    notes = scale_notes(plan_, verdicts)
    assert len(notes) == 2 and notes[0].startswith(f"  {names[0]}: refuted here")
    assert "the reference demo run gave" in notes[0] and "at paper scale the reference gives" in notes[0]
    assert "physai verify double_descent.linear --preset paper" in notes[1]
    assert scale_notes(plan_, verdicts[1:]) == []  # nothing to explain when all are supported


def test_every_trials_file_of_a_run_has_the_same_schema_and_duckdb_reads_them_directly(stored):
    import duckdb
    import pyarrow.parquet as pq

    files = sorted((stored / "toy" / "demo" / "trials").glob("*.parquet"))
    schemas = {pq.read_schema(f).remove_metadata() for f in files}
    assert len(files) >= 2 and len(schemas) == 1, schemas
    (schema,) = schemas
    assert str(schema.field("error").type) == "string" and str(schema.field("width").type) == "int64"
    n = duckdb.sql(f"SELECT count(*) FROM '{stored}/toy/demo/trials/*.parquet'").fetchall()[0][0]
    assert n == 6


def test_shard_start_and_end_are_utc_timestamps_and_old_float_seconds_still_read(stored):
    from types import SimpleNamespace

    import duckdb
    import pyarrow as pa
    import pyarrow.parquet as pq

    from physai import store
    from physai.report import runtime_seconds

    files = sorted((stored / "toy" / "demo" / "shards").glob("*.parquet"))
    for f in files:
        schema = pq.read_schema(f)
        assert schema.field("start").type == schema.field("end").type == pa.timestamp("us", tz="UTC")
    span = duckdb.sql(f"SELECT max(\"end\") - min(start) FROM '{stored}/toy/demo/shards/*.parquet'").fetchall()[0][0]
    assert span.total_seconds() > 0  # an interval: DuckDB reads them as times
    shards = store.load(stored, "toy", "demo")["shards"]
    assert str(shards["end"].dtype).startswith("datetime64")
    typed = runtime_seconds(SimpleNamespace(shards=shards))
    floats = shards.assign(start=store.posix_seconds(shards["start"]), end=store.posix_seconds(shards["end"]))
    assert typed > 0 and typed == pytest.approx(runtime_seconds(SimpleNamespace(shards=floats)))
