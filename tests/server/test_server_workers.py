"""`rtsp-server --workers N`: worker processes sharing the RTSP port, as a user runs it.

Which worker takes a connection is the kernel's choice (SO_REUSEPORT hashes the addresses),
so the tests open connections until they have what they need; a session id tells its worker
(id mod N). Nothing here measures time: the scaling figures are bench/bench_scale.py's.
"""

from __future__ import annotations

import argparse
import multiprocessing
import os
import re
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager

import pytest
from blocking_rtsp import RTSPTestClient
from local_ports import free_port, udp_port_pair
from server_process import ServerProcess, rtsp_server_process

from rtsp_common.headers import Session, Transport
from rtsp_common.status import Status
from rtsp_server.cli import worker_count
from rtsp_server.options import ServerOptions
from rtsp_server.worker_slot import PEER_BUCKETS, SharedLimit, SharedPeerCounts
from rtsp_server.workers import usable_cores

WORKERS = 2
ATTEMPTS = 60  # connections tried before giving up on the kernel sending one to a worker
RTCP_BYE = 203  # RFC 3550 §6.6


@pytest.fixture
def served(media_dir) -> Iterator[callable]:
    @contextmanager
    def start(*options: str) -> Iterator[ServerProcess]:
        with rtsp_server_process(media_dir, "--workers", str(WORKERS), "-v", *options) as s:
            wait_for(lambda: f"{WORKERS} workers serving" in s.log(), s)
            yield s

    return start


def wait_for(condition, server: ServerProcess, timeout: float = 20.0) -> None:
    deadline = time.monotonic() + timeout
    while not condition():
        if time.monotonic() > deadline:
            raise AssertionError(f"not seen within {timeout} s; log:\n{server.log()[-3000:]}")
        time.sleep(0.05)


def worker_of(session_id: str) -> int:
    return int(session_id) % WORKERS


def setup(server: ServerProcess, rtp: int | None = None):
    """A new connection and a UDP SETUP on it (to client ports ``rtp``, ``rtp + 1``):
    (client, response)."""
    client = RTSPTestClient("127.0.0.1", server.port)
    rtp = free_port(pair=True) if rtp is None else rtp
    transport = f"RTP/AVP;unicast;client_port={rtp}-{rtp + 1}"
    response = client.request("SETUP", f"{client.base}/clip.Mjpeg", {"Transport": transport})
    return client, response


def session_of(response) -> str:
    return Session.parse(response.headers.get("Session")).id


def test_sessions_land_on_every_worker_each_with_its_own_rtp_ports(served):
    with served() as server:
        seen: dict[int, set[int]] = {}
        clients = []
        for _ in range(ATTEMPTS):
            client, response = setup(server)
            clients.append(client)
            assert response.status == Status.OK
            granted = Transport.parse(response.headers.get("Transport"))
            seen.setdefault(worker_of(session_of(response)), set()).add(granted.server_port[0])
            if len(seen) == WORKERS and len(clients) >= 8:
                break
        assert sorted(seen) == list(range(WORKERS))
        # One RTP/RTCP pair per worker process, different from the others'.
        assert all(len(ports) == 1 for ports in seen.values())
        assert len(set().union(*seen.values())) == WORKERS
        pids = re.findall(r"worker \d \(pid (\d+)\) started", server.log())
        assert len(set(pids)) == WORKERS


def test_a_session_resumed_on_another_connection_is_served_by_its_worker_only(served):
    with served() as server:
        owner, response = setup(server)
        session = session_of(response)
        url = f"{owner.base}/clip.Mjpeg"
        outcomes: dict[int, str] = {}
        for _ in range(ATTEMPTS):
            other = RTSPTestClient("127.0.0.1", server.port)
            reply = other.request("GET_PARAMETER", url, {"Session": session})
            outcomes[reply.status] = reply.body.decode()
            if len(outcomes) == 2:
                break
        # RFC 2326 §3: the session's own worker serves it from any connection; another
        # worker answers 454 and says why in the body.
        assert set(outcomes) == {Status.OK, Status.SESSION_NOT_FOUND}, outcomes
        assert "belongs to another worker process" in outcomes[Status.SESSION_NOT_FOUND]
        # An id nobody handed out says nothing of other sessions.
        stranger = RTSPTestClient("127.0.0.1", server.port)
        made_up = str(int(session) + WORKERS)  # the same worker's, never issued
        reply = stranger.request("GET_PARAMETER", url, {"Session": made_up})
        assert reply.status in (Status.SESSION_NOT_FOUND,) and (
            reply.body == b"" or b"another worker" in reply.body
        )


