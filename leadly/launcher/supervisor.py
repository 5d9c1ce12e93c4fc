"""The services ``leadly up`` runs, and the child-process runner behind it.

A service is one entry in :data:`SERVICES`: the ``leadly`` sub-command that runs it, the
settings field of the port it listens on (checked to be free before anything starts), the path
that answers when it is ready and the URLs printed once it is. Adding a service to
``leadly up`` is one more entry.

Besides the services, ``leadly up`` runs one job in the background: :data:`REPORTS_BUILD`, a
``dbt build`` of the analytics models, so the dashboards show the data as soon as it finishes.

:class:`Supervisor` runs them as child processes. A service that stops on its own once it has
started is restarted after a backoff and watched until it answers its health path again;
:class:`RestartPolicy` (settings ``restart_*``) says how long to wait and when to give up.
"""

from __future__ import annotations

import contextlib
import functools
import os
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path

import httpx

from leadly.settings import Settings, display_host


@dataclass(frozen=True)
class Service:
    name: str
    """Shown in messages: ``port 8000 (API, LEADLY_API_PORT) is already in use``."""
    command: tuple[str, ...]
    """Arguments of ``leadly`` that run the service in the foreground."""
    port_setting: str | None = None
    """Settings field holding the service's port; None for services that listen on nothing."""
    health_path: str | None = None
    """Path answering 2xx once the service is ready; ``leadly up`` waits for it."""
    urls: tuple[tuple[str, str], ...] = ()
    """(label, path) pairs printed when everything is up."""
    after_reports: bool = False
    """Start only once the start-up build of the reporting models has finished (the Dagster
    daemon: its schedules and sensors must not run a dbt build alongside that one)."""

    @property
    def env_var(self) -> str | None:
        return f"LEADLY_{self.port_setting.upper()}" if self.port_setting else None

    def port(self, settings: Settings) -> int | None:
        return getattr(settings, self.port_setting) if self.port_setting else None

    def base_url(self, settings: Settings) -> str | None:
        port = self.port(settings)
        return f"http://{display_host(settings.api_host)}:{port}" if port else None


SERVICES: tuple[Service, ...] = (
    Service(
        "API",
        ("api",),
        port_setting="api_port",
        health_path="/api/v1/health",
        urls=(
            ("API", "/api/v1"),
            ("Swagger UI", "/api/v1/schema/swagger"),
            ("OpenAPI", "/api/v1/schema/openapi.json"),
        ),
    ),
    Service("worker", ("worker",)),
    Service(
        "Streamlit",
        ("ui",),
        port_setting="ui_port",
        health_path="/_stcore/health",
        urls=(("Dashboards", "/"),),
    ),
    Service(
        "Dagster",
        ("dagster", "webserver"),
        port_setting="dagster_port",
        health_path="/server_info",
        urls=(("Dagster", "/"),),
    ),
    Service("Dagster daemon", ("dagster", "daemon"), after_reports=True),
)

REPORTS_BUILD: tuple[str, ...] = (
    sys.executable,
    "-c",
    "from warehouse.dbt import run_dbt; run_dbt(['build'])",
)
"""The background job of ``leadly up``: ``dbt build`` of every model (warehouse.dbt.run_dbt)."""


# --------------------------------------------------------------------------- ports


def port_in_use(host: str, port: int) -> bool:
    """True when ``host:port`` cannot be bound (another process listens or holds it).

    ``SO_REUSEADDR`` is set as uvicorn does, so connections of a previous run still in
    TIME_WAIT do not count as a busy port.
    """
    bind_host = host or "0.0.0.0"
    try:
        infos = socket.getaddrinfo(bind_host, port, type=socket.SOCK_STREAM)
    except socket.gaierror:
        infos = [(socket.AF_INET, socket.SOCK_STREAM, 0, "", (bind_host, port))]
    family, _, _, _, addr = infos[0]
    with socket.socket(family, socket.SOCK_STREAM) as s:
        s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            s.bind(addr)
        except OSError:
            return True
    return False


def busy_ports(services: Iterable[Service], settings: Settings) -> list[str]:
    """One message per port that is already taken, naming the service and its setting."""
    problems = []
    for svc in services:
        port = svc.port(settings)
        if port is not None and port_in_use(settings.api_host, port):
            problems.append(f"port {port} ({svc.name}, {svc.env_var}) is already in use")
    return problems


# --------------------------------------------------------------------------- processes


