"""`rtsp-workbench sample`: make the built-in deterministic sample clip."""

from __future__ import annotations

import argparse

from workbench.encoding import parse_size
from workbench.messages import error
from workbench.sample import DEFAULT_FPS, DEFAULT_FRAMES, DEFAULT_PATH, DEFAULT_SIZE, make_sample


def _size(text: str) -> tuple[int, int]:
    try:
        return parse_size(text)
    except ValueError as exc:
        raise argparse.ArgumentTypeError(str(exc)) from None


def register(subparsers: argparse._SubParsersAction) -> None:
    parser = subparsers.add_parser(
        "sample",
        help="make the deterministic sample clip",
        description=(
            "Make a clip of moving shapes with each frame's number drawn large and coded in "
            "blocks in the top-left corner. The same options give the same bytes every run."
        ),
    )
    parser.add_argument(
        "-o",
        "--output",
        default=str(DEFAULT_PATH),
        help=f"where to write (default {DEFAULT_PATH}; "
        ".Mjpeg is the lab's format, .mjpeg raw JPEG)",
    )
    parser.add_argument(
        "--size",
        type=_size,
        default=DEFAULT_SIZE,
        metavar="WxH",
        help="frame size, multiples of 8 up to 2040 (default 384x288)",
    )
    parser.add_argument(
        "--frames", type=int, default=DEFAULT_FRAMES, help="number of frames (default 500)"
    )
    parser.add_argument(
        "--fps",
        type=float,
        default=DEFAULT_FPS,
        help="frame rate the motion is drawn for (default 20)",
    )
    parser.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    try:
        info = make_sample(args.output, size=args.size, frames=args.frames, fps=args.fps)
    except (ValueError, OSError) as exc:
        return error("sample", str(exc))
    print(info.describe())
    return 0
