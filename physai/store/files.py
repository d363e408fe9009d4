"""Files of the store: paths, atomic writes, temporary-file clean-up, the folder
lock, and verified Parquet reading (``DamagedFile`` on anything undecodable)."""

from __future__ import annotations

import contextlib
import os
import re
import socket
import tempfile
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pyarrow as pa
import pyarrow.parquet as pq

from physai.errors import PhysaiError

try:
    import fcntl
except ImportError:  # not POSIX: stores into one folder are not serialised between processes
    fcntl = None

TABLES = ("trials", "curves", "shards")
STALE_TMP_SECONDS = 600.0
_READ_ERRORS = (OSError, pa.ArrowException, ValueError, KeyError, IndexError, TypeError)
TIMESTAMP = pa.timestamp("us", tz="UTC")  # type of a shard's ``start`` and ``end``


def timestamps(seconds: list[float]) -> pa.Array:
    """POSIX seconds as an Arrow timestamp column (microseconds, UTC)."""
    return pa.array([None if s is None else round(s * 1e6) for s in seconds], pa.int64()).cast(TIMESTAMP)


def posix_seconds(column) -> list[float | None]:
    """A ``start``/``end`` column (Arrow or pandas) as POSIX seconds: timestamps, or
    the float seconds of stores written before they were typed; None where missing."""
    values = column.to_pylist() if hasattr(column, "to_pylist") else list(column)
    seconds = []
    for v in values:
        if hasattr(v, "timestamp"):  # datetime, pandas Timestamp
            try:
                seconds.append(v.timestamp())
            except ValueError:  # NaT
                seconds.append(None)
        elif isinstance(v, (int, float)) and not isinstance(v, bool) and v == v:
            seconds.append(float(v))
        else:
            seconds.append(None)
    return seconds


def experiment_dir(root: str | os.PathLike, experiment: str, preset: str) -> Path:
    """Args: root: results root; experiment, preset: names. Returns: the folder."""
    return Path(root) / experiment / preset


def _paths(folder: Path, stem: str) -> dict[str, Path]:
    return {name: folder / name / f"{stem}.parquet" for name in TABLES}


def _trials_files(folder: Path) -> dict[str, Path]:
    d = folder / "trials"
    return {p.stem: p for p in sorted(d.glob("*.parquet"))} if d.is_dir() else {}


# ----------------------------------------------------------------------------- writing


def _host() -> str:
    return re.sub(r"[^A-Za-z0-9_-]", "_", socket.gethostname()) or "host"


# ".<name>.<pid>@<host>.<random>.tmp": mkstemp's random part has no dots
_TMP_NAME = re.compile(r"\.(\d+)@([A-Za-z0-9_-]+)\.[^.]*\.tmp$")


@contextlib.contextmanager
def atomic_path(path: Path):
    """Yields a temporary file beside ``path`` and moves it into place with
    ``os.replace`` when the block succeeds (it is removed when the block fails).

    The temporary name, ``.<name>.<pid>@<host>.<random>.tmp``, says which process
    writes it, so ``remove_stale_tmp`` can tell a kill's leftover from a live write.
    The file gets the mode an ordinary ``open`` would give it under the user's
    umask (``mkstemp`` makes it 0600), so collaborators on a shared filesystem can
    read results as they read any other file of the user's.

    Args:
      path: destination file; its folder is created.

    Yields:
      The temporary path to write to.
    """
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.{os.getpid()}@{_host()}.", suffix=".tmp", dir=path.parent)
    os.close(fd)
    try:
        yield Path(tmp)
        os.chmod(tmp, 0o666 & ~_umask())
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


def _umask() -> int:
    """Returns: this process's umask (read by setting it, then restoring it at once)."""
    mask = os.umask(0o022)
    os.umask(mask)
    return mask


def _alive(pid: int) -> bool:
    if pid <= 0:
        return True  # not a process id we can check: keep the file
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except OSError:  # e.g. EPERM: it exists, owned by someone else
        return True
    return True


