"""Results kept as Arrow files, shared by every process that uses the same data folder.

A key is the physical SQL, which carries the user's row filters as literals, together with
the database, the model hash and the warehouse's data version: a restricted user can never
be served a result computed for someone else, and a load makes every older entry unreachable.
"""

from __future__ import annotations

import hashlib
import os
import shutil
import time
from dataclasses import dataclass
from pathlib import Path

import pyarrow as pa
import pyarrow.ipc


@dataclass(frozen=True)
class ResultCache:
    folder: Path
    enabled: bool = True  # off: every request runs on the database (benchmarks of the SQL)

    def key(self, *parts: str) -> str:
        """A file-safe key for the given parts.

        >>> ResultCache(Path("/tmp")).key("SELECT 1", "duckdb")[:12]
        '6842b2bf8a55'
        """
        return hashlib.sha256("\x00".join(parts).encode()).hexdigest()

    def get(self, key: str, ttl: float | None = None) -> pa.Table | None:
        """The table stored under `key`, unless it is missing or older than `ttl` seconds.

        >>> import tempfile
        >>> cache = ResultCache(Path(tempfile.mkdtemp()))
        >>> cache.put("k", pa.table({"x": [1, 2]}))
        >>> cache.get("k").to_pylist(), cache.get("other")
        ([{'x': 1}, {'x': 2}], None)
        """
        if not self.enabled:
            return None
        path = self.folder / f"{key}.arrow"
        try:
            if ttl is not None and time.time() - path.stat().st_mtime > ttl:
                return None
            with pa.memory_map(str(path)) as source:
                return pyarrow.ipc.open_file(source).read_all()
        except (FileNotFoundError, pa.ArrowInvalid):
            return None

    def put(self, key: str, table: pa.Table) -> None:
        if not self.enabled:
            return
        self.folder.mkdir(parents=True, exist_ok=True)
        # Written aside and renamed into place: a reader never sees half a file.
        temporary = self.folder / f".{key}.{os.getpid()}.tmp"
        with pa.OSFile(str(temporary), "wb") as sink, pyarrow.ipc.new_file(sink, table.schema) as w:
            w.write_table(table)
        os.replace(temporary, self.folder / f"{key}.arrow")

    def clear(self) -> int:
        """Remove every entry; return how many there were."""
        if not self.folder.exists():
            return 0
        count = sum(1 for _ in self.folder.glob("*.arrow"))
        shutil.rmtree(self.folder)
        return count
