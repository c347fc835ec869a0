"""A tiny durable store for remote-job state: one JSON file per remote id under ``state_dir``.

Written atomically (temp file + ``os.replace``) so a worker killed mid-write never leaves half a record,
and a new worker process can poll / fetch / cancel by remote id after a restart. Records are small
(ids, timestamps, the IR, counts); the jobs database stays the source of truth for the portal.
"""

from __future__ import annotations

import contextlib
import json
import os
import re
import tempfile
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

_SAFE_ID = re.compile(r"^[A-Za-z0-9_.:-]{1,200}$")


class JsonStore:
    def __init__(self, root: str | os.PathLike[str]) -> None:
        self.root = Path(root)

    def _path(self, key: str) -> Path:
        # Keys come from our own ids, but a remote id is also read back from the database: never let it
        # name a path outside the store.
        if not _SAFE_ID.match(key) or key.startswith("."):
            raise ValueError(f"unsafe store key {key!r}")
        return self.root / f"{key.replace(':', '_')}.json"

    def get(self, key: str) -> dict[str, Any] | None:
        try:
            with self._path(key).open(encoding="utf-8") as fh:
                return json.load(fh)
        except FileNotFoundError:
            return None

    def put(self, key: str, record: dict[str, Any]) -> None:
        self.root.mkdir(parents=True, exist_ok=True)
        path = self._path(key)
        fd, tmp = tempfile.mkstemp(dir=self.root, prefix=".tmp-", suffix=".json")
        try:
            with os.fdopen(fd, "w", encoding="utf-8") as fh:
                json.dump(record, fh, sort_keys=True)
                fh.flush()
                os.fsync(fh.fileno())
            os.replace(tmp, path)
        except BaseException:
            with contextlib.suppress(FileNotFoundError):
                os.unlink(tmp)
            raise

    def create(self, key: str, record: dict[str, Any]) -> bool:
        """Write `record` only if `key` is new (atomic across processes); False if it already existed."""
        self.root.mkdir(parents=True, exist_ok=True)
        path = self._path(key)
        fd, tmp = tempfile.mkstemp(dir=self.root, prefix=".tmp-", suffix=".json")
        with os.fdopen(fd, "w", encoding="utf-8") as fh:
            json.dump(record, fh, sort_keys=True)
            fh.flush()
            os.fsync(fh.fileno())
        try:
            os.link(tmp, path)  # fails if the path exists: first writer wins
            return True
        except FileExistsError:
            return False
        finally:
            os.unlink(tmp)

    def records(self) -> Iterator[dict[str, Any]]:
        if not self.root.exists():
            return
        for path in self.root.glob("*.json"):
            if path.name.startswith(".tmp-"):
                continue
            try:
                with path.open(encoding="utf-8") as fh:
                    yield json.load(fh)
            except (OSError, ValueError):
                continue  # deleted or being replaced concurrently

    def prune(self, older_than_seconds: float) -> int:
        """Delete records not touched for `older_than_seconds` (vendor results are not kept forever)."""
        if not self.root.exists():
            return 0
        cutoff = time.time() - older_than_seconds
        removed = 0
        for path in self.root.glob("*.json"):
            with contextlib.suppress(FileNotFoundError):
                if path.stat().st_mtime < cutoff:
                    path.unlink()
                    removed += 1
        return removed
