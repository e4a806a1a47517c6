"""Import one CSV into a fresh hub and print its figures as JSON: the big-file run of
`python -m bench.customers`, in a process of its own so that its peak RSS is the import's.

    python -m bench.customers_import FILE HUB
"""

from __future__ import annotations

import json
import resource
import sys
import time
from pathlib import Path

from bench.customers import MAPPING
from customers import import_csv, open_hub


def _peak_rss_mb() -> float:
    """This process image's peak RSS: VmHWM, since ru_maxrss also keeps the RSS that the
    forking parent had (Linux carries it over exec), which measured the bench, not the import."""
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith("VmHWM:"):
            return int(line.split()[1]) / 1024
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024  # KiB where there is no /proc


def main(argv: list[str] | None = None) -> None:
    path, hub_path = (argv or sys.argv[1:])[:2]
    clock, cpu = time.perf_counter(), time.process_time()
    with open_hub(hub_path) as hub:
        result = import_csv(hub, path, MAPPING)
    figures = {
        "rows": result.rows_read,
        "accepted": result.accepted,
        "rejected": result.rejected,
        "seconds": time.perf_counter() - clock,
        "cpu_s": time.process_time() - cpu,
        "peak_rss_mb": _peak_rss_mb(),
    }
    print(json.dumps(figures))


if __name__ == "__main__":
    main()
