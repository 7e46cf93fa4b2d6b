"""Loss on the path, made by the kernel: iptables drops a random share of the client's RTP
(`-m statistic --mode random`). The client's RFC 3550 loss (A.3) equals the drop counter, less
the drops after the last packet it received (which the RFC cannot count); frames with a lost
fragment are counted incomplete and never handed over torn."""

from __future__ import annotations

import io
import itertools
import re
import subprocess
import time
from collections.abc import Iterator
from contextlib import contextmanager

import pytest
from local_ports import free_port
from PIL import Image
from realtools import require_raw_socket, require_tool

from rtsp_client import RTSPClient
from rtsp_client.options import ClientOptions
from rtsp_server import RTSPServer
from rtsp_server.options import ServerOptions

pytestmark = pytest.mark.interop

DROP_PROBABILITY = 0.05
FRAMES = 120


@contextmanager
def dropping(port: int, probability: float) -> Iterator:
    """An iptables rule dropping that share of UDP to ``port`` on loopback; yields a function
    reading how many packets it dropped."""
    require_raw_socket()  # root, which iptables needs
    iptables = require_tool("iptables")["iptables"]
    tag = f"rtsp-workbench-test-{port}"
    rule = ["INPUT", "-i", "lo", "-p", "udp", "--dport", str(port), "-m", "statistic",
            "--mode", "random", "--probability", str(probability),
            "-m", "comment", "--comment", tag, "-j", "DROP"]  # fmt: skip
    subprocess.run([iptables, "-I", *rule], check=True, capture_output=True, timeout=30)

    def dropped() -> int:
        listing = subprocess.run(
            [iptables, "-L", "INPUT", "-v", "-x", "-n"],
            check=True, capture_output=True, text=True, timeout=30,
        ).stdout  # fmt: skip
        (line,) = [ln for ln in listing.splitlines() if tag in ln]
        return int(re.split(r"\s+", line.strip())[0])

    try:
        yield dropped
    finally:
        subprocess.run([iptables, "-D", *rule], capture_output=True, timeout=30)


def test_client_loss_equals_the_kernels_drops_and_no_frame_is_torn(lab_movie):
    options = ServerOptions(port=0, media=lab_movie, host="127.0.0.1", fps=60, mtu=1000)
    rtp_port = free_port(pair=True)
    with (
        RTSPServer(options=options) as server,
        dropping(rtp_port, DROP_PROBABILITY) as dropped,
        RTSPClient.from_url(
            f"rtsp://127.0.0.1:{server.port}/movie.Mjpeg",
            ClientOptions(transport="udp", rtp_port=rtp_port, timeout=5),
        ) as client,
    ):
        client.setup()
        client.play()
        shown = list(itertools.islice(client.frames(timeout=5), FRAMES // 2))
        client.pause()
        time.sleep(0.5)  # what was sent before PAUSE arrives, or is dropped
        stats = client.stats()
        drops = dropped()
        sent = server.call(lambda: sum(s.stream.packet_count for s in server.sessions))
    assert drops > 0
    after_last = sent - stats.packets_expected  # dropped after the last packet received
    assert stats.packets_lost == drops - after_last
    assert stats.frames_incomplete > 0
    for frame in shown:  # every frame handed over is whole: it decodes to the end
        Image.open(io.BytesIO(frame.jpeg)).load()
