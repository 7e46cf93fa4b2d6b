"""`rtsp-workbench demo`: the whole lab on the built-in sample, in one command.

Makes media/movie.Mjpeg when it is missing, serves it, captures on loopback, plays it
over UDP and TCP with PAUSE/resume, tries the requests a server must refuse and the
lab's dialect, checks the capture and writes the report. Exit 0 only when every
functional test passed.
"""

from __future__ import annotations

import argparse
import logging
from pathlib import Path

from workbench.demo.timings import Timings
from workbench.messages import error
from workbench.report.i18n import DEFAULT_LANGUAGE, Catalog, available_languages
from workbench.sample import DEFAULT_PATH

log = logging.getLogger(__name__)

EXIT_NO_SAMPLE = 2


def register(subparsers: argparse._SubParsersAction) -> None:
    parser = subparsers.add_parser(
        "demo",
        help="run the whole lab on the built-in sample and write the report",
        description=__doc__.split("\n\n", 1)[1],
    )
    parser.add_argument(
        "--media",
        type=Path,
        default=DEFAULT_PATH,
        help=f"clip to serve, made when missing (default {DEFAULT_PATH})",
    )
    parser.add_argument(
        "--pcaps", type=Path, default=Path("pcaps"), help="folder for the capture (default pcaps)"
    )
    parser.add_argument(
        "--reports",
        type=Path,
        default=Path("reports"),
        help="folder for the report (default reports)",
    )
    parser.add_argument("-i", "--interface", default="lo", help="capture interface (default lo)")
    parser.add_argument(
        "--lang",
        choices=available_languages(),
        default=DEFAULT_LANGUAGE,
        help="language of the report and of the console's output (default en)",
    )
    parser.add_argument(
        "--play",
        type=float,
        default=Timings.play_s,
        metavar="S",
        help="seconds of the first PLAY (default %(default)s)",
    )
    parser.add_argument(
        "--pause",
        type=float,
        default=Timings.pause_s,
        metavar="S",
        help="seconds paused (default %(default)s)",
    )
    parser.add_argument(
        "--resume",
        type=float,
        default=Timings.resume_s,
        metavar="S",
        help="seconds of the PLAY after the pause (default %(default)s)",
    )
    parser.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    # Imported here, not at the top: the command-line parser imports every command module,
    # and the scenario pulls in the server, the capture, matplotlib and Jinja2.
    from rich.console import Console
    from rich.progress import BarColumn, Progress, SpinnerColumn, TextColumn, TimeElapsedColumn

    from workbench.demo.console import RichProgress, print_summary
    from workbench.demo.scenario import DemoConfig, run_demo
    from workbench.sample import ensure_sample

    console = Console()
    try:
        info, made = ensure_sample(args.media)
    except (ValueError, OSError) as exc:
        return error("demo", str(exc), EXIT_NO_SAMPLE)
    catalog = Catalog.load(args.lang)
    line = catalog.t("console.made" if made else "console.found", clip=info.describe_in(catalog))
    console.print(line, markup=False, highlight=False, soft_wrap=True)
    config = DemoConfig(
        media=args.media,
        pcaps=args.pcaps,
        reports=args.reports,
        interface=args.interface,
        timings=Timings(args.play, args.pause, args.resume),
        language=args.lang,
    )
    columns = (
        SpinnerColumn(),
        TextColumn("[progress.description]{task.description}"),
        BarColumn(),
        TextColumn("{task.fields[packets]}"),
        TimeElapsedColumn(),
    )
    with Progress(*columns, console=console, transient=False) as progress:
        display = RichProgress(progress, console, catalog)
        result = run_demo(config, display)
        display.finish()
    print_summary(console, result, catalog)
    return result.exit_code
