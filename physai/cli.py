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

Errors are one line on stderr and exit code 2; ``--debug`` shows tracebacks.
"""
from __future__ import annotations

import argparse
import json
import math
import sys
import tempfile
from pathlib import Path

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
    exp.add_argument("--set", dest="overrides", action="append", default=[], metavar="KEY=VALUE",
                     help="override a grid axis (a value or a list) or a setting; repeatable")
    exp.add_argument("--out", default="results", help="results root (default: results)")
    execution = argparse.ArgumentParser(add_help=False)  # how a sweep runs: run, verify, demo, reproduce
    execution.add_argument("--strategy", default="auto", choices=["auto", "sequential", "vmap", "shard"],
                           help="trainer batching strategy (default: auto, chosen per backend)")
    execution.add_argument("--no-progress", action="store_true", help="hide the progress bar")
    execution.add_argument("--backend", default="local", choices=["local", "processes", "ray"],
                           help="where shards run (default: local, in this process)")
    execution.add_argument("--workers", type=int, default=None,
                           help="worker processes for --backend processes (default: one per core)")
    execution.add_argument("--address", default=None,
                           help="Ray cluster address for --backend ray (default: start a local instance)")
    execution.add_argument("--retries", type=int, default=2,
                           help="retries of a shard whose worker died (default: 2)")
    runs = argparse.ArgumentParser(add_help=False, parents=[exp, execution])

    parser = _Parser(prog="physai", description="Controlled experiments that test the laws of deep learning.",
                     parents=[common])
    sub = parser.add_subparsers(dest="command", required=True, parser_class=_Parser)
    lister = sub.add_parser("list", parents=[common], help="experiments and their hypotheses")
    lister.add_argument("--names", action="store_true", help="only the names, one per line")
    sub.add_parser("run", parents=[runs], help="run (or resume) a sweep")
    sub.add_parser("status", parents=[exp], help="trials planned, stored, diverged, failed")
    sub.add_parser("plot", parents=[exp], help="write the figures of stored results")
    sub.add_parser("verify", parents=[runs], help="run what is missing, then print the verdicts")
    sub.add_parser("demo", parents=[runs], help="run the demo preset, print verdicts, write figures")
    sub.add_parser("report", parents=[exp], help="one self-contained HTML page of stored results")
    repro = sub.add_parser("reproduce", parents=[common, execution],
                           help="run every experiment, write SUMMARY.md and reports")
    repro.add_argument("--preset", default="paper", help="preset to run for every experiment (default: paper)")
    repro.add_argument("--only", nargs="+", default=None, metavar="NAME", help="only these experiments")
    repro.add_argument("--out", default="results", help="results root (default: results)")
    comp = sub.add_parser("compare", parents=[exp], help="which metrics moved against the reference results")
    comp.add_argument("--reference", default="results/reference", help="reference root (default: results/reference)")
    comp.add_argument("--tolerance", type=float, default=None,
                      help="relative tolerance for metrics the experiment states none for (default 0.05)")
    return parser


def _check_out(root: str) -> None:
    """Fails unless ``root`` is (or can be created as) a writable folder; creates nothing."""
    path = Path(root).absolute()
    existing = path
    while not existing.exists() and existing != existing.parent:
        existing = existing.parent
    if not existing.is_dir():
        raise PhysaiError(f"--out {root}: not a writable folder ({existing} is not a folder)")
    try:
        with tempfile.NamedTemporaryFile(dir=existing, prefix=".physai-write-test-"):
            pass
    except OSError as e:
        raise PhysaiError(f"--out {root}: not a writable folder ({e.strerror or e})") from None


def _plan(args):
    from physai import registry, sweep

    experiment = registry.load(args.name)
    return sweep.plan(experiment, args.preset, args.overrides, getattr(args, "strategy", "auto"))


def cmd_list(args) -> int:
    from physai import registry

    for name in registry.names():
        if args.names:
            print(name)
            continue
        exp = registry.load(name)
        print(f"{name}: {exp.question}")
        print(f"  presets: {', '.join(exp.presets)}")
        for h in exp.hypotheses:
            print(f"  - {h.name}: {h.claim}  [{h.anchor}]")
    return EXIT_OK


def _runner(args):
    from physai import backends

    if args.retries < 0:
        raise PhysaiError("--retries must be >= 0")
    if args.workers is not None and args.backend != "processes":
        raise PhysaiError("--workers applies to --backend processes")
    if args.address is not None and args.backend != "ray":
        raise PhysaiError("--address applies to --backend ray")
    return backends.get(args.backend, workers=args.workers, address=args.address,
                        retries=args.retries, debug=args.debug)


def _run(args, plan_) -> None:
    from physai import sweep

    runner = _runner(args)
    summary = sweep.run_sweep(plan_, args.out, progress=not args.no_progress, debug=args.debug,
                              runner=runner)
    print(f"{plan_.experiment.name}/{plan_.preset}: {summary.shards_run} shards run, "
          f"{summary.shards_skipped} already stored; trials ok {summary.ok}, diverged "
          f"{summary.diverged}, failed {summary.failed}; {summary.seconds:.1f} s")


def cmd_run(args) -> int:
    plan_ = _plan(args)
    _check_out(args.out)
    _run(args, plan_)
    return EXIT_OK


def cmd_status(args) -> int:
    from physai import store

    plan_ = _plan(args)
    stored = store.stored_status(args.out, plan_.experiment.name, plan_.preset)
    counts = {"ok": 0, "diverged": 0, "failed": 0, "missing": 0}
    for t in plan_.trials:
        counts[stored.get(t.trial_id, "missing")] += 1
    done = counts["ok"] + counts["diverged"]
    print(f"{plan_.experiment.name}/{plan_.preset}: {done}/{len(plan_.trials)} trials stored "
          f"({counts['ok']} ok, {counts['diverged']} diverged), {counts['failed']} failed, "
          f"{counts['missing']} missing; {len(plan_.shards)} shards")
    return EXIT_OK


def _results(args, plan_):
    from physai import sweep

    res = sweep.results(plan_, args.out)
    if res.trials.empty:
        raise PhysaiError(f"nothing stored for {plan_.experiment.name} preset {plan_.preset} under "
                          f"{args.out}; run `physai run {plan_.experiment.name} --preset {plan_.preset}` first")
    return res


def write_figures(plan_, res, root: str) -> list[Path]:
    """Draws and saves an experiment's figures.

    Args:
      plan_: the plan; res: its results; root: results root.

    Returns:
      The PNG paths written.
    """
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    from physai import store

    if plan_.experiment.plot is None:
        return []
    folder = store.experiment_dir(root, plan_.experiment.name, plan_.preset) / "figures"
    folder.mkdir(parents=True, exist_ok=True)
    paths = []
    for name, fig in plan_.experiment.plot(res).items():
        path = folder / f"{name}.png"
        with store.atomic_path(path) as tmp:
            fig.savefig(tmp, format="png", dpi=100, bbox_inches="tight")
        plt.close(fig)
        paths.append(path)
    return paths


def cmd_plot(args) -> int:
    plan_ = _plan(args)
    for path in write_figures(plan_, _results(args, plan_), args.out):
        print(path)
    return EXIT_OK


def evaluate(plan_, res) -> list:
    """Args: plan_: the plan; res: its results. Returns: one Verdict per hypothesis."""
    return [h.evaluate(res) for h in plan_.experiment.hypotheses]


def print_verdicts(plan_, verdicts) -> None:
    """Prints the verdict table (hypothesis, measured, expected, status) to stdout."""
    from rich.console import Console
    from rich.table import Table

    from physai.report import format_value

    colour = {"supported": "green", "refuted": "red", "inconclusive": "yellow"}
    table = Table(title=f"{plan_.experiment.name} / {plan_.preset}")
    table.add_column("hypothesis", no_wrap=True)
    for col in ("measured", "expected", "status"):
        table.add_column(col, overflow="fold")
    for v in verdicts:
        table.add_row(v.hypothesis, format_value(v.measured), v.expected, f"[{colour[v.status]}]{v.status}[/]")
    console = Console(width=max(100, Console().width))
    console.print(table)
    for v in verdicts:
        if v.explanation:
            console.print(f"  {v.hypothesis}: {v.explanation}", highlight=False)


def save_verdicts(plan_, verdicts, root: str) -> Path:
    """Writes ``verdicts.json`` beside the tables (atomically). Returns: its path."""
    from physai import store

    folder = store.experiment_dir(root, plan_.experiment.name, plan_.preset)
    rows = [{"hypothesis": v.hypothesis, "status": v.status,
             "measured": v.measured if not (isinstance(v.measured, float) and math.isnan(v.measured)) else None,
             "expected": v.expected, "explanation": v.explanation} for v in verdicts]
    path = folder / "verdicts.json"
    store.write_text(path, json.dumps(rows, indent=2))
    return path


def cmd_verify(args) -> int:
    plan_ = _plan(args)
    _check_out(args.out)
    _run(args, plan_)
    res = _results(args, plan_)
    verdicts = evaluate(plan_, res)
    print_verdicts(plan_, verdicts)
    save_verdicts(plan_, verdicts, args.out)
    if args.command == "demo":
        for path in write_figures(plan_, res, args.out):
            print(f"figure: {path}")
    return EXIT_OK if all(v.status == "supported" for v in verdicts) else EXIT_REFUTED


def cmd_report(args) -> int:
    from physai import report

    plan_ = _plan(args)
    res = _results(args, plan_)
    verdicts = evaluate(plan_, res)
    print(report.write_report(plan_, res, verdicts, args.out, args.overrides))
    return EXIT_OK


def cmd_reproduce(args) -> int:
    from physai import registry, report, sweep

    names = registry.names()
    chosen = args.only or names
    unknown = [n for n in chosen if n not in names and "." not in n]  # dotted: a user's module
    if unknown:
        raise PhysaiError(f"unknown experiment {unknown[0]!r}; choose from: {', '.join(names)}")
    plans = []
    for name in chosen:  # validate every plan before running anything
        experiment = registry.load(name)
        if args.preset not in experiment.presets:
            raise PhysaiError(f"unknown preset {args.preset!r} for {name}; choose from: "
                              + ", ".join(experiment.presets))
        plans.append(sweep.plan(experiment, args.preset, (), args.strategy))
    _check_out(args.out)
    entries, reports = [], {}
    for plan_ in plans:
        _run(args, plan_)
        res = sweep.results(plan_, args.out)
        verdicts = evaluate(plan_, res)
        print_verdicts(plan_, verdicts)
        save_verdicts(plan_, verdicts, args.out)
        write_figures(plan_, res, args.out)
        reports[f"{plan_.experiment.name}/{plan_.preset}"] = report.write_report(plan_, res, verdicts, args.out)
        entries.append((plan_.experiment.name, plan_.preset, verdicts, report.runtime_seconds(res)))
    rows = report.summary_rows(entries)
    summary, index = report.write_summary(rows, args.out, reports)
    print(f"summary: {summary}\nindex: {index}")
    return EXIT_OK if all(r["status"] == "supported" for r in rows) else EXIT_REFUTED


def cmd_compare(args) -> int:
    from physai import report, sweep

    plan_ = _plan(args)
    current = _results(args, plan_)
    reference = sweep.results(plan_, args.reference)
    if reference.trials.empty:
        raise PhysaiError(f"no reference results for {plan_.experiment.name} preset {plan_.preset} "
                          f"under {args.reference}")
    table = report.compare(plan_.experiment, current, reference, args.tolerance)
    moved = table[table["moved"]]
    print(f"{plan_.experiment.name}/{plan_.preset}: {len(moved)} of {len(table)} median metrics moved "
          f"beyond tolerance (current {args.out} vs reference {args.reference})")
    if len(moved):
        with pd_options():
            print(moved.to_string(index=False))
    return EXIT_OK if moved.empty else EXIT_REFUTED


def pd_options():
    import pandas as pd

    return pd.option_context("display.max_rows", 200, "display.width", 160)


COMMANDS = {"list": cmd_list, "run": cmd_run, "status": cmd_status, "plot": cmd_plot,
            "verify": cmd_verify, "demo": cmd_verify, "report": cmd_report,
            "reproduce": cmd_reproduce, "compare": cmd_compare}


def main(argv: list[str] | None = None) -> int:
    """Entry point of the ``physai`` console script.

    Args:
      argv: arguments (default: ``sys.argv[1:]``).

    Returns:
      The exit code.
    """
    argv = sys.argv[1:] if argv is None else argv
    debug = "--debug" in argv
    try:
        args = _parser().parse_args(argv)
        if args.command == "demo" and args.preset != "demo":
            raise PhysaiError("physai demo always runs the demo preset; use verify for others")
        return COMMANDS[args.command](args)
    except PhysaiError as e:
        if debug:
            raise
        print(f"physai: error: {e}", file=sys.stderr)
        return EXIT_ERROR
    except KeyboardInterrupt:
        print("physai: interrupted; completed shards are stored, run again to resume", file=sys.stderr)
        return 130
    except Exception as e:  # a bug or an environment problem: one line unless --debug
        if debug:
            raise
        print(f"physai: error: {type(e).__name__}: {e} (rerun with --debug for the traceback)",
              file=sys.stderr)
        return EXIT_ERROR


if __name__ == "__main__":
    sys.exit(main())
