"""The files of a capture directory: names, the ``.seq`` numbering state, low-level I/O.

:mod:`snapy_capture.storage` calls these through its own namespace (it imports them by
name), so a test that patches ``storage._link`` or ``storage._write_state`` still reaches
every call made while writing. Calls from one helper here to another are not patched that
way.
"""

from __future__ import annotations

import json
import os
import re
import time
from pathlib import Path
from typing import Final
from urllib.parse import unquote

CAPTURE_SUFFIX: Final = ".cap"
_CAPTURE_NAME: Final = re.compile(r"^(\d{12})\.cap$")
_TEMP_PREFIX: Final = ".tmp-"
_META: Final = ".function.json"
_SEQ_WIDTH: Final = 12
_STALE_TEMP_SECONDS: Final = 3600.0


def _make_private_dirs(directory: Path) -> None:
    missing = []
    current = directory
    while not current.exists():
        missing.append(current)
        current = current.parent
    for path in reversed(missing):
        try:
            path.mkdir(mode=0o700)
        except FileExistsError:
            continue
        os.chmod(path, 0o700)  # mkdir's mode is masked by the umask


def _link(temp: str, final: str | Path) -> None:
    try:
        os.link(temp, final)
    except FileExistsError:
        raise
    except OSError:
        # Filesystems without hard links: fall back to rename, still atomic.
        if os.path.lexists(final):
            raise FileExistsError(str(final)) from None
        os.replace(temp, final)
        return
    os.unlink(temp)


def _read_state(directory: Path, fd: int | None = None) -> tuple[int, int] | None:
    try:
        if fd is not None:
            raw = os.pread(fd, 64, 0)
        else:
            with open(directory / ".seq", "rb") as handle:
                raw = handle.read(64)
        nxt, floor = (int(part) for part in raw.split())
    except (OSError, ValueError):
        return None
    if floor > nxt or nxt < 0 or floor < 0:
        return None
    return nxt, floor


def _write_state(directory: Path, nxt: int, floor: int, fd: int | None = None) -> None:
    data = f"{nxt:020d} {floor:020d}\n".encode()
    if fd is not None:
        os.pwrite(fd, data, 0)  # fixed width: no truncate needed
        return
    fd = os.open(directory / ".seq", os.O_WRONLY | os.O_CREAT, 0o600)
    try:
        os.pwrite(fd, data, 0)  # fixed width: no truncate needed
    finally:
        os.close(fd)


def _capture_path(directory: Path, seq: int) -> Path:
    return directory / f"{seq:0{_SEQ_WIDTH}d}{CAPTURE_SUFFIX}"


def _write_all(fd: int, data: bytes) -> None:
    """Write ``data`` to ``fd`` and close it (a file object would cost more than the write)."""
    try:
        view = memoryview(data)
        while view:
            view = view[os.write(fd, view) :]
    finally:
        os.close(fd)


def _scan_state(directory: Path) -> tuple[int, int]:
    seqs = [int(m.group(1)) for name in os.listdir(directory) if (m := _CAPTURE_NAME.match(name))]
    if not seqs:
        return 0, 0
    return max(seqs) + 1, min(seqs)


def _capture_files(directory: Path) -> list[Path]:
    try:
        names = [name for name in os.listdir(directory) if _CAPTURE_NAME.match(name)]
    except (FileNotFoundError, NotADirectoryError):
        return []
    names.sort(reverse=True)
    return [directory / name for name in names]


def _delete_below(directory: Path, floor: int) -> None:
    for name in os.listdir(directory):
        match = _CAPTURE_NAME.match(name)
        if match and int(match.group(1)) < floor:
            _unlink_quiet(directory / name)


def _remove_stale_temps(directory: Path, older_than: float = _STALE_TEMP_SECONDS) -> int:
    removed = 0
    cutoff = time.time() - older_than
    for name in os.listdir(directory):
        if name.startswith(_TEMP_PREFIX) and _mtime(directory / name) <= cutoff:
            removed += _unlink_quiet(directory / name)
    return removed


def _mtime(path: Path) -> float:
    try:
        return path.stat().st_mtime
    except OSError:
        return float("inf")


def _unlink_quiet(path: str | Path) -> int:
    try:
        os.unlink(path)
    except FileNotFoundError:
        return 0
    return 1


def _read_meta(directory: Path) -> tuple[str, str] | None:
    """``(module, qualname)`` of a capture directory, from ``.function.json`` or its name.

    Returns a pair, not a ``FunctionInfo``: that class belongs to :mod:`.storage`, which
    imports this module.
    """
    try:
        meta = json.loads((directory / _META).read_text(encoding="utf-8"))
        return str(meta["module"]), str(meta["qualname"])
    except (OSError, ValueError, KeyError, TypeError):
        pass
    module, sep, qualname = unquote(directory.name).partition(":")
    if not sep or "~" in directory.name:
        return None
    return module, qualname
