"""Run every benchmark under bench/ in turn."""

import importlib
import pkgutil
import sys

import bench


def main() -> int:
    failures = 0
    for info in sorted(pkgutil.iter_modules(bench.__path__), key=lambda m: m.name):
        if not info.name.startswith("bench_"):
            continue
        print(f"== {info.name} ==", flush=True)
        module = importlib.import_module(f"bench.{info.name}")
        failures += 1 if module.main() else 0
    return 1 if failures else 0


if __name__ == "__main__":
    sys.exit(main())
