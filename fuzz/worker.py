"""One fuzz target under atheris: ``python -m fuzz.worker TARGET [libFuzzer options] DIRS``.

Run by ``python -m fuzz`` in a child process of its own, since libFuzzer owns the process
(it exits on the first finding and prints its statistics on stderr).
"""

from __future__ import annotations

import sys

import atheris


def main() -> None:
    name, libfuzzer_args = sys.argv[1], sys.argv[2:]
    with atheris.instrument_imports(include=["rtsp_common", "analysis", "fuzz"]):
        from fuzz.targets import TARGETS

        target = TARGETS[name]
        target(b"")  # the targets import their parser lazily: import it while instrumenting
    atheris.Setup([sys.argv[0], *libfuzzer_args], target)
    atheris.Fuzz()


if __name__ == "__main__":
    main()
