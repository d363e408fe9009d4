"""Reviewer-facing outputs: one self-contained HTML page per experiment, the
summary of a full reproduction, and a comparison against reference results.

Nothing here is specific to one experiment: everything comes from the
experiment's declaration (question, hypotheses, anchors, presets) and its
stored tables, so a new experiment gets a report for free.
"""

from __future__ import annotations

import base64
import html
import io
import json
import math
import os
import shlex
from collections.abc import Iterable, Sequence
from pathlib import Path

import numpy as np
import pandas as pd

from physai import store
from physai.experiment import CONFIDENCE, Results, Verdict

SUMMARY_START, SUMMARY_END = "<!-- summary:start -->", "<!-- summary:end -->"
DEFAULT_TOLERANCE = 0.05  # relative change of a median metric that `compare` reports


def format_value(x) -> str:
    """Args: x: a measured value. Returns: 4 significant digits, ``n/a`` for None/NaN, else ``str``."""
    if x is None:
        return "n/a"
    if isinstance(x, (float, np.floating)):
        return "n/a" if math.isnan(x) else f"{x:.4g}"
    return str(x)


def _figure_png(fig) -> str:
    buffer = io.BytesIO()
    fig.savefig(buffer, format="png", dpi=80, bbox_inches="tight")  # keeps reports small
    return base64.b64encode(buffer.getvalue()).decode()


def runtime_seconds(results: Results) -> float:
    """Wall seconds during which at least one shard was running.

    The union of the shards' ``[start, end]`` intervals: shards run in parallel
    by several workers count once (summing them would double a 2-worker sweep),
    and the gaps between a killed sweep and its resumption do not count.

    Args: results: stored tables. Returns: those seconds; NaN without shards.
    """
    s = results.shards
    if s.empty:
        return float("nan")
    total, run_start, run_end = 0.0, None, None
    from physai.store import posix_seconds

    for start, end in sorted(zip(posix_seconds(s["start"]), posix_seconds(s["end"]))):
        if run_end is None or start > run_end:
            if run_end is not None:
                total += run_end - run_start
            run_start, run_end = start, end
        else:
            run_end = max(run_end, end)
    return float(total + run_end - run_start)


def _efficiency_rows(shards) -> dict[str, str]:
    from physai import timing

    e = timing.efficiency(shards)
    if e["gflops"] != e["gflops"]:
        return {"GFLOP/s": "not counted (not trained with physai.train)"}
    return {
        "GFLOP": f"{e['gflops']:.4g}",
        "GFLOP/s": f"{e['gflops_per_second']:.4g}",
        "fraction of matmul peak": f"{e['fraction_of_peak']:.1%}",
    }


def commands(plan_, overrides: Sequence[str] = (), root: str = "results") -> list[str]:
    """The shell commands that reproduce a run, as a reader would paste them.

    Args:
      plan_: the plan.
      overrides: ``--set`` values used.
      root: the results root (``--out``).

    Returns:
      ``verify``, ``plot`` and ``report`` commands naming the experiment as the
      command line finds it (an experiment of a user's package by its dotted module
      path), with the same ``--set`` values and ``--out``.
    """
    from physai import registry

    name = plan_.experiment.name
    if name not in registry.names():  # a user's experiment: found by its module path
        name = plan_.experiment.module or name
    sets = "".join(f" --set {shlex.quote(o)}" for o in overrides)
    out = f" --out {shlex.quote(str(root))}"
    preset = plan_.preset
    return [
        f"physai verify {name} --preset {preset}{sets}{out}",
        f"physai plot {name} --preset {preset}{sets}{out}",
        f"physai report {name} --preset {preset}{sets}{out}",
    ]


CSS = """
body{font-family:system-ui,-apple-system,Segoe UI,Roboto,sans-serif;max-width:70rem;margin:2rem auto;padding:0 1rem;color:#222;line-height:1.45}
h1{font-size:1.6rem;margin-bottom:.2rem} h2{margin-top:2rem;border-bottom:1px solid #ddd}
table{border-collapse:collapse;margin:.5rem 0;font-size:.92rem} td,th{border:1px solid #ccc;padding:.3rem .55rem;text-align:left;vertical-align:top}
th{background:#f4f4f4} .supported{color:#11772d;font-weight:600} .refuted{color:#b00020;font-weight:600} .inconclusive{color:#a06000;font-weight:600}
pre{background:#f6f6f6;padding:.6rem;overflow-x:auto;white-space:pre-wrap} figure{margin:1rem 0} figure img{max-width:100%;border:1px solid #eee}
figcaption{font-size:.85rem;color:#555} .muted{color:#666;font-size:.9rem}
"""


