"""The API's frame queue is bounded in bytes: a caller that stops reading keeps its memory."""

from __future__ import annotations

import threading
import time

import pytest
from media_samples import noise_jpeg

from rtsp_client import RTSPClient
from rtsp_client.frame_queue import FrameQueue
from rtsp_client.options import ClientOptions
from rtsp_client.receiver import Frame
from rtsp_common.mjpeg import RawMJPEGWriter
from rtsp_server import RTSPServer
from rtsp_server.options import ServerOptions


def frame(index: int, size: int) -> Frame:
    return Frame(bytes(size), timestamp=index * 3000, arrival=0.0, index=index)


def test_the_oldest_frames_go_when_the_byte_budget_is_passed():
    frames = FrameQueue(max_bytes=1000, max_frames=100)
    for i in range(10):
        frames.put(frame(i, 300))
    assert len(frames) == 3 and frames.queued_bytes == 900 and frames.dropped == 7
    assert [frames.get(0)[1].index for _ in range(3)] == [7, 8, 9]
    assert frames.get(0) == (False, None)
    frames.put(frame(10, 5000))  # one frame over the budget is still delivered
    assert frames.get(0)[1].index == 10


def test_the_frame_count_bounds_too_and_the_end_stays_for_every_reader():
    frames = FrameQueue(max_bytes=10**9, max_frames=2)
    for i in range(5):
        frames.put(frame(i, 10))
    frames.end()
    frames.end()
    assert frames.dropped == 3
    assert [frames.get(0)[1].index for _ in range(2)] == [3, 4]
    assert frames.get(0) == (True, None) and frames.get(0) == (True, None)


def test_a_reader_waiting_is_woken_by_a_frame():
    frames = FrameQueue()
    threading.Timer(0.1, frames.put, [frame(0, 10)]).start()
    got, item = frames.get(timeout=5)
    assert got and item is not None and item.index == 0


def test_bad_budget_is_refused():
    with pytest.raises(ValueError, match="frame_queue_bytes"):
        ClientOptions(frame_queue_bytes=0)


def test_a_caller_that_does_not_read_holds_at_most_the_budget(tmp_path):
    big = [noise_jpeg((400, 304), seed, quality=95) for seed in range(4)]
    clip = tmp_path / "big.mjpeg"
    with RawMJPEGWriter(clip) as writer:
        for jpeg in big:
            writer.append(jpeg)
    budget = 2 * max(len(j) for j in big)
    options = ServerOptions(port=0, media=clip, host="127.0.0.1", fps=50, loop=True)
    with RTSPServer(options=options) as server:
        url = f"rtsp://127.0.0.1:{server.port}/big.mjpeg"
        with RTSPClient.from_url(url, ClientOptions(frame_queue_bytes=budget)) as client:
            client.setup()
            client.play()
            deadline = time.monotonic() + 10
            while client.stats().frames_complete < 12 and time.monotonic() < deadline:
                time.sleep(0.05)  # not reading: frames pile up
            stats = client.stats()
            assert stats.frames_complete >= 12
            assert client._frames.queued_bytes <= budget
            assert stats.frames_not_read >= stats.frames_complete - 2 - 1
            assert client.next_frame(timeout=5) is not None  # the newest are still there
            client.teardown()