@pytest.mark.parametrize("limit", ["--max-sessions", "--max-sessions-per-peer"])
def test_session_limits_hold_across_workers(served, limit):
    with served(limit, "3") as server:
        admitted = []
        refused = 0
        for _ in range(ATTEMPTS):
            client, response = setup(server)
            if response.status == Status.OK:
                admitted.append((client, session_of(response)))
            else:
                assert response.status == Status.NOT_ENOUGH_BANDWIDTH
                refused += 1
            owners = {worker_of(s) for _, s in admitted}
            if len(admitted) == 3 and owners == set(range(WORKERS)) and refused >= 6:
                break
            if len(admitted) == 3 and len(owners) < WORKERS:
                # all on one worker would not show the limit is shared: free one and go on
                client, session = admitted.pop()
                client.request("TEARDOWN", f"{client.base}/clip.Mjpeg", {"Session": session})
        assert len(admitted) == 3 and {worker_of(s) for _, s in admitted} == set(range(WORKERS))
        # No worker holds 3 sessions, yet each refused the 4th: the limit is the server's.
        assert refused >= 6
        client, session = admitted.pop()
        teardown = client.request("TEARDOWN", f"{client.base}/clip.Mjpeg", {"Session": session})
        assert teardown.status == Status.OK
        _, again = setup(server)
        assert again.status == Status.OK


@pytest.mark.parametrize("limit", ["--max-connections", "--max-connections-per-peer"])
def test_connection_limits_hold_across_workers(served, limit):
    with served(limit, "3") as server:
        open_ones = [RTSPTestClient("127.0.0.1", server.port) for _ in range(3)]
        for client in open_ones:
            assert client.request("OPTIONS", "*").status == Status.OK
        for _ in range(6):  # whichever worker takes it, the server is full
            extra = RTSPTestClient("127.0.0.1", server.port, timeout=2.0)
            with pytest.raises((ConnectionError, TimeoutError, OSError)):
                extra.request("OPTIONS", "*")
        open_ones.pop().sock.close()
        wait_for(lambda: _options_ok(server), server)


def _options_ok(server: ServerProcess) -> bool:
    try:
        return RTSPTestClient("127.0.0.1", server.port).request("OPTIONS", "*").status == 200
    except OSError:
        return False


def test_sigterm_ends_every_workers_sessions_with_bye_and_exits_0(served):
    with served() as server:
        playing: dict[int, socket.socket] = {}
        pairs = []
        for _ in range(ATTEMPTS):
            rtp, rtcp = udp_port_pair()
            pairs.append(rtp)
            client, response = setup(server, rtp.getsockname()[1])
            session, worker = session_of(response), worker_of(session_of(response))
            if worker in playing:
                continue
            play = client.request("PLAY", f"{client.base}/clip.Mjpeg", {"Session": session})
            assert play.status == Status.OK
            playing[worker] = rtcp
            if len(playing) == WORKERS:
                break
        assert len(playing) == WORKERS
        server.process.send_signal(signal.SIGTERM)
        assert server.process.wait(timeout=30) == 0
        for worker, rtcp in playing.items():
            assert RTCP_BYE in _rtcp_packet_types(rtcp), f"worker {worker} sent no BYE"


