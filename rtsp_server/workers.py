"""`rtsp-server --workers N`: N worker processes share the RTSP port, one per core.

One asyncio process stops at one core. Here a supervisor starts N workers; each is a whole
RTSPServer (its own connections, sessions, pacing scheduler, senders and RTP/RTCP port pair)
listening on the same TCP port with SO_REUSEPORT, and the kernel spreads new connections over
them. Each worker maps and packetizes the clips it serves itself; the files' pages are shared
through the page cache.

- A session belongs to the worker that set it up, and its id says which (id mod N). RFC 2326
  §3 lets a client send a session's requests on a new connection; one that lands on another
  worker is answered 454 with the reason (rtsp_server/session.py): clients (ffmpeg, VLC,
  GStreamer, the lab's) keep one connection per session, so that case is rare, and routing a
  request to its owner would put a relay between every worker pair.
- ``--max-sessions``, ``--max-connections`` and the per-peer limits hold across the workers
  (rtsp_server/worker_slot.py).
- Ctrl-C or SIGTERM: every worker ends its sessions with RTCP BYE and exits 0, then the
  supervisor does.
- A worker that dies is logged and started again on the same port pair; the kernel has closed
  its clients' connections, so they see their session end.

The lab's ``RTSPServer(554, 'movie.Mjpeg').start()`` stays one process.
"""

from __future__ import annotations

import errno
import logging
import multiprocessing
import os
import queue
import signal
import socket
import tempfile
import time
from dataclasses import dataclass, replace
from multiprocessing.connection import wait
from multiprocessing.process import BaseProcess
from multiprocessing.queues import Queue
from types import FrameType
from typing import cast

from rtsp_server.options import ServerOptions
from rtsp_server.ports import PortInUse, port_in_use_advice
from rtsp_server.worker_slot import PEER_BUCKETS, SharedLimit, SharedPeerCounts, WorkerSlot

log = logging.getLogger(__name__)

START_TIMEOUT = 30.0  # s for every worker to be serving
STOP_TIMEOUT = 10.0  # s for the workers to end their sessions before they are killed
RESTART_PAUSE = 0.5  # s before a dead worker is started again, doubled while it keeps dying
MAX_RESTART_PAUSE = 30.0
EXIT_CANNOT_START = 2


class WorkerStartError(Exception):
    """A worker could not start serving (the port is taken, a media file is bad, ...)."""


def usable_cores() -> int:
    """The cores this process may run on (its CPU affinity), at least 1."""
    try:
        return max(1, len(os.sched_getaffinity(0)))
    except AttributeError:  # not Linux
        return os.cpu_count() or 1


@dataclass
class _Worker:
    index: int
    process: BaseProcess
    started_at: float
    quick_deaths: int = 0  # deaths in a row soon after starting: the restart pause grows


def _serve(options: ServerOptions, slot: WorkerSlot, log_level: int, ready: Queue) -> None:
    """A worker process: one RTSPServer on the shared port until SIGINT or SIGTERM."""
    from rtsp_server.server import RTSPServer

    logging.basicConfig(
        level=log_level,
        format=f"%(asctime)s %(levelname)s worker {slot.index} %(name)s: %(message)s",
    )
    for name in ("rtsp_server.server", "rtsp_server.connection", "rtsp_server.access"):
        logging.getLogger(name).setLevel(min(log_level, logging.INFO))
    try:
        server = RTSPServer(options=options, worker=slot)
        server.on_ready = lambda: ready.put((slot.index, None))
        server.start()
    except PortInUse as exc:
        ready.put((slot.index, port_in_use_advice(exc)))
        raise SystemExit(EXIT_CANNOT_START) from None
    except (OSError, ValueError) as exc:  # the supervisor says it once, as the CLI would
        ready.put((slot.index, str(exc)))
        raise SystemExit(EXIT_CANNOT_START) from None


