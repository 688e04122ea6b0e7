"""``estate serve --workers N``: the primary process and the N API worker processes it starts.

The primary (the ``estate serve`` process) opens the database, migrates it and seeds it
once, opens one listening socket per worker on the port, then starts N worker
processes (``spawn``: a fresh interpreter each, never a fork of a process with threads
and open connections), each accepting on its own socket; the primary accepts none. The
sockets share the port (``SO_REUSEPORT``): the kernel hashes each new connection to
one of them, so the clients spread over the workers as a coin would spread them (20
clients: 10/10, 13/7, 13/7; a kept-alive connection stays where it landed), and a
worker holding more than its share of the connections asks a client to reconnect
(``api/balance.py``). On one shared socket the worker that woke first took every
connection waiting, as asyncio accepts up to the backlog at once: 16, 18 and 19 of
20 clients connecting together went to one worker, whose requests then queued while
the other idled. A socket outlives its worker: the primary holds it, and a worker
started again after dying answers the connections that waited on it meanwhile.

The primary runs the executor, the scheduler and the search indexer, so that a
collection's ingest never holds the interpreter lock of a process that answers
requests; the workers send the jobs their routes start to it (``jobs/forward.py``),
every process hears the others' bell (``jobs/bell.py``: open pages look again at
once), and the workers count their requests in progress in shared memory the primary's
collections read (``runtime/demand.py``: they wait between batches while there are any).

Settings reach a worker pickled over its start-up pipe, never through the environment
(``serve`` has scrubbed the secrets from it). A worker dies with the primary
(``PR_SET_PDEATHSIG``), a worker that dies alone is started again, and SIGTERM to the
primary stops the workers before the primary ends.
"""

from __future__ import annotations

import contextlib
import ctypes
import logging
import multiprocessing
import signal
import socket
import threading
from typing import TYPE_CHECKING, Any

from ..jobs.bell import RingPipes
from ..jobs.forward import JobPipe
from ..runtime.demand import Demand

if TYPE_CHECKING:
    from multiprocessing.connection import Connection
    from multiprocessing.context import SpawnProcess

    from ..config import Settings

logger = logging.getLogger(__name__)

_PR_SET_PDEATHSIG = 1
_RESTART_PAUSE = 1.0  # seconds before a worker that died is started again


def listeners(host: str, port: int, count: int) -> list[socket.socket]:
    """``count`` listening sockets on ``host:port`` (0: a free port, the same for all),
    one per worker, sharing the port with ``SO_REUSEPORT``. Raises ``OSError`` when
    the port is taken, by any process: a first plain bind finds that out, as a socket
    of another process with ``SO_REUSEPORT`` (of the same user) would otherwise be
    joined silently.

    Made with ``IPPROTO_TCP`` spelt out: asyncio sets ``TCP_NODELAY`` only on sockets
    whose ``proto`` says TCP, and with ``proto`` 0 every small answer waited for the
    client's delayed ACK (40 ms a request on a kept-alive connection).
    """
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    with socket.socket(family, socket.SOCK_STREAM, socket.IPPROTO_TCP) as probe:
        probe.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        probe.bind((host, port))
        port = probe.getsockname()[1]
    sockets: list[socket.socket] = []
    try:
        for _ in range(count):
            sock = socket.socket(family, socket.SOCK_STREAM, socket.IPPROTO_TCP)
            sockets.append(sock)
            sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
            sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEPORT, 1)
            sock.bind((host, port))
            sock.listen(2048)
            sock.set_inheritable(True)
    except OSError:
        for sock in sockets:
            sock.close()
        raise
    return sockets


