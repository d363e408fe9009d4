"""What the command line prints about results: the verdict table, what the reference runs say
of verdicts that are not supported, and a shard table's compile time and efficiency."""

from __future__ import annotations


def print_verdicts(plan_, verdicts) -> None:
    """Prints the verdict table (hypothesis, measured, expected, status) to stdout."""
    from rich.console import Console
    from rich.table import Table

    colour = {"supported": "green", "refuted": "red", "inconclusive": "yellow"}
    table = Table(title=f"{plan_.experiment.name} / {plan_.preset}")
    table.add_column("hypothesis", no_wrap=True)
    for col in ("measured", "expected", "status"):
        table.add_column(col, overflow="fold")
    for v in verdicts:
        table.add_row(v.hypothesis, v.measured_text(), v.expected, f"[{colour[v.status]}]{v.status}[/]")
    console = Console(width=max(100, Console().width))
    console.print(table)
    for v in verdicts:
        if v.explanation:
            console.print(f"  {v.hypothesis}: {v.explanation}", highlight=False)


def scale_notes(plan_, verdicts) -> list[str]:
    """For each verdict that is not supported, what the stored reference runs say of the
    same hypothesis at this preset and at paper scale: expected at this scale, or not."""
    import json

    from physai import timing

    def reference(preset: str) -> dict[str, str]:
        path = timing.REFERENCE_ROOT / plan_.experiment.name / preset / "verdicts.json"
        try:
            return {r["hypothesis"]: r["status"] for r in json.loads(path.read_text())}
        except (OSError, ValueError, KeyError, TypeError):
            return {}

    here, paper = reference(plan_.preset), reference("paper")
    notes = []
    for v in verdicts:
        if v.status == "supported":
            continue
        said = []
        if plan_.preset != "paper" and v.hypothesis in here:
            said.append(f"the reference {plan_.preset} run gave {here[v.hypothesis]}")
        if plan_.preset != "paper" and v.hypothesis in paper:
            said.append(f"at paper scale the reference gives {paper[v.hypothesis]}")
        if said:
            expected = "expected at this scale" if here.get(v.hypothesis) == v.status else "not what the reference got"
            notes.append(f"  {v.hypothesis}: {v.status} here ({expected}); {'; '.join(said)}")
    if notes and plan_.preset != "paper":
        notes.append(f"  the paper preset decides: physai verify {plan_.experiment.name} --preset paper")
    return notes


def print_efficiency(shards) -> None:
    """One line: compile and run seconds of the stored shards, GFLOP/s and fraction of peak."""
    from physai import timing

    if not len(shards):
        return
    e = timing.efficiency(shards)
    line = f"time: compile {e['compile_seconds']:.1f} s, run {e['run_seconds']:.1f} s"
    if e["gflops"] == e["gflops"]:
        line += (
            f"; {e['gflops']:.3g} GFLOP at {e['gflops_per_second']:.3g} GFLOP/s "
            f"({e['fraction_of_peak']:.1%} of this machine's float32 matmul peak)"
        )
    else:
        line += "; FLOPs not counted (not trained with physai.train)"
    print(line)
