"""The ``physai`` command.

    physai list
    physai run NAME [--preset P] [--set key=value ...] [--out DIR] [--strategy S]
               [--backend local|processes|ray] [--workers N] [--address ADDR]
    physai status NAME [--preset P]
    physai plot NAME [--preset P]
    physai verify NAME [--preset P]     exit 0: all supported, 1: refuted/inconclusive, 2: error
    physai demo NAME                    run the demo preset, print verdicts, write figures
    physai report NAME [--preset P]     one self-contained HTML page of stored results
    physai reproduce [--preset paper] [--only NAMES]   every experiment; SUMMARY.md + index.html
    physai compare NAME [--preset P]    which metrics moved against results/reference
    physai sql NAME "SELECT ..."        DuckDB SQL over the stored trials, curves and shards
    physai export NAME --to DIR         the stored trials and curves as an MLflow file store

Errors are one line on stderr and exit code 2; ``--debug`` shows tracebacks.
"""

from __future__ import annotations

import argparse
import os
import sys

from physai import console
from physai.errors import PhysaiError

EXIT_OK, EXIT_REFUTED, EXIT_ERROR = 0, 1, 2


class _Parser(argparse.ArgumentParser):
    def error(self, message):  # one line, not usage + message
        raise PhysaiError(message)


def _parser() -> argparse.ArgumentParser:
    common = argparse.ArgumentParser(add_help=False)
    common.add_argument("--debug", action="store_true", help="show tracebacks")
    exp = argparse.ArgumentParser(add_help=False, parents=[common])
    exp.add_argument("name", help="experiment (see `physai list`)")
    exp.add_argument("--preset", default="demo", help="preset (default: demo)")
    exp.add_argument(
        "--set",
        dest="overrides",
        action="append",
        default=[],
        metavar="KEY=VALUE",
        help="override a grid axis (a value or a list) or a setting; repeatable",
    )
    exp.add_argument("--out", default="results", help="results root (default: results)")
    exp.add_argument(
        "--max-trials",
        type=int,
        default=None,
        metavar="N",
        help="refuse grids larger than N trials (default: 1,000,000)",
    )
    execution = argparse.ArgumentParser(add_help=False)  # how a sweep runs: run, verify, demo, reproduce
    execution.add_argument(
        "--strategy",
        default="auto",
        choices=["auto", "sequential", "vmap", "shard"],
        help="trainer batching strategy (default: auto, chosen per backend)",
    )
    execution.add_argument("--no-progress", action="store_true", help="hide the progress bar")
    execution.add_argument(
        "--backend",
        default="local",
        choices=["local", "processes", "ray"],
        help="where shards run (default: local, in this process)",
    )
    execution.add_argument(
        "--workers", type=int, default=None, help="worker processes for --backend processes (default: one per core)"
    )
    execution.add_argument(
        "--address", default=None, help="Ray cluster address for --backend ray (default: start a local instance)"
    )
    execution.add_argument("--retries", type=int, default=2, help="retries of a shard whose worker died (default: 2)")
    execution.add_argument(
        "--rerun", action="store_true", help="recompute stored results that other code made (default: refuse them)"
    )
    execution.add_argument(
        "--save-params",
        action="store_true",
        help="keep each trained trial's final parameters as .npz (physai.store.load_params reads them)",
    )
    runs = argparse.ArgumentParser(add_help=False, parents=[exp, execution])

    parser = _Parser(
        prog="physai", description="Controlled experiments that test the laws of deep learning.", parents=[common]
    )
    from physai import __version__

    parser.add_argument("--version", action="version", version=f"physai {__version__}")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND", parser_class=_Parser)
    lister = sub.add_parser("list", parents=[common], help="experiments and their hypotheses")
    lister.add_argument("--names", action="store_true", help="only the names, one per line")
    sub.add_parser("run", parents=[runs], help="run (or resume) a sweep")
    sub.add_parser("status", parents=[exp], help="trials planned, stored, diverged, failed")
    sub.add_parser("plot", parents=[exp], help="write the figures of stored results")
    sub.add_parser("verify", parents=[runs], help="run what is missing, then print the verdicts")
    sub.add_parser("demo", parents=[runs], help="run the demo preset, print verdicts, write figures")
    sub.add_parser("report", parents=[exp], help="one self-contained HTML page of stored results")
    repro = sub.add_parser(
        "reproduce", parents=[common, execution], help="run every experiment, write SUMMARY.md and reports"
    )
    repro.add_argument("--preset", default="paper", help="preset to run for every experiment (default: paper)")
    repro.add_argument("--only", nargs="+", default=None, metavar="NAME", help="only these experiments")
    repro.add_argument("--out", default="results", help="results root (default: results)")
    sql = sub.add_parser("sql", parents=[exp], help="query stored trials, curves and shards with DuckDB SQL")
    sql.add_argument("query", help='e.g. "SELECT width, median(test_loss) FROM trials GROUP BY width"')
    sql.add_argument("--csv", action="store_true", help="print CSV instead of a table")
    export = sub.add_parser("export", parents=[exp], help="write stored trials and curves as an MLflow file store")
    export.add_argument("--to", required=True, metavar="DIR", help="folder that receives mlruns/")
    comp = sub.add_parser("compare", parents=[exp], help="which metrics moved against the reference results")
    comp.add_argument("--reference", default="results/reference", help="reference root (default: results/reference)")
    comp.add_argument(
        "--tolerance",
        type=float,
        default=None,
        help="relative tolerance for metrics the experiment states none for (default 0.05)",
    )
    return parser


