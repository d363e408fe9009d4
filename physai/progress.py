"""A sweep's progress on the terminal or in a log: trials done of total, elapsed time and ETA."""

from __future__ import annotations

import os
import sys
import threading
import time

from physai import timing


def _clock(seconds: float) -> str:
    return "-:--:--" if seconds != seconds else time.strftime("%H:%M:%S", time.gmtime(seconds))


def _trials(completed: float) -> str:
    """Trials done, to a tenth of a trial inside a shard (``3``, ``3.4``)."""
    return f"{completed:.1f}".removesuffix(".0")


class SweepProgress:
    """Progress of a sweep: trials done/total, elapsed, ETA.

    Trials count as done when their shard is stored; in between, the trainer's
    reports (``physai.timing.report_progress``, after each compiled chunk of
    training) move the count by fractions of a trial, so a long shard shows
    progress and an ETA before it ends.

    On a terminal, a rich progress bar. Elsewhere (a batch job's log, a notebook),
    a plain line every ``$PHYSAI_PROGRESS_EVERY`` seconds (default 30) and one at
    the end, so that a log shows steady progress and a notebook shows no widget
    warnings.
    """

    def __init__(self, enabled: bool, name: str, total: int, done: int, prior: float | None = None):
        self.enabled, self.name, self.total, self.done, self.prior = enabled, name, total, done, prior
        self.plain = enabled and not sys.stderr.isatty()
        self.failed, self.start, self.first, self.training = 0, time.perf_counter(), done, 0.0
        self.bar = None

    def completed(self) -> float:
        """Trials' worth done: the stored trials, or the trainer's reports where ahead."""
        return min(float(self.total), max(float(self.done), self.first + self.training))

    def _line(self) -> str:
        elapsed = time.perf_counter() - self.start
        completed = self.completed()
        eta = timing.eta_seconds(elapsed, completed - self.first, self.total - completed, self.prior)
        failed = f", {self.failed} failed" if self.failed else ""
        done = f"{self.name}: {_trials(completed)}/{self.total} trials{failed}"
        return f"{done}, {_clock(elapsed)} elapsed, ETA {_clock(eta)}"

    def advance(self, n: int, failed: int) -> None:
        """A shard of ``n`` trials was stored; ``failed`` trials failed so far."""
        self.done, self.failed = self.done + n, failed
        self._show()

    def trained(self, trials: float) -> None:
        """The trainer ran ``trials`` trials' worth of steps inside a shard."""
        self.training += trials
        self._show()

    def _show(self) -> None:
        if self.bar is not None:
            self.bar.update(
                self.task, completed=self.completed(), failed=f"{self.failed} failed" if self.failed else ""
            )

    def __enter__(self):
        if not self.enabled:
            return self
        if self.plain:
            self.stop = threading.Event()

            def tick():
                every = float(os.environ.get("PHYSAI_PROGRESS_EVERY", "30"))
                while not self.stop.wait(every):
                    print(self._line(), file=sys.stderr, flush=True)

            self.ticker = threading.Thread(target=tick, daemon=True, name="physai-progress")
            self.ticker.start()
            return self
        from rich.console import Console
        from rich.progress import BarColumn, Progress, ProgressColumn, TextColumn, TimeElapsedColumn
        from rich.text import Text

        first, prior, total = self.first, self.prior, self.total

        class Eta(ProgressColumn):  # rich's own column knows nothing before the first trial ends
            def render(self, task):
                eta = timing.eta_seconds(task.elapsed or 0.0, task.completed - first, task.remaining, prior)
                return Text(_clock(eta), style="progress.remaining")

        class Done(ProgressColumn):  # trials done of total, a tenth of a trial inside a shard
            def render(self, task):
                return Text(f"{_trials(task.completed)}/{total}", style="progress.download")

        self.bar = Progress(
            TextColumn("{task.description}"),
            BarColumn(),
            Done(),
            TextColumn("trials"),
            TimeElapsedColumn(),
            TextColumn("ETA"),
            Eta(),
            TextColumn("{task.fields[failed]}"),
            console=Console(stderr=True),
            transient=False,
        )
        self.bar.__enter__()
        self.task = self.bar.add_task(self.name, total=self.total, completed=self.done, failed="")
        return self

    def __exit__(self, *exc):
        if self.plain:
            self.stop.set()
            self.ticker.join()
            print(self._line(), file=sys.stderr, flush=True)
        elif self.bar is not None:
            self.bar.__exit__(*exc)
        return False
