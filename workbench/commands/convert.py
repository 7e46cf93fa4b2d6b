"""`rtsp-workbench convert`: turn a GIF, a folder of images or a video into a streamable clip."""

from __future__ import annotations

import argparse

from workbench.clip_conversion import convert
from workbench.commands.sample import _size
from workbench.messages import error


def register(subparsers: argparse._SubParsersAction) -> None:
    parser = subparsers.add_parser(
        "convert",
        help="turn a GIF, image folder or video into an RFC 2435-ready clip",
        description=(
            "Re-encode INPUT (an animated GIF, a folder of images, an MJPEG file, or any video "
            "when ffmpeg is on PATH) as baseline 4:2:0 JPEG with the standard Huffman tables, "
            "sides in 16-pixel units up to 2032. OUTPUT ending in .Mjpeg gets the lab's format "
            "(quality is lowered for any frame over 99,999 bytes); .mjpeg/.mjpg raw JPEG."
        ),
    )
    parser.add_argument("input", help="GIF, folder of images, MJPEG file or video")
    parser.add_argument("output", help="the clip to write (.Mjpeg or .mjpeg)")
    parser.add_argument(
        "--fps", type=float, default=None, help="resample a GIF or video to this rate"
    )
    parser.add_argument(
        "--size",
        type=_size,
        default=None,
        metavar="WxH",
        help="output size, multiples of 8 (default: the input's, fitted)",
    )
    parser.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    try:
        info = convert(args.input, args.output, fps=args.fps, size=args.size)
    except (ValueError, OSError) as exc:
        return error("convert", str(exc))
    print(info.describe())
    return 0
