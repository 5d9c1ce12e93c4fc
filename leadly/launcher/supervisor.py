"""The services ``leadly up`` runs, and the child-process runner behind it.

A service is one entry in :data:`SERVICES`: the ``leadly`` sub-command that runs it, the
settings field of the port it listens on (checked to be free before anything starts), the path
that answers when it is ready and the URLs printed once it is. Adding a service to
``leadly up`` is one more entry.

Besides the services, ``leadly up`` runs one job in the background: :data:`REPORTS_BUILD`, a
``dbt build`` of the analytics models, so the dashboards show the data as soon as it finishes.
"""

from __future__ import annotations

import contextlib
import os
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
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


class Supervisor:
    """Starts services as ``leadly <command>`` child processes and stops them together."""

    def __init__(self, env: Mapping[str, str] | None = None) -> None:
        self.env = dict(os.environ if env is None else env)
        self.procs: dict[str, subprocess.Popen[bytes]] = {}
        self.jobs: dict[str, subprocess.Popen[bytes]] = {}

    def start(self, service: Service) -> subprocess.Popen[bytes]:
        cmd = [sys.executable, "-m", "leadly.launcher.cli", *service.command]
        proc = subprocess.Popen(cmd, env=self.env, preexec_fn=_child_setup)
        self.procs[service.name] = proc
        return proc

    def start_job(
        self,
        name: str,
        argv: Sequence[str],
        log: Path,
        env: Mapping[str, str] | None = None,
    ) -> subprocess.Popen[bytes]:
        """A one-shot background process writing to ``log``; its exit stops nothing (see
        :meth:`exited`), and :meth:`stop` ends it with the services."""
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

    def exited(self) -> tuple[str, int] | None:
        """The first child that has exited, with its exit code."""
        for name, proc in self.procs.items():
            code = proc.poll()
            if code is not None:
                return name, code
        return None

    def wait_healthy(self, service: Service, settings: Settings, timeout: float = 90.0) -> None:
        """Block until ``service`` answers its health path; raise if it exits or times out."""
        base = service.base_url(settings)
        if base is None or service.health_path is None:
            return
        url = base + service.health_path
        deadline = time.monotonic() + timeout
        with httpx.Client(timeout=2.0) as client:
            while True:
                proc = self.procs.get(service.name)
                if proc is not None and proc.poll() is not None:
                    raise RuntimeError(
                        f"{service.name} exited with code {proc.returncode} while starting"
                    )
                with contextlib.suppress(httpx.HTTPError):
                    if client.get(url).is_success:
                        return
                if time.monotonic() > deadline:
                    raise RuntimeError(f"{service.name} did not answer {url} within {timeout:.0f}s")
                time.sleep(0.2)

    def stop(self, timeout: float = 15.0) -> None:
        """SIGTERM every running child, wait up to ``timeout``, then SIGKILL what is left."""
        alive = [p for p in (*self.jobs.values(), *self.procs.values()) if p.poll() is None]
        for proc in alive:
            with contextlib.suppress(ProcessLookupError):
                proc.send_signal(signal.SIGTERM)
        deadline = time.monotonic() + timeout
        for proc in alive:
            try:
                proc.wait(max(0.0, deadline - time.monotonic()))
            except subprocess.TimeoutExpired:
                with contextlib.suppress(ProcessLookupError):
                    os.killpg(proc.pid, signal.SIGKILL)
                proc.wait()
        # Anything a child left behind in its process group goes too.
        for proc in (*self.jobs.values(), *self.procs.values()):
            with contextlib.suppress(ProcessLookupError, PermissionError):
                os.killpg(proc.pid, signal.SIGKILL)
        self.procs.clear()
        self.jobs.clear()