def _child_setup() -> None:  # pragma: no cover - runs in the child between fork and exec
    # Own process group: the terminal's Ctrl-C reaches only the supervisor, which then stops
    # the children in order. On Linux the child also gets SIGTERM if the supervisor dies.
    os.setsid()
    if sys.platform.startswith("linux"):
        import ctypes

        with contextlib.suppress(OSError):
            ctypes.CDLL("libc.so.6", use_errno=True).prctl(1, signal.SIGTERM)  # PR_SET_PDEATHSIG


def _kill_group(proc: subprocess.Popen[bytes]) -> None:
    """SIGKILL what is left of a child's process group (its own children, uvicorn workers)."""
    with contextlib.suppress(ProcessLookupError, PermissionError):
        os.killpg(proc.pid, signal.SIGKILL)


def exit_status(code: int) -> str:
    """``exit code 1``, or ``killed by SIGKILL, exit code -9`` for a signal."""
    if code < 0:
        with contextlib.suppress(ValueError):
            return f"killed by {signal.Signals(-code).name}, exit code {code}"
    return f"exit code {code}"


class ServiceFailed(RuntimeError):
    """A service failed to start, or crashed too often: ``leadly up`` stops everything."""


@dataclass(frozen=True)
class RestartPolicy:
    """When a service that stopped on its own is started again, and when to give up.

    After the n-th crash of a service within ``window`` seconds it is restarted in
    ``min(backoff_max, backoff * 2**(n-1))`` seconds; its ``max_crashes``-th crash within the
    window stops everything. Older crashes are forgotten: a service that has run for a whole
    window without crashing starts again from the first delay.
    """

    max_crashes: int = 5
    window: float = 60.0
    backoff: float = 1.0
    backoff_max: float = 30.0

    @classmethod
    def from_settings(cls, s: Settings) -> RestartPolicy:
        return cls(
            max_crashes=max(1, s.restart_max_crashes),
            window=s.restart_window_seconds,
            backoff=max(0.0, s.restart_backoff_seconds),
            backoff_max=s.restart_backoff_max_seconds,
        )

    def after_crash(self, crashes: list[float], now: float) -> float | None:
        """Record a crash at ``now`` in a service's ``crashes`` (forgetting those older than the
        window) and return the seconds to wait before restarting it; None: give up."""
        crashes[:] = [*(t for t in crashes if now - t < self.window), now]
        if len(crashes) >= self.max_crashes:
            return None
        return min(self.backoff_max, self.backoff * 2.0 ** min(len(crashes) - 1, 60))


@dataclass
class _Child:
    """A service's current process and its history under :class:`Supervisor`."""

    service: Service
    proc: subprocess.Popen[bytes]
    started: float
    up: bool = False
    """Answered its health path (services without one: at once) since it was last started."""
    restarts: int = 0
    crashes: list[float] = field(default_factory=list)
    restart_at: float | None = None
    """Set while a crashed service waits out its backoff."""