def render_report(
    plan_,
    results: Results,
    verdicts: Sequence[Verdict],
    figures: dict,
    overrides: Sequence[str] = (),
    root: str = "results",
) -> str:
    """Builds the self-contained HTML page of one experiment and preset.

    Args:
      plan_: the plan that was run.
      results: its stored tables.
      verdicts: one per hypothesis.
      figures: ``{name: matplotlib Figure}``, embedded as PNG data URIs.
      overrides: the ``--set`` values of this run.
      root: the results root (``--out``), for the reproduce commands.

    Returns:
      HTML text with no external resource (opens offline, without a server).
    """
    exp = plan_.experiment
    esc = html.escape
    preset = exp.presets[plan_.preset]
    anchors = {h.name: h for h in exp.hypotheses}
    verdict_rows = "".join(
        f"<tr><td>{esc(v.hypothesis)}</td><td>{esc(anchors[v.hypothesis].claim)}</td>"
        f"<td>{esc(v.measured_text())}</td><td>{esc(str(v.expected))}</td>"
        f"<td class='{v.status}'>{v.status}</td><td>{esc(v.explanation)}</td></tr>"
        for v in verdicts
    )
    hypothesis_rows = "".join(
        f"<li><b>{esc(h.name)}</b>: {esc(h.claim)}<br><span class='muted'>Anchor: {esc(h.anchor)}</span>"
        + (
            f"<br><span class='muted'>Source: {esc(h.source.paper)}, {esc(h.source.where)}: "
            f"{esc(h.source.statement)}<br>Tolerance: {esc(h.source.tolerance)}</span>"
            if h.source is not None
            else ""
        )
        + "</li>"
        for h in exp.hypotheses
    )
    axes = preset.grid.axes()
    grid_rows = "".join(
        f"<tr><td>{esc(k)}</td><td>{esc(', '.join(map(format_value, v)))}</td></tr>" for k, v in axes.items()
    )
    setting_rows = "".join(
        f"<tr><td>{esc(k)}</td><td>{esc(format_value(v))}</td></tr>" for k, v in preset.settings.items()
    )
    status_counts = results.trials["status"].value_counts().to_dict() if len(results.trials) else {}
    shards = results.shards
    prov = {}
    if len(shards):
        prov = {
            "git commit(s)": ", ".join(sorted(set(shards["git_commit"].astype(str)))),
            "dirty checkout": ", ".join(sorted(set(shards["git_dirty"].astype(str)))),
            "device(s)": ", ".join(sorted(set(shards["device"].astype(str)))),
            "hosts": ", ".join(sorted(set(shards["host"].astype(str)))),
            "versions": ", ".join(
                f"{c[len('version_') :]} {shards[c].iloc[0]}" for c in shards.columns if c.startswith("version_")
            ),
            "XLA flags": ", ".join(sorted(set(shards["xla_flags"].astype(str)))) or "(none)",
            "shards / trials": f"{len(shards)} / {len(results.trials)} "
            f"({', '.join(f'{k} {v}' for k, v in status_counts.items())})",
            "compile seconds": f"{shards['compile_seconds'].sum():.1f}",
            "run seconds": f"{shards['run_seconds'].sum():.1f}",
            **_efficiency_rows(shards),
        }
    prov_rows = "".join(f"<tr><th>{esc(k)}</th><td>{esc(v)}</td></tr>" for k, v in prov.items())
    figure_html = "".join(
        f"<figure><img alt='{esc(name)}' src='data:image/png;base64,{_figure_png(fig)}'>"
        f"<figcaption>{esc(name)}</figcaption></figure>"
        for name, fig in figures.items()
    )
    cmds = "\n".join(commands(plan_, overrides, root))
    doc = esc(exp.doc.strip()) if exp.doc else ""
    overall = (
        "supported"
        if verdicts and all(v.status == "supported" for v in verdicts)
        else "refuted"
        if any(v.status == "refuted" for v in verdicts)
        else "inconclusive"
    )
    return f"""<!DOCTYPE html>
<html lang="en"><head><meta charset="utf-8"><title>physai: {esc(exp.name)} / {esc(plan_.preset)}</title>
<style>{CSS}</style></head><body>
<h1>{esc(exp.name)} <span class="muted">preset {esc(plan_.preset)}</span></h1>
<p><b>Question.</b> {esc(exp.question)}</p>
<p>Overall: <span class="{overall}" id="overall">{overall}</span> ({sum(v.status == "supported" for v in verdicts)} of {len(verdicts)} hypotheses supported)</p>
<h2>Verdicts</h2>
<table id="verdicts"><tr><th>hypothesis</th><th>claim</th><th>measured</th><th>expected</th><th>status</th><th>why</th></tr>{verdict_rows}</table>
<h2>Hypotheses and anchors</h2><ul>{hypothesis_rows}</ul>
<h2>Figures</h2>{figure_html or "<p>(this experiment draws no figures)</p>"}
<h2>Grid and preset run</h2>
<p>Preset <b>{esc(plan_.preset)}</b>: {esc(preset.description)}{" — overrides: " + esc(" ".join(overrides)) if overrides else ""}</p>
<table><tr><th>grid axis</th><th>values</th></tr>{grid_rows}</table>
<table><tr><th>setting</th><th>value</th></tr>{setting_rows}</table>
<h2>Provenance</h2><table>{prov_rows}</table>
<h2>Reproduce</h2><pre>{esc(cmds)}</pre>
<h2>About this experiment</h2><pre>{doc}</pre>
<script>
// Marks how many figures decoded, so a headless browser test can check the page as a reader sees it.
window.addEventListener("load", function () {{
  var ok = Array.prototype.filter.call(document.images, function (i) {{ return i.complete && i.naturalWidth > 0; }});
  document.body.setAttribute("data-figures-loaded", String(ok.length));
}});
</script>
</body></html>
"""


