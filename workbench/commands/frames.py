"""`rtsp-workbench frames`: write the video frames found in a capture as JPEG files."""

from __future__ import annotations

import argparse
import logging
from pathlib import Path

from workbench.messages import error, warning

log = logging.getLogger(__name__)


def register(subparsers: argparse._SubParsersAction) -> None:
    parser = subparsers.add_parser(
        "frames",
        help="extract the video frames of a capture (RFC 2435 or the lab's format)",
        description="Rebuild every complete JPEG frame of every RTP stream in a capture and "
        "write them as numbered .jpg files, or concatenated into one .mjpeg.",
    )
    parser.add_argument("capture", help="pcap or pcapng file")
    out = parser.add_mutually_exclusive_group(required=True)
    out.add_argument("-o", "--output-dir", metavar="DIR", help="write DIR/<stream>/NNNNN.jpg")
    out.add_argument(
        "--mjpeg",
        metavar="OUT",
        help="write all frames to one file: the lab's format when OUT ends in "
        ".Mjpeg, raw JPEG after JPEG otherwise",
    )
    parser.add_argument("--rtp-port", type=int, action="append", metavar="N")
    parser.add_argument(
        "--incomplete", action="store_true", help="also write frames with lost packets"
    )
    parser.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    # Imported here: the command-line parser imports every command module, and the
    # analysis brings numpy; `--help` and the other commands start without it.
    from analysis.check import check_capture
    from analysis.errors import AnalysisError
    from rtsp_common.errors import MediaFileError
    from rtsp_common.mjpeg import LAB_FORMAT, LAB_SUFFIX, RAW_FORMAT, open_writer

    try:
        result = check_capture(args.capture, args.rtp_port)
    except AnalysisError as exc:
        return error("frames", f"cannot read {args.capture}: {exc}")
    if result.error is not None:
        warning("frames", f"{result.error}; writing the frames read before it")
    written = 0
    writer = None
    try:
        if args.mjpeg:
            # The lab's reader expects its 5-digit length prefixes in a .Mjpeg file.
            lab = Path(args.mjpeg).suffix == LAB_SUFFIX
            writer = open_writer(args.mjpeg, LAB_FORMAT if lab else RAW_FORMAT, overwrite=True)
        for index, stream in enumerate(result.streams):
            folder = None
            if args.output_dir:
                folder = Path(args.output_dir) / f"stream{index}-{stream.ssrc:08x}"
            for number, frame in enumerate(stream.frames):
                if not frame.complete and not args.incomplete:
                    continue
                data = frame.jpeg()
                if data is None:
                    continue
                if writer is not None:
                    writer.append(data)
                elif folder is not None:
                    folder.mkdir(parents=True, exist_ok=True)
                    (folder / f"{number:05d}.jpg").write_bytes(data)
                written += 1
    except MediaFileError as exc:
        return error("frames", str(exc))
    except OSError as exc:
        return error("frames", f"cannot write the frames: {exc}")
    finally:
        if writer is not None:
            writer.close()
    print(
        f"{written} frame(s) from {len(result.streams)} stream(s) written to {args.mjpeg or args.output_dir}"
    )
    return 0 if written else 1