def _plan(args):
    from physai import registry, sweep

    experiment = registry.load(args.name)
    return sweep.plan(experiment, args.preset, args.overrides, getattr(args, "strategy", "auto"), _max_trials(args))


def _max_trials(args) -> int:
    from physai import sweep

    limit = getattr(args, "max_trials", None)  # `reproduce` runs the presets as they are
    if limit is not None and limit < 1:
        raise PhysaiError("--max-trials must be at least 1")
    return sweep.MAX_TRIALS if limit is None else limit


def cmd_list(args) -> int:
    from physai import registry

    for name in registry.names():
        if args.names:
            print(name)
            continue
        exp = registry.load(name)
        print(f"{name}: {exp.question}")
        for preset_name, preset in exp.presets.items():
            runtime = _reference_runtime(exp.name, preset_name)
            took = f"; {runtime} on the reference machine" if runtime else ""
            print(f"  preset {preset_name}: {preset.description or '(no description)'}{took}")
        for h in exp.hypotheses:
            print(f"  - {h.name}: {h.claim}")
            if h.source is not None:
                print(f"      source: {h.source.paper}, {h.source.where}: {h.source.statement}")
                print(f"      tolerance: {h.source.tolerance}")
            else:
                print(f"      anchor: {h.anchor}")
    return EXIT_OK


def _reference_runtime(experiment: str, preset: str) -> str:
    """The wall time of the stored reference run of a preset (``results/reference``), as text."""
    from physai import report, store, timing
    from physai.experiment import Results

    root = timing.REFERENCE_ROOT
    if not (root / experiment / preset / "shards").is_dir():
        return ""
    shards = store.load(root, experiment, preset)["shards"]
    seconds = report.runtime_seconds(Results(shards.iloc[0:0], shards.iloc[0:0], shards))
    if seconds != seconds:  # NaN: no shards
        return ""
    return f"{seconds:.0f} s" if seconds < 120 else f"{seconds / 60:.1f} min"


def _runner(args):
    from physai import backends

    if args.retries < 0:
        raise PhysaiError("--retries must be >= 0")
    if args.workers is not None and args.workers < 1:
        raise PhysaiError("--workers must be at least 1")
    if args.workers is not None and args.backend != "processes":
        raise PhysaiError("--workers applies to --backend processes")
    if args.address is not None and args.backend != "ray":
        raise PhysaiError("--address applies to --backend ray")
    return backends.get(
        args.backend, workers=args.workers, address=args.address, retries=args.retries, debug=args.debug
    )


def _print_summary(plan_, summary) -> None:
    print(
        f"{plan_.experiment.name}/{plan_.preset}: {summary.shards_run} shards run, "
        f"{summary.shards_skipped} already stored; trials ok {summary.ok}, diverged "
        f"{summary.diverged}, failed {summary.failed}; {summary.seconds:.1f} s"
    )


def _pipeline(args, name: str, preset: str, overrides, figures: bool):
    """Runs the one pipeline (``physai.pipeline.run_experiment``) with the CLI's options."""
    from physai import pipeline

    outcome = pipeline.run_experiment(
        name,
        preset,
        overrides,
        args.out,
        strategy=args.strategy,
        runner=_runner(args),
        progress=not args.no_progress,
        figures=figures,
        debug=args.debug,
        max_trials=_max_trials(args),
        rerun=args.rerun,
        save_params=getattr(args, "save_params", False),
    )
    _print_summary(outcome.plan, outcome.summary)
    return outcome