def write_report(plan_, results: Results, verdicts, root: str, overrides: Sequence[str] = ()) -> Path:
    """Draws the figures and writes ``report.html`` beside the tables.

    Args:
      plan_, results, verdicts: what to report.
      root: results root.
      overrides: the ``--set`` values of this run.

    Returns:
      The report's path.
    """
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    figures = plan_.experiment.plot(results) if plan_.experiment.plot else {}
    try:
        text = render_report(plan_, results, verdicts, figures, overrides, root)
    finally:
        for fig in figures.values():
            plt.close(fig)
    path = store.experiment_dir(root, plan_.experiment.name, plan_.preset) / "report.html"
    store.write_text(path, text)
    return path


def summary_rows(entries: Iterable[tuple[str, str, Sequence[Verdict], float]]) -> list[dict]:
    """Args: entries: ``(experiment, preset, verdicts, runtime_seconds)``. Returns: one row per hypothesis."""
    return [
        {
            "experiment": e,
            "preset": p,
            "hypothesis": v.hypothesis,
            "status": v.status,
            "measured": v.measured_text(),
            "expected": str(v.expected),
            "runtime_s": seconds,
        }
        for e, p, verdicts, seconds in entries
        for v in verdicts
    ]


def summary_table(rows: Sequence[dict]) -> str:
    """Args: rows: from ``summary_rows``. Returns: the Markdown table (the README embeds it verbatim)."""
    lines = [
        "| experiment | preset | hypothesis | measured | expected | verdict | wall time |",
        "|---|---|---|---|---|---|---|",
    ]
    for r in rows:
        cell = lambda x: str(x).replace("|", "/")
        runtime = "n/a" if math.isnan(r["runtime_s"]) else f"{r['runtime_s']:.0f} s"
        lines.append(
            f"| {r['experiment']} | {r['preset']} | {cell(r['hypothesis'])} | {cell(r['measured'])} | "
            f"{cell(r['expected'])} | **{r['status']}** | {runtime} |"
        )
    return "\n".join(lines)