class Workers:
    """The N API worker processes the primary starts (numbered 1 to N)."""

    def __init__(self, settings: Settings, sockets: list[socket.socket]) -> None:
        self._spawn = multiprocessing.get_context("spawn")
        self.settings = settings
        self.sockets = sockets  # worker i accepts on sockets[i - 1]
        self.count = len(sockets)
        self.jobs = JobPipe.open()
        self.rings = RingPipes(self.count)
        self.demand = Demand(self.count + 1)  # 0: the primary's (it answers none)
        self._processes: list[SpawnProcess] = []
        self._stopping = threading.Event()
        self._watcher = threading.Thread(target=self._watch, name="estate-workers", daemon=True)

    def start(self) -> None:
        self._processes = [self._start(index) for index in range(1, self.count + 1)]
        self._watcher.start()

    def _start(self, index: int) -> SpawnProcess:
        self.demand.reset(index)  # what a dead worker counted is not in progress
        process = self._spawn.Process(
            target=run_worker,
            args=(
                self.settings,
                self.sockets[index - 1],
                self.jobs.writer,
                self.rings.reader(index),
                self.demand,
                index,
            ),
            name=f"estate-api-{index}",
        )
        process.start()
        return process

    def _watch(self) -> None:
        while not self._stopping.wait(_RESTART_PAUSE):
            for i, process in enumerate(self._processes):
                if not process.is_alive() and not self._stopping.is_set():
                    logger.error(
                        "API worker %s (pid %s) ended with %s; starting it again",
                        process.name, process.pid, process.exitcode,
                    )  # fmt: skip
                    self._processes[i] = self._start(i + 1)

    @property
    def pids(self) -> list[int]:
        return [p.pid for p in self._processes if p.pid is not None]

    def stop(self, timeout: float = 10.0) -> None:
        """SIGTERM to every worker (uvicorn finishes the requests in flight), then a
        kill for any still there after ``timeout`` seconds."""
        self._stopping.set()
        for process in self._processes:
            if process.is_alive():
                process.terminate()
        for process in self._processes:
            process.join(timeout)
            if process.is_alive():
                process.kill()
                process.join(1)


def run_worker(
    settings: Settings,
    sock: socket.socket,
    jobs: Connection,
    rings: Connection,
    demand: Demand,
    index: int,
) -> None:
    """A worker process: answer requests on ``sock``; send jobs and bell rings to the
    primary; hear the others' rings on ``rings``; count its requests in progress in
    ``demand`` (``runtime/demand.py``)."""
    _die_with_parent()
    import uvicorn

    from ..api.app import create_app
    from ..api.balance import Connections
    from ..logs import configure

    configure(settings.log_level, settings.log_format)
    connections = Connections()
    application = create_app(
        settings,
        jobs=jobs,
        rings=rings,
        worker=index,
        is_primary=False,
        tuned=True,
        demand=demand,
        connections=connections,
    )
    server = uvicorn.Server(server_config(application))
    connections.of_server = server.server_state.connections
    server.run(sockets=[sock])


def server_config(application: Any) -> Any:
    """uvicorn's settings for an API process (``estate serve``, or one of its workers).

    HTTP is parsed by httptools and the event loop is uvloop's: the event loop's thread
    holds the interpreter most of a request's time (py-spy, 4 clients: 72 %), and with
    h11 and asyncio's loop 10 % of it went to parsing HTTP and 12 % to the loop itself.
    ``bench/api_ab.py`` against h11 and asyncio, in the same runs: 0.93 of the service's
    CPU a request one client at a time, 0.89 under 20 clients (docs/benchmarks.md)."""
    import uvicorn

    return uvicorn.Config(
        application,
        http="httptools",
        loop="uvloop",
        log_config=None,
        access_log=False,
        log_level="warning",
        timeout_graceful_shutdown=3,  # open pages' event streams would hold it forever
    )


def _die_with_parent() -> None:
    """SIGTERM when the primary ends, however it ends (a kill included)."""
    with contextlib.suppress(OSError, AttributeError):
        ctypes.CDLL(None, use_errno=True).prctl(_PR_SET_PDEATHSIG, signal.SIGTERM)