def cmd_run(args) -> int:
    from physai import pipeline, sweep

    plan_ = _plan(args)
    pipeline.check_out(args.out)
    if args.save_params:
        plan_ = sweep.saving_params(plan_, args.out)
    summary = sweep.run_sweep(
        plan_, args.out, progress=not args.no_progress, debug=args.debug, runner=_runner(args), rerun=args.rerun
    )
    _print_summary(plan_, summary)
    if args.save_params:
        pipeline.warn_missing_params(plan_)
    return EXIT_OK


def cmd_status(args) -> int:
    from physai import identity, store

    plan_ = _plan(args)
    stored = store.stored_status(args.out, plan_.experiment.name, plan_.preset)
    counts = {"ok": 0, "diverged": 0, "failed": 0, "missing": 0}
    for t in plan_.trials:
        counts[stored.get(t.trial_id, "missing")] += 1
    done = counts["ok"] + counts["diverged"]
    print(
        f"{plan_.experiment.name}/{plan_.preset}: {done}/{len(plan_.trials)} trials stored "
        f"({counts['ok']} ok, {counts['diverged']} diverged), {counts['failed']} failed, "
        f"{counts['missing']} missing; {len(plan_.shards)} shards"
    )
    try:
        console.print_efficiency(store.load(args.out, plan_.experiment.name, plan_.preset, plan_.trial_ids)["shards"])
    except PhysaiError as e:  # a damaged file: status still counts what is stored
        print(f"time: not read ({e})")
    stale = identity.stale_shards(plan_, args.out)
    if stale:
        print(f"stale: {identity.stale_message(plan_, stale, args.out)}")
        for stem, why in stale.items():
            print(f"  {stem}: {why}")
    return EXIT_OK


def _results(args, plan_):
    from physai import identity, sweep

    identity.require_current(plan_, args.out)  # never plot or report results of other code
    res = sweep.results(plan_, args.out)
    if res.trials.empty:
        raise PhysaiError(
            f"nothing stored for {plan_.experiment.name} preset {plan_.preset} under "
            f"{args.out}; run `physai run {plan_.experiment.name} --preset {plan_.preset}` first"
        )
    return res


def cmd_plot(args) -> int:
    from physai import pipeline

    plan_ = _plan(args)
    figures = pipeline.draw_figures(plan_.experiment, _results(args, plan_))
    for path in pipeline.write_figures(plan_.experiment, plan_.preset, figures, args.out):
        print(path)
    return EXIT_OK


def cmd_verify(args) -> int:
    outcome = _pipeline(args, args.name, args.preset, args.overrides, figures=args.command == "demo")
    console.print_verdicts(outcome.plan, outcome.verdicts)
    for line in console.scale_notes(outcome.plan, outcome.verdicts):
        print(line)
    for path in outcome.figure_paths:
        print(f"figure: {path}")
    return EXIT_OK if outcome.supported else EXIT_REFUTED


def cmd_report(args) -> int:
    from physai import pipeline, report

    plan_ = _plan(args)
    res = _results(args, plan_)
    verdicts = pipeline.evaluate(plan_.experiment, res)
    print(report.write_report(plan_, res, verdicts, args.out, args.overrides))
    return EXIT_OK


def cmd_reproduce(args) -> int:
    from physai import pipeline, registry, report, sweep

    names = registry.names()
    chosen = args.only or names
    unknown = [n for n in chosen if n not in names and "." not in n]  # dotted: a user's module
    if unknown:
        raise PhysaiError(f"unknown experiment {unknown[0]!r}; choose from: {', '.join(names)}")
    plans = []
    for name in chosen:  # validate every plan before running anything
        experiment = registry.load(name)
        if args.preset not in experiment.presets:
            raise PhysaiError(
                f"unknown preset {args.preset!r} for {name}; choose from: " + ", ".join(experiment.presets)
            )
        sweep.plan(experiment, args.preset, (), args.strategy)
        plans.append(experiment)
    pipeline.check_out(args.out)
    entries, reports = [], {}
    for experiment in plans:
        outcome = _pipeline(args, experiment, args.preset, (), figures=True)
        plan_, res, verdicts = outcome.plan, outcome.results, outcome.verdicts
        console.print_verdicts(plan_, verdicts)
        reports[f"{plan_.experiment.name}/{plan_.preset}"] = report.write_report(plan_, res, verdicts, args.out)
        entries.append((plan_.experiment.name, plan_.preset, verdicts, report.runtime_seconds(res)))
    rows = report.summary_rows(entries)
    summary, index = report.write_summary(rows, args.out, reports)
    print(f"summary: {summary}\nindex: {index}")
    return EXIT_OK if all(r["status"] == "supported" for r in rows) else EXIT_REFUTED


