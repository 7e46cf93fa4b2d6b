"""The small reference captures in pcaps/reference/, made by the project's own programs.

Each holds one whole session of our server on loopback, played by our client: over UDP
and over TCP (interleaved) with PLAY, PAUSE and PLAY again, and one in the lab's dialect.
They are inputs for ``rtsp-workbench check``, ``report`` and ``frames``, for Wireshark,
and for the tests, which pin what the checker finds in each.

``python -m workbench.reference_captures [FOLDER]`` makes them again (root or CAP_NET_RAW).
"""

from __future__ import annotations

import sys
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path

from analysis.capture.live import Capture
from rtsp_server import RTSPServer
from rtsp_server.options import ServerOptions
from workbench.demo.playback import lab_script, run_script, standard_script
from workbench.demo.timings import Timings
from workbench.sample import make_sample

FOLDER = Path("pcaps/reference")
CLIP = "clip.Mjpeg"
CLIP_SIZE = (160, 120)  # small frames keep each capture under 100 kB
CLIP_FRAMES = 60
FPS = 20.0
TIMINGS = Timings(play_s=0.6, pause_s=0.4, resume_s=0.4)
LAB_SECONDS = 0.6
SETTLE_S = 0.3  # the last packets of TEARDOWN reach the capture
LOOPBACK = "127.0.0.1"


@dataclass(frozen=True)
class Reference:
    """One reference capture: its file name and the session it holds."""

    name: str
    transport: str
    dialect: str


REFERENCES = (
    Reference("udp.pcap", "udp", "standard"),
    Reference("tcp.pcap", "tcp", "standard"),
    Reference("lab-dialect.pcap", "udp", "lab"),
)


def make_reference_captures(folder: Path = FOLDER) -> list[Path]:
    """Serve a small sample clip, capture each reference session into ``folder``."""
    folder.mkdir(parents=True, exist_ok=True)
    written = []
    with tempfile.TemporaryDirectory(prefix="rtsp-reference-") as media:
        make_sample(Path(media) / CLIP, size=CLIP_SIZE, frames=CLIP_FRAMES, fps=FPS)
        with RTSPServer(
            options=ServerOptions(port=0, media=media, host=LOOPBACK, fps=FPS)
        ) as server:
            for reference in REFERENCES:
                path = folder / reference.name
                capture = Capture(interface="lo", rtsp_port=server.port, output=path).start()
                script = (
                    lab_script(LAB_SECONDS)
                    if reference.dialect == "lab"
                    else standard_script(TIMINGS)
                )
                run_script(
                    LOOPBACK,
                    server.port,
                    CLIP,
                    script,
                    transport=reference.transport,
                    dialect=reference.dialect,
                )
                time.sleep(SETTLE_S)
                capture.stop()
                written.append(path)
    return written


def main(argv: list[str] | None = None) -> int:
    """Make the reference captures in the folder given (default pcaps/reference)."""
    args = sys.argv[1:] if argv is None else argv
    for path in make_reference_captures(Path(args[0]) if args else FOLDER):
        print(f"{path}: {path.stat().st_size:,} bytes")
    return 0


if __name__ == "__main__":
    sys.exit(main())
