"""How long each document kind takes to render, per format (no database, no Prefect).

    python bench/documents.py [--repeat 5] [--json]

Uses the fixed case of tests/test_document_golden.py. The PDF is laid out by WeasyPrint and
dominates; the stage hooks render all three formats when a case enters a stage.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeat", type=int, default=5)
    parser.add_argument("--json", action="store_true")
    args = parser.parse_args()

    from avtaleflyt.documents.render import FORMATS, DocumentRenderer
    from tests.test_document_golden import fixed_contexts

    renderer = DocumentRenderer()
    contexts = fixed_contexts()
    renderer.render("agreement", contexts["agreement"], "pdf")  # imports and font set-up
    rows = []
    for kind, context in contexts.items():
        for fmt in FORMATS:
            times = []
            for _ in range(args.repeat):
                t = time.perf_counter()
                data = renderer.render(kind, context, fmt)
                times.append(time.perf_counter() - t)
            rows.append({"kind": kind, "format": fmt, "median_ms": statistics.median(times) * 1000,
                         "bytes": len(data)})
    load = os.getloadavg()[0] if hasattr(os, "getloadavg") else None
    if args.json:
        print(json.dumps({"load_1min": load, "repeat": args.repeat, "results": rows}, indent=2))
        return
    print(f"load average (1 min): {load:.1f}, {args.repeat} renderings each")
    for r in rows:
        print(f"{r['kind']:24} {r['format']:5} {r['median_ms']:8.1f} ms {r['bytes']:8d} bytes")


if __name__ == "__main__":
    main()