def remove_stale_tmp(folder: Path, now: float | None = None) -> list[Path]:
    """Removes temporary files that a killed write left under ``folder``.

    The rule: a temporary file exists only while one write runs (one
    ``pq.write_table`` or ``savefig``: seconds, during which the writer keeps
    touching it). Its name carries the writer's pid and host. On this host, a
    file whose writer process is gone is a leftover and goes at once; a live
    writer's file is kept, however old. A file from another host (a shared file
    system, where we cannot see its processes) or with a name we do not parse
    goes only when untouched for ``STALE_TMP_SECONDS`` (10 minutes), far beyond
    any live write. A concurrent run's file in progress is therefore never removed.

    Args:
      folder: an experiment folder (searched recursively).
      now: the current time (tests).

    Returns:
      The removed paths.
    """
    folder = Path(folder)
    if not folder.is_dir():
        return []
    now = time.time() if now is None else now
    host, removed = _host(), []
    for path in folder.rglob(".*.tmp"):
        try:
            age = now - path.stat().st_mtime
        except FileNotFoundError:
            continue
        m = _TMP_NAME.search(path.name)
        if m is not None and m.group(2) == host:
            stale = not _alive(int(m.group(1)))
        else:
            stale = age > STALE_TMP_SECONDS
        if stale:
            path.unlink(missing_ok=True)
            removed.append(path)
    return removed


_HELD: dict[Path, int] = {}


@contextlib.contextmanager
def _locked(folder: Path):
    """Serialises stores and compactions of one folder between processes of this
    host (``flock`` on the folder itself, so no lock file is left behind).
    Re-entrant within a process."""
    folder.mkdir(parents=True, exist_ok=True)
    key = folder.resolve()
    if fcntl is None or _HELD.get(key):
        _HELD[key] = _HELD.get(key, 0) + 1
        try:
            yield
        finally:
            _HELD[key] -= 1
        return
    fd = os.open(folder, os.O_RDONLY)
    try:
        with contextlib.suppress(OSError):  # a file system without flock: go on unlocked
            fcntl.flock(fd, fcntl.LOCK_EX)
        _HELD[key] = 1
        try:
            yield
        finally:
            _HELD[key] = 0
    finally:
        os.close(fd)  # releases the lock


def write_table(path: Path, table: pa.Table) -> None:
    """Writes a Parquet file atomically, with page checksums (verified on every read).

    Args:
      path: destination file.
      table: the Arrow table.
    """
    with atomic_path(path) as tmp:
        pq.write_table(table, tmp, write_page_checksum=True)


def write_text(path: Path, text: str) -> None:
    """Writes a text file (JSON, Markdown, HTML) atomically.

    Args:
      path: destination file.
      text: its contents.
    """
    with atomic_path(path) as tmp:
        tmp.write_text(text)


# ----------------------------------------------------------------------------- reading


class DamagedFile(PhysaiError):
    """A stored file that cannot be decoded (truncated, not Parquet, checksum mismatch)."""

    def __init__(self, path: Path, reason: str):
        self.path, self.reason = Path(path), reason
        path = Path(path)
        if path.parent.name in TABLES:  # deleting its trials file makes the shard pending
            fix = f"delete {path.parent.parent / 'trials' / path.name} and run the sweep again"
        else:
            fix = "delete it and run again"
        super().__init__(f"{path}: damaged file ({reason}); {fix} to recompute it")


def _read(path: Path, columns: list[str] | None = None) -> pa.Table:
    """Reads a Parquet file, verifying page checksums.

    Raises FileNotFoundError when it is absent (e.g. removed by a concurrent
    compaction) and ``DamagedFile`` (a ``PhysaiError``) when it cannot be decoded."""
    try:
        return pq.read_table(path, columns=columns, page_checksum_verification=True)
    except FileNotFoundError:
        raise
    except _READ_ERRORS as exc:
        reason = (str(exc).strip().splitlines() or [type(exc).__name__])[0]
        raise DamagedFile(path, reason) from exc


def _ids_and_statuses(path: Path, table: pa.Table) -> tuple[list, list]:
    if "trial_id" not in table.column_names or "status" not in table.column_names:
        raise DamagedFile(path, "no trial_id/status columns: not a trials table")
    return table.column("trial_id").to_pylist(), table.column("status").to_pylist()


_CACHE: dict[Path, tuple[tuple[int, int, int], Any]] = {}


def _cached(path: Path, read: Callable[[Path], Any]) -> Any:
    """``read(path)``, remembered while the file is unchanged (inode, size, mtime):
    a sweep re-indexes the folder before every store, reading only new files."""
    st = path.stat()
    key = (st.st_ino, st.st_size, st.st_mtime_ns)
    hit = _CACHE.get(path)
    if hit is not None and hit[0] == key:
        return hit[1]
    value = read(path)
    _CACHE[path] = (key, value)
    return value
