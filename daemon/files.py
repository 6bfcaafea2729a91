"""Files and folders only their owner can read, whatever the umask.

The database, the demo's work folder and the sandbox's state hold mail metadata and CV
bytes. They are created with mode 0600 (files) or 0700 (folders) and the mode is set
explicitly after creation, because `open(..., mode)` and `mkdir(mode)` are filtered by the
umask (a umask of 0o077 would be fine, 0o022 leaves nothing to filter, 0o700 would lock
the owner out). Something that already exists is left as its owner made it.
"""

from __future__ import annotations

import os
from pathlib import Path

FILE_MODE = 0o600
DIR_MODE = 0o700


def private_file(path: Path) -> Path:
    """Create `path` empty with mode 0600 unless it exists; return it. The folder must exist."""
    try:
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, FILE_MODE)
    except FileExistsError:
        return path
    try:
        os.fchmod(fd, FILE_MODE)
    finally:
        os.close(fd)
    return path


def private_dir(path: Path) -> Path:
    """Create the folder `path` (and missing parents) with mode 0700 unless it exists; return it."""
    if path.is_dir():
        return path
    path.parent.mkdir(parents=True, exist_ok=True)
    try:
        path.mkdir(mode=DIR_MODE)
    except FileExistsError:
        return path
    path.chmod(DIR_MODE)
    return path
