"""Import one CSV into a fresh hub and print its figures as JSON: the big-file run of
`python -m bench.customers`, in a process of its own so that its peak RSS is the import's.

    python -m bench.customers_import FILE HUB
"""

from __future__ import annotations

import json
import resource
import sys
import time

from bench.customers import MAPPING
from customers import import_csv, open_hub


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
        # ru_maxrss is in KiB on Linux.
        "peak_rss_mb": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024,
    }
    print(json.dumps(figures))


if __name__ == "__main__":
    main()
