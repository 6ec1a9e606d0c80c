"""Run every benchmark in bench/ and print one JSON object per figure.

Each ``bench/<area>.py`` exposes ``run(quick: bool) -> list[dict]``; figures carry
``name``, ``value``, ``unit`` and, where the same run measured one, ``baseline`` and ``ratio``.
``--quick`` keeps the whole run under a minute.
"""

from __future__ import annotations

import argparse
import importlib.util
import json
import sys
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent


def modules(only: list[str]) -> list[Path]:
    """Benchmark files, in name order, optionally filtered by area name."""
    found = sorted(p for p in HERE.glob("*.py") if p.name not in {"run.py"} and not p.name.startswith("_"))
    return [p for p in found if not only or p.stem in only]


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="all benchmarks in under a minute")
    parser.add_argument("areas", nargs="*", help="only these bench/<area>.py files")
    args = parser.parse_args()
    sys.path.insert(0, str(HERE))
    failed = 0
    for path in modules(args.areas):
        spec = importlib.util.spec_from_file_location(f"bench_{path.stem}", path)
        assert spec and spec.loader
        module = importlib.util.module_from_spec(spec)
        spec.loader.exec_module(module)
        if not hasattr(module, "run"):
            continue
        started = time.perf_counter()
        try:
            figures = module.run(args.quick)
        except Exception as exc:  # one broken benchmark must not hide the others' figures
            failed += 1
            print(json.dumps({"name": f"{path.stem}_error", "error": repr(exc)}), flush=True)
            continue
        for figure in figures:
            print(json.dumps(figure, ensure_ascii=False), flush=True)
        print(f"# {path.name}: {time.perf_counter() - started:.1f}s", file=sys.stderr)
    return 1 if failed else 0


if __name__ == "__main__":
    raise SystemExit(main())