class WorkerPool:
    """The supervisor: starts, watches, restarts and stops the worker processes."""

    def __init__(self, options: ServerOptions, log_level: int = logging.WARNING) -> None:
        self.options = options
        self.log_level = log_level
        self.context = multiprocessing.get_context("spawn")  # clean children: no inherited loop
        self.ready = self.context.Queue()
        self.workers: dict[int, _Worker] = {}
        self.stopping = False
        self._lock_file = tempfile.NamedTemporaryFile(prefix="rtsp-server-limits-")
        count = options.workers
        self.sessions = SharedLimit(
            options.max_sessions, self.context.Array("i", count, lock=False), self._lock_file.name
        )
        self.connections = SharedLimit(
            options.max_connections,
            self.context.Array("i", count, lock=False),
            self._lock_file.name,
        )
        self.peers, self.peer_connections = (
            SharedPeerCounts(
                self.context.Array("i", count * PEER_BUCKETS, lock=False), self._lock_file.name
            )
            for _ in range(2)
        )
        self._reserved: socket.socket | None = None

    def run(self) -> None:
        """Serve until SIGINT or SIGTERM, then stop every worker; WorkerStartError when one
        cannot start."""
        for signum in (signal.SIGINT, signal.SIGTERM):
            signal.signal(signum, self._on_signal)
        try:
            options = self._reserve_port()
            for index in range(options.workers):
                self._start(index, options)
            problem = self._await_ready(options.workers)
            if problem is not None:
                raise WorkerStartError(problem)
            log.info(
                "%d workers serving on port %d: pids %s",
                options.workers,
                options.port,
                " ".join(str(w.process.pid) for w in self.workers.values()),
            )
            self._watch(options)
        finally:
            self._stop_all()
            if self._reserved is not None:
                self._reserved.close()
            self._lock_file.close()

    def _reserve_port(self) -> ServerOptions:
        """The options every worker gets, with the RTSP port held here (bound, never
        listening) so that all workers share it: with --port 0, a port picked once.

        SO_REUSEPORT would also let the workers join another server's group on the same
        port, so the port is first bound without it: taken by anyone, it is refused."""
        family = socket.AF_INET6 if ":" in self.options.host else socket.AF_INET
        address = (self.options.host, self.options.port)
        with socket.socket(family, socket.SOCK_STREAM) as probe:
            probe.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)  # TIME_WAIT is fine
            try:
                probe.bind(address)
            except OSError as exc:
                if exc.errno == errno.EADDRINUSE:
                    raise PortInUse("TCP", self.options.port) from exc
                raise
            address = probe.getsockname()[:2]
        sock = socket.socket(family, socket.SOCK_STREAM)
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEPORT, 1)
        sock.bind(address)
        self._reserved = sock
        return replace(self.options, port=address[1])

    def _start(self, index: int, options: ServerOptions) -> None:
        slot = WorkerSlot(
            index, options.workers, self.sessions, self.connections, self.peers,
            self.peer_connections,
        )  # fmt: skip
        process = self.context.Process(
            target=_serve,
            args=(options, slot, self.log_level, self.ready),
            name=f"rtsp-server-worker-{index}",
        )
        process.start()
        self.workers[index] = _Worker(index, process, time.monotonic())
        log.info("worker %d (pid %d) started", index, process.pid)

    def _await_ready(self, count: int) -> str | None:
        """None once ``count`` workers are serving, else what stopped one."""
        deadline = time.monotonic() + START_TIMEOUT
        waiting = count
        while waiting:
            remaining = deadline - time.monotonic()
            if self.stopping:
                return None
            if remaining <= 0:
                return f"the workers were not serving after {START_TIMEOUT:.0f} s"
            try:
                _, problem = self.ready.get(timeout=min(remaining, 0.5))
            except queue.Empty:  # look at the processes, and wait on
                dead = [w for w in self.workers.values() if not w.process.is_alive()]
                if dead:
                    return f"worker {dead[0].index} exited with {dead[0].process.exitcode}"
                continue
            if problem is not None:
                return problem
            waiting -= 1
        return None

    def _watch(self, options: ServerOptions) -> None:
        """Restart workers that die, until a signal says stop."""
        while not self.stopping:
            sentinels = {w.process.sentinel: w for w in self.workers.values()}
            for sentinel in wait(list(sentinels), timeout=0.5):
                if not self.stopping:
                    # wait() gives back the sentinels it was given: ints here.
                    self._restart(sentinels[cast(int, sentinel)], options)
            self._drain_ready()

    def _restart(self, worker: _Worker, options: ServerOptions) -> None:
        worker.process.join()
        log.error(
            "worker %d (pid %d) died (%s): starting it again; its clients' connections were closed",
            worker.index,
            worker.process.pid,
            _how_it_ended(worker.process.exitcode),
        )
        self.sessions.clear(worker.index)
        self.connections.clear(worker.index)
        self.peers.clear(worker.index)
        self.peer_connections.clear(worker.index)
        quick = time.monotonic() - worker.started_at < START_TIMEOUT
        deaths = worker.quick_deaths + 1 if quick else 0
        time.sleep(min(MAX_RESTART_PAUSE, RESTART_PAUSE * 2**deaths))
        self._start(worker.index, options)
        self.workers[worker.index].quick_deaths = deaths

    def _drain_ready(self) -> None:
        """Log what restarted workers say about their start, without waiting for it."""
        while True:
            try:
                index, problem = self.ready.get_nowait()
            except queue.Empty:
                return
            if problem is not None:
                log.error("worker %d cannot start again: %s", index, problem)

    def _on_signal(self, signum: int, frame: FrameType | None) -> None:
        self.stopping = True

    def _stop_all(self) -> None:
        """SIGTERM every worker (each ends its sessions with BYE), then wait; kill the late."""
        self.stopping = True
        alive = [w.process for w in self.workers.values() if w.process.is_alive()]
        for process in alive:
            if process.pid is not None:
                try:
                    os.kill(process.pid, signal.SIGTERM)
                except ProcessLookupError:
                    pass
        deadline = time.monotonic() + STOP_TIMEOUT
        for process in alive:
            process.join(max(0.0, deadline - time.monotonic()))
            if process.is_alive():
                log.warning(
                    "worker pid %d did not stop in %.0f s: killed", process.pid, STOP_TIMEOUT
                )
                process.kill()
                process.join()
        self.ready.close()
        self.ready.join_thread()


def _how_it_ended(exitcode: int | None) -> str:
    if exitcode is not None and exitcode < 0:
        return f"signal {signal.Signals(-exitcode).name}"
    return f"exit status {exitcode}"
