"""Names for temporary files and directories that say who made them, and their clean-up.

A compile killed half-way (SIGKILL, power loss) leaves its temporary .so and build directory
behind. Each is named `.keir-<kind>-<pid>-<host>-...`, so that a later process can tell a
leftover from the work of a compile still running: it removes an entry only if the process
that made it, on this host, is gone and the entry is a minute old, or if the entry is a day
old (made on another host sharing the directory, or by a pid that was reused since).
"""

from __future__ import annotations

import hashlib
import os
import re
import shutil
import socket
import time
from pathlib import Path

DEAD_AGE = 60.0  # seconds: a dead owner's entry this old is certainly not being published
ANY_AGE = 86400.0  # seconds: past this any entry is a leftover, whoever made it
_NAME = re.compile(r"\.keir-[a-z]+-(\d+)-([0-9a-f]{8})-")
_OLD_NAME = re.compile(r"\.[0-9a-f]{32}-")  # keir 0.x temporary files: removed by age only


def _host() -> str:
    return hashlib.sha256(socket.gethostname().encode()).hexdigest()[:8]


def prefix(kind: str) -> str:
    """The name prefix of a temporary entry of this process (pass it to tempfile)."""
    return f".keir-{kind}-{os.getpid()}-{_host()}-"


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:  # exists, but belongs to someone else
        return True
    return True


def is_leftover(name: str, age: float) -> bool:
    """Whether an entry called `name`, last modified `age` seconds ago, may be removed."""
    if age > ANY_AGE and (_NAME.match(name) or _OLD_NAME.match(name)):
        return True
    m = _NAME.match(name)
    return bool(m) and m[2] == _host() and age > DEAD_AGE and not _alive(int(m[1]))


def clean(folder: Path) -> list[str]:
    """Removes the leftovers directly inside `folder`; returns their names. Never raises."""
    removed, now = [], time.time()
    try:
        entries = list(os.scandir(folder))
    except OSError:
        return removed
    for entry in entries:
        if not (_NAME.match(entry.name) or _OLD_NAME.match(entry.name)):
            continue  # (no stat for the entries themselves: a cache holds thousands)
        try:
            age = now - entry.stat(follow_symlinks=False).st_mtime
            if not is_leftover(entry.name, age):
                continue
            if entry.is_dir(follow_symlinks=False):
                shutil.rmtree(entry.path)
            else:
                os.unlink(entry.path)
            removed.append(entry.name)
        except OSError:
            continue  # gone already, or not ours to remove: never a reason to fail
    return removed