class Supervisor:
    """Runs services as ``leadly <command>`` child processes, restarts those that stop on their
    own (:class:`RestartPolicy`) and stops them together.

    Nothing here sleeps to wait out a backoff: :meth:`check` compares ``clock()`` with the time a
    restart is due, so the caller's loop (and a test's clock) sets the pace.
    """

    def __init__(
        self,
        settings: Settings,
        *,
        policy: RestartPolicy | None = None,
        env: Mapping[str, str] | None = None,
        clock: Callable[[], float] = time.monotonic,
        say: Callable[[str], None] = print,
        warn: Callable[[str], None] = functools.partial(print, file=sys.stderr),
    ) -> None:
        self.settings = settings
        self.policy = policy or RestartPolicy.from_settings(settings)
        self.env = dict(os.environ if env is None else env)
        self.clock = clock
        self.say = say
        self.warn = warn
        self.start_timeout = settings.start_timeout_seconds
        self.children: dict[str, _Child] = {}
        self.jobs: dict[str, subprocess.Popen[bytes]] = {}
        self._http = httpx.Client(timeout=2.0)

    def _spawn(self, service: Service) -> subprocess.Popen[bytes]:
        cmd = [sys.executable, "-m", "leadly.launcher.cli", *service.command]
        return subprocess.Popen(cmd, env=self.env, preexec_fn=_child_setup)

    def start(self, service: Service) -> subprocess.Popen[bytes]:
        proc = self._spawn(service)
        self.children[service.name] = _Child(
            service, proc, self.clock(), up=service.health_path is None
        )
        return proc

    def start_job(
        self,
        name: str,
        argv: Sequence[str],
        log: Path,
        env: Mapping[str, str] | None = None,
    ) -> subprocess.Popen[bytes]:
        """A one-shot background process writing to ``log``; its exit is not a crash (nothing
        restarts it), and :meth:`stop` ends it with the services."""
        log.parent.mkdir(parents=True, exist_ok=True)
        with log.open("wb") as out:
            proc = subprocess.Popen(
                list(argv),
                env={**self.env, **(env or {})},
                stdin=subprocess.DEVNULL,
                stdout=out,
                stderr=subprocess.STDOUT,
                preexec_fn=_child_setup,
            )
        self.jobs[name] = proc
        return proc

    def health_url(self, service: Service) -> str | None:
        base = service.base_url(self.settings)
        return base + service.health_path if base and service.health_path else None

    # ----------------------------------------------------------------------- the loop

    def check(self) -> None:
        """One round over the services: notice the ones that stopped (and schedule their
        restart), restart those whose backoff is over, and ask the starting ones for their
        health path. Raises :class:`ServiceFailed` when a service fails to start or has
        crashed ``max_crashes`` times within the window."""
        for child in list(self.children.values()):
            now = self.clock()
            if child.restart_at is not None:
                if now >= child.restart_at:
                    self._restart(child, now)
            elif (code := child.proc.poll()) is not None:
                self._crashed(child, code, now)
            elif not child.up:
                self._probe(child, now)

    def wait_healthy(self, service: Service, poll: float = 0.2) -> None:
        """Run :meth:`check` until ``service`` answers its health path."""
        child = self.children[service.name]
        while True:
            self.check()
            if child.up and child.restart_at is None:
                return
            time.sleep(poll)

    def _crashed(self, child: _Child, code: int, now: float) -> None:
        name = child.service.name
        _kill_group(child.proc)
        if not child.up and child.restarts == 0:
            raise ServiceFailed(f"{name} exited while starting ({exit_status(code)})")
        delay = self.policy.after_crash(child.crashes, now)
        if delay is None:
            raise ServiceFailed(
                f"{name} stopped unexpectedly {len(child.crashes)} times within "
                f"{self.policy.window:g}s (last: {exit_status(code)}); giving up, shutting down."
            )
        child.restart_at = now + delay
        self.warn(
            f"{name} stopped unexpectedly ({exit_status(code)}); "
            f"restart {child.restarts + 1} in {delay:g}s."
        )

    def _restart(self, child: _Child, now: float) -> None:
        child.proc = self._spawn(child.service)
        child.started = now
        child.restarts += 1
        child.restart_at = None
        child.up = child.service.health_path is None
        pid, n = child.proc.pid, child.restarts
        url = self.health_url(child.service)
        waiting = f"; waiting for {url}" if url else ""
        self.say(f"{child.service.name} restarted (pid {pid}, restart {n}){waiting}.")

    def _probe(self, child: _Child, now: float) -> None:
        name, url = child.service.name, self.health_url(child.service)
        if url is None:
            child.up = True
            return
        with contextlib.suppress(httpx.HTTPError):
            if self._http.get(url).is_success:
                child.up = True
                if child.restarts:
                    self.say(f"{name} is back (pid {child.proc.pid}): {url} answers.")
                return
        if now - child.started > self.start_timeout:
            message = f"{name} did not answer {url} within {self.start_timeout:.0f}s"
            if child.restarts == 0:
                raise ServiceFailed(message)
            # Stopped here, it counts as one more crash on the next round.
            self.warn(f"{message}; stopping it.")
            _kill_group(child.proc)
            with contextlib.suppress(subprocess.TimeoutExpired):
                child.proc.wait(5)

    # ----------------------------------------------------------------------- stopping

    def stop(self, timeout: float = 15.0) -> None:
        """SIGTERM every running child, wait up to ``timeout``, then SIGKILL what is left."""
        procs = [*self.jobs.values(), *(child.proc for child in self.children.values())]
        alive = [p for p in procs if p.poll() is None]
        for proc in alive:
            with contextlib.suppress(ProcessLookupError):
                proc.send_signal(signal.SIGTERM)
        deadline = time.monotonic() + timeout
        for proc in alive:
            try:
                proc.wait(max(0.0, deadline - time.monotonic()))
            except subprocess.TimeoutExpired:
                _kill_group(proc)
                proc.wait()
        # Anything a child left behind in its process group goes too.
        for proc in procs:
            _kill_group(proc)
        self.children.clear()
        self.jobs.clear()
        self._http.close()