def cmd_sql(args) -> int:
    import duckdb

    from physai import store

    plan_ = _plan(args)  # validates the name and preset
    _results(args, plan_)  # refuses stale results (other code) and an empty store, as report does
    con = store.connect(args.out, plan_.experiment.name, plan_.preset)
    try:
        frame = con.sql(args.query).df()
    except duckdb.Error as e:
        raise PhysaiError(f"query failed: {str(e).splitlines()[0]}") from None
    print(frame.to_csv(index=False) if args.csv else frame.to_string(index=False), end="\n" if not args.csv else "")
    return EXIT_OK


def cmd_export(args) -> int:
    from physai import export, store

    plan_ = _plan(args)
    _results(args, plan_)  # refuses stale results and an empty store
    tables = store.load(args.out, plan_.experiment.name, plan_.preset, plan_.trial_ids)
    parameters = set().union(*(t.params for t in plan_.trials))
    root = export.export_mlflow(tables, plan_.experiment.name, plan_.preset, args.to, parameters)
    print(f"{len(tables['trials'])} runs written to {root}; open with: mlflow ui --backend-store-uri {root}")
    return EXIT_OK


def cmd_compare(args) -> int:
    from physai import report, sweep

    plan_ = _plan(args)
    current = _results(args, plan_)
    reference = sweep.results(plan_, args.reference)
    if reference.trials.empty:
        raise PhysaiError(
            f"no reference results for {plan_.experiment.name} preset {plan_.preset} under {args.reference}"
        )
    table = report.compare(plan_.experiment, current, reference, args.tolerance)
    moved = table[table["moved"]]
    print(
        f"{plan_.experiment.name}/{plan_.preset}: {len(moved)} of {len(table)} median metrics moved "
        f"beyond tolerance (current {args.out} vs reference {args.reference})"
    )
    if len(moved):
        with pd_options():
            print(moved.to_string(index=False))
    return EXIT_OK if moved.empty else EXIT_REFUTED


def pd_options():
    import pandas as pd

    return pd.option_context("display.max_rows", 200, "display.width", 160)


COMMANDS = {
    "list": cmd_list,
    "run": cmd_run,
    "status": cmd_status,
    "plot": cmd_plot,
    "verify": cmd_verify,
    "demo": cmd_verify,
    "report": cmd_report,
    "reproduce": cmd_reproduce,
    "compare": cmd_compare,
    "sql": cmd_sql,
    "export": cmd_export,
}


def main(argv: list[str] | None = None) -> int:
    """Entry point of the ``physai`` console script.

    Args:
      argv: arguments (default: ``sys.argv[1:]``).

    Returns:
      The exit code.
    """
    argv = sys.argv[1:] if argv is None else argv
    debug = "--debug" in argv
    os.environ.setdefault("MPLBACKEND", "Agg")  # figures are files here, never windows
    try:
        parser = _parser()
        args = parser.parse_args(argv)
        if args.command is None:  # a bare `physai`: what can it do?
            parser.print_help()
            return EXIT_OK
        if args.command == "demo" and args.preset != "demo":
            raise PhysaiError("physai demo always runs the demo preset; use verify for others")
        return COMMANDS[args.command](args)
    except PhysaiError as e:
        if debug:
            raise
        print(f"physai: error: {e}", file=sys.stderr)
        return EXIT_ERROR
    except BrokenPipeError:
        # the reader went away (`physai list | head`): as for any Unix filter, stop quietly; stdout
        # goes to /dev/null so the interpreter's final flush does not raise again
        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
        return EXIT_OK
    except KeyboardInterrupt:
        print("physai: interrupted; completed shards are stored, run again to resume", file=sys.stderr)
        return 130
    except Exception as e:  # a bug or an environment problem: one line unless --debug
        if debug:
            raise
        print(f"physai: error: {type(e).__name__}: {e} (rerun with --debug for the traceback)", file=sys.stderr)
        return EXIT_ERROR


if __name__ == "__main__":
    sys.exit(main())