def _rtcp_packet_types(sock: socket.socket) -> set[int]:
    """Packet types of the compound RTCP packets waiting on ``sock``."""
    sock.settimeout(1.0)
    types: set[int] = set()
    try:
        while True:
            data = sock.recv(65536)
            at = 0
            while at + 4 <= len(data):
                types.add(data[at + 1])
                at += 4 * (int.from_bytes(data[at + 2 : at + 4], "big") + 1)
    except TimeoutError:
        return types


def test_a_killed_worker_is_started_again_and_its_clients_see_the_close(served):
    with served() as server:
        for _ in range(ATTEMPTS):
            client, response = setup(server)
            if worker_of(session_of(response)) == 1:
                break
        else:
            pytest.fail("no session landed on worker 1")
        (pid,) = re.findall(r"worker 1 \(pid (\d+)\) started", server.log())
        os.kill(int(pid), signal.SIGKILL)
        client.sock.settimeout(10)
        assert client.sock.recv(1) == b""  # the kernel closed the dead worker's connection
        wait_for(lambda: server.log().count("worker 1 rtsp_server.server: serving") == 2, server)
        assert f"worker 1 (pid {pid}) died (signal SIGKILL)" in server.log()
        (new_pid,) = re.findall(r"worker 1 \(pid (\d+)\) started", server.log())[1:]
        assert new_pid != pid
        # The new worker serves: sessions land on worker 1 again.
        for _ in range(ATTEMPTS):
            _, response = setup(server)
            assert response.status == Status.OK
            if worker_of(session_of(response)) == 1:
                break
        else:
            pytest.fail("the restarted worker 1 never set up a session")


def test_a_port_another_server_holds_is_refused_even_to_reuse_port(media_dir):
    """SO_REUSEPORT must not let the workers join another server on its port."""
    with rtsp_server_process(media_dir, "--workers", "2") as first:
        done = subprocess.run(
            [sys.executable, "-m", "rtsp_server", "--host", "127.0.0.1", "--port",
             str(first.port), "--media", str(media_dir), "--workers", "2"],
            capture_output=True, text=True, timeout=60,
        )  # fmt: skip
    assert done.returncode == 2
    assert f"rtsp-server: error: TCP port {first.port} is in use" in done.stderr


def test_worker_counts_auto_and_refused_values():
    assert worker_count("auto") == usable_cores() >= 1
    assert worker_count("3") == 3
    with pytest.raises(argparse.ArgumentTypeError):
        worker_count("0")
    with pytest.raises(ValueError, match="workers must be 1 or more"):
        ServerOptions(workers=0)
    with pytest.raises(ValueError, match="need RTP ports past"):
        ServerOptions(workers=4, rtp_port=65530)


def test_shared_limit_counts_per_worker_and_forgets_a_dead_one(tmp_path):
    lock = tmp_path / "lock"
    lock.touch()
    limit = SharedLimit(3, multiprocessing.Array("i", 2, lock=False), str(lock))
    assert [limit.try_take(0), limit.try_take(1), limit.try_take(1)] == [True, True, True]
    assert not limit.try_take(0) and limit.total() == 3
    limit.clear(1)  # worker 1 died with its two
    assert limit.total() == 1 and limit.try_take(0)
    limit.give_back(0)
    limit.give_back(0)
    limit.give_back(0)  # never below zero
    assert limit.total() == 0


def test_shared_peer_counts_hold_per_address_across_workers(tmp_path):
    lock = tmp_path / "lock"
    lock.touch()
    peers = SharedPeerCounts(multiprocessing.Array("i", 2 * PEER_BUCKETS, lock=False), str(lock))
    assert peers.try_take(0, "10.0.0.7", 2) and peers.try_take(1, "10.0.0.7", 2)
    assert not peers.try_take(0, "10.0.0.7", 2) and not peers.try_take(1, "10.0.0.7", 2)
    assert peers.try_take(0, "10.0.0.8", 2) and peers.held("10.0.0.7") == 2
    peers.clear(1)  # worker 1 died with its session of 10.0.0.7
    assert peers.held("10.0.0.7") == 1 and peers.try_take(0, "10.0.0.7", 2)
    peers.give_back(0, "10.0.0.7")
    assert peers.held("10.0.0.7") == 1
