"""`rtsp-workbench frames`: write the video frames found in a capture as JPEG files, and
H.264/H.265 streams as Annex B elementary streams (with ``--images``, a decoded picture per
access unit through ffmpeg)."""

from __future__ import annotations

import argparse
import logging
from pathlib import Path

from workbench.messages import error, warning

log = logging.getLogger(__name__)


def register(subparsers: argparse._SubParsersAction) -> None:
    parser = subparsers.add_parser(
        "frames",
        help="extract the video frames of a capture (RFC 2435, the lab's format, H.264, H.265)",
        description="Rebuild every complete JPEG frame of every RTP stream in a capture and "
        "write them as numbered .jpg files, or concatenated into one .mjpeg. H.264/H.265 "
        "streams are written as DIR/<stream>.h264 or .h265 (Annex B, the SDP's parameter "
        "sets first); access units with a lost packet or fragment are left out and counted.",
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
    parser.add_argument(
        "--images",
        action="store_true",
        help="with -o, also decode each H.264/H.265 stream with ffmpeg into "
        "DIR/<stream>/NNNNN.png, one picture per access unit",
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
            if stream.h26x is not None:
                if folder is None:
                    warning("frames", f"{stream.label}: H.264/H.265 streams need -o DIR")
                    continue
                written += write_h26x(stream, folder, args.incomplete, args.images)
                continue
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


def write_h26x(stream, folder: Path, incomplete: bool, images: bool) -> int:
    """Write one H.264/H.265 stream as ``folder`` + .h264/.h265; with ``images``, its
    pictures decoded by ffmpeg into ``folder``. Returns the access units written."""
    from workbench.h26x_pictures import decode_pictures

    path = folder.with_suffix(stream.h26x.suffix)
    path.parent.mkdir(parents=True, exist_ok=True)
    with path.open("wb") as out:
        written, left_out = stream.h26x.write_elementary_stream(out, incomplete=incomplete)
    missing = stream.h26x.missing_fragments
    print(
        f"{path}: {written} access unit(s); {left_out} left out as incomplete "
        f"({missing} fragmented NAL unit(s) lost)"
    )
    if images and written:
        pictures = decode_pictures(path, folder)
        print(f"{folder}: {pictures} picture(s) decoded by ffmpeg")
    return written