def write_summary(rows: Sequence[dict], root: str, reports: dict[str, Path]) -> tuple[Path, Path]:
    """Writes ``SUMMARY.md`` (and ``summary.json``) and an ``index.html`` linking the reports.

    Args:
      rows: from ``summary_rows``.
      root: results root.
      reports: ``{"experiment/preset": report path}``.

    Returns:
      ``(summary_path, index_path)``.
    """
    root_path = Path(root)
    supported = sum(r["status"] == "supported" for r in rows)
    false_refutations = len(rows) * (1 - CONFIDENCE) / 2
    md = (
        f"# physai reproduction summary\n\n{supported} of {len(rows)} hypotheses supported. "
        f"Generated by `physai reproduce`; do not edit.\n\n"
        f"Verdicts with an interval are decided by its {CONFIDENCE:.0%} two-sided confidence interval: a claim "
        f"that holds is refuted by chance with probability at most {(1 - CONFIDENCE) / 2:.1%}, so across these "
        f"{len(rows)} hypotheses at most {false_refutations:.1f} false refutations are expected.\n\n"
        f"{SUMMARY_START}\n{summary_table(rows)}\n{SUMMARY_END}\n"
    )
    summary = root_path / "SUMMARY.md"
    store.write_text(summary, md)
    store.write_text(root_path / "summary.json", json.dumps(rows, indent=2))
    links = "".join(
        f"<li><a href='{html.escape(os.path.relpath(p, root_path))}'>{html.escape(k)}</a></li>"
        for k, p in sorted(reports.items())
    )
    body = "".join(
        f"<tr><td>{html.escape(r['experiment'])}</td><td>{html.escape(r['hypothesis'])}</td>"
        f"<td>{html.escape(r['measured'])}</td><td>{html.escape(r['expected'])}</td>"
        f"<td class='{r['status']}'>{r['status']}</td></tr>"
        for r in rows
    )
    index = root_path / "index.html"
    store.write_text(
        index,
        f"<!DOCTYPE html><html lang='en'><head><meta charset='utf-8'><title>physai results</title>"
        f"<style>{CSS}</style></head><body><h1>physai results</h1><p>{supported} of {len(rows)} "
        f"hypotheses supported.</p><ul>{links}</ul><table><tr><th>experiment</th><th>hypothesis</th>"
        f"<th>measured</th><th>expected</th><th>status</th></tr>{body}</table></body></html>",
    )
    return summary, index


def read_summary_table(path: Path) -> str:
    """Args: path: a ``SUMMARY.md``. Returns: its table (between the markers)."""
    text = path.read_text()
    if SUMMARY_START not in text or SUMMARY_END not in text:
        raise ValueError(f"{path} lacks the summary markers")
    return text.split(SUMMARY_START, 1)[1].split(SUMMARY_END, 1)[0].strip()


def compare(experiment, current: Results, reference: Results, tolerance: float | None = None) -> pd.DataFrame:
    """Median metrics per grid point (over seeds), current vs reference.

    Args:
      experiment: the experiment (its ``tolerances`` override the default per metric).
      current: fresh results.
      reference: stored reference results of the same preset.
      tolerance: default relative tolerance (``DEFAULT_TOLERANCE``).

    Returns:
      One row per (grid point, metric) with ``reference``, ``current``,
      ``relative_change``, ``tolerance`` and ``moved`` (beyond tolerance, or
      present in only one of the two).
    """
    tolerance = DEFAULT_TOLERANCE if tolerance is None else tolerance
    per_metric = dict(getattr(experiment, "tolerances", {}) or {})
    meta = {"experiment", "preset", "trial_id", "shard_id", "status", "error", "run_seconds", "seed"}

    def medians(t: pd.DataFrame) -> pd.DataFrame:
        t = t[t["status"] == "ok"]
        metrics = [c for c in t.columns if c not in meta and pd.api.types.is_float_dtype(t[c]) and c in metric_names]
        keys = [c for c in param_names if c in t.columns and c != "seed"]
        long = t.melt(id_vars=keys, value_vars=metrics, var_name="metric", value_name="value")
        for k in keys:  # grouping needs hashable, comparable keys; NaN marks an absent parameter
            long[k] = long[k].astype(str)
        return long.groupby(keys + ["metric"], dropna=False)["value"].median()

    param_names = _param_names(experiment)
    metric_names = set(current.trials.columns) | set(reference.trials.columns)
    metric_names -= set(param_names) | meta
    joined = pd.concat(
        {"reference": medians(reference.trials), "current": medians(current.trials)}, axis=1
    ).reset_index()
    denom = joined["reference"].abs().where(joined["reference"].abs() > 1e-12, 1e-12)
    joined["relative_change"] = (joined["current"] - joined["reference"]).abs() / denom
    joined["tolerance"] = joined["metric"].map(per_metric).fillna(tolerance)
    both_nan = joined["reference"].isna() & joined["current"].isna()
    joined["moved"] = ~both_nan & (
        (joined["relative_change"] > joined["tolerance"]) | joined["reference"].isna() | joined["current"].isna()
    )
    return joined


def _param_names(experiment) -> list[str]:
    names: list[str] = []
    for p in experiment.presets.values():
        for k in list(p.grid.axes()) + list(p.settings):
            if k not in names:
                names.append(k)
    return names + (["seed"] if "seed" not in names else [])
