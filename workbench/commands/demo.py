"""`rtsp-workbench demo`: the main job on the built-in sample (for now: make the sample)."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from workbench.sample import DEFAULT_PATH, ensure_sample


def register(subparsers: argparse._SubParsersAction) -> None:
    parser = subparsers.add_parser(
        "demo",
        help="run the demo on the built-in sample",
        description="Make media/movie.Mjpeg when it is missing and say what it holds.",
    )
    parser.add_argument(
        "--media", default=str(DEFAULT_PATH), help=f"sample clip (default {DEFAULT_PATH})"
    )
    parser.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    try:
        info, made = ensure_sample(Path(args.media))
    except (ValueError, OSError) as exc:
        print(f"rtsp-workbench demo: {exc}", file=sys.stderr)
        return 2
    print(("made " if made else "found ") + info.describe())
    return 0
