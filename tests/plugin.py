"""The test suite's shared helpers and its guards: one pytest plugin, loaded by tests/conftest.py
(``pytest_plugins``). Import a helper from here: ``from tests.plugin import eventually``.

Helpers
- :func:`eventually`: poll a check (plain or async) until it returns something truthy;
  :func:`until`, the same outside an event loop.
- :func:`free_port`: a free TCP port on 127.0.0.1.
- :func:`local_http`: an HTTP server on loopback standing in for an outside service.
- :func:`worker_running`: the dispatcher worker serving some consumers while a block runs.
- :func:`explain_as_api`: the plan of a statement as the API runs it (role, tenant, RLS).
- :func:`index_first_columns`: the indexes of some ``app`` tables and their first columns.
- :func:`moment`: an ISO timestamp strictly between two requests (for ``as_of`` reads).
- :func:`wait_http` / :func:`child`: start a server process and wait until a URL answers; the
  process is stopped when the block ends.
- :func:`open_page`: a Streamlit ``AppTest`` of apps/Home.py signed in, on one of its pages.
- :data:`MAILBOX` (fixture ``mailbox``): the run's one SMTP server (aiosmtpd), which
  ``LEADLY_SMTP_HOST``/``LEADLY_SMTP_PORT`` point at for the session (the API in the test's loop
  and every server a test starts). :meth:`MailBox.take_token` reads an invitation or
  verification token from a member's mail, as a person would.

Guards (every run, whichever servers it uses)
- Before collection, each pytest process (and so every xdist worker and every subprocess a test
  starts) gets a temporary ``LEADLY_DATA_DIR`` and ``XDG_DATA_HOME``: nothing in the run can
  reach the user's data folder (``~/.local/share/leadly``, where ``make up`` keeps its data). A
  test after which that folder was created or changed fails; so does the run.
- Every process started by the run carries ``PYTEST_LEADLY_RUN`` (and ``PYTEST_LEADLY_OWNER``,
  the pid of the pytest process it came from) in its environment, also the servers that detach
  (the embedded PostgreSQL). One still alive when its pytest process ends (postgres, uvicorn,
  streamlit, dagster, a worker) fails the run, and is stopped.
"""

from __future__ import annotations

import asyncio
import contextlib
import email
import email.policy
import os
import re
import secrets
import shutil
import socket
import subprocess
import tempfile
import threading
import time
from collections.abc import AsyncIterator, Awaitable, Callable, Iterable, Iterator
from datetime import UTC, datetime, timedelta
from email.message import EmailMessage
from pathlib import Path
from typing import Any

import httpx
import psutil
import pytest

ROOT = Path(__file__).resolve().parents[1]
APPS = ROOT / "apps"
PASSWORD = "correct-horse-battery"
"""The password of every member the tests sign up (tests/conftest.py, tests/apps)."""

RUN_ENV = "PYTEST_LEADLY_RUN"
OWNER_ENV = "PYTEST_LEADLY_OWNER"
USER_DATA_ENV = "PYTEST_LEADLY_USER_DATA"
"""The user's data folders, as the run found them before it pointed LEADLY_DATA_DIR and
XDG_DATA_HOME elsewhere (kept for the xdist workers, which start with the changed environment)."""

# --------------------------------------------------------------------------- helpers


async def eventually(
    check: Callable[[], Awaitable[Any]] | Callable[[], Any],
    *,
    within: float = 60.0,
    interval: float = 0.02,
    task: asyncio.Task[Any] | None = None,
    what: str = "condition",
) -> Any:
    """Poll ``check`` until it returns something truthy, and return that; fail after ``within``
    seconds (or as soon as ``task``, e.g. a worker, dies)."""
    deadline = time.monotonic() + within
    while True:
        result = check()
        if asyncio.iscoroutine(result):
            result = await result
        if result:
            return result
        if task is not None and task.done():
            task.result()
            raise AssertionError(f"the worker stopped before the {what}")
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out after {within}s waiting for the {what}")
        await asyncio.sleep(interval)


def until(
    check: Callable[[], Any],
    *,
    within: float = 60.0,
    interval: float = 0.2,
    what: str = "condition",
) -> Any:
    """:func:`eventually` for plain code (no event loop): poll ``check`` until it returns
    something truthy, and return that; fail after ``within`` seconds."""
    deadline = time.monotonic() + within
    while True:
        if result := check():
            return result
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out after {within}s waiting for the {what}")
        time.sleep(interval)


def free_port() -> int:
    """A TCP port on 127.0.0.1 nothing listens on (now)."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@contextlib.asynccontextmanager
async def local_http(handler: Callable[[Any], Awaitable[Any]]) -> AsyncIterator[str]:
    """An HTTP server on 127.0.0.1 (aiohttp) answering every method and path with ``handler``
    (a stand-in for an outside service: Twilio, a push service, a webhook receiver) for the
    duration of the block; yields its base URL."""
    from aiohttp import web

    app = web.Application()
    app.router.add_route("*", "/{tail:.*}", handler)
    runner = web.AppRunner(app, access_log=None)
    await runner.setup()
    port = free_port()
    await web.TCPSite(runner, "127.0.0.1", port).start()
    try:
        yield f"http://127.0.0.1:{port}"
    finally:
        await runner.cleanup()


@contextlib.asynccontextmanager
async def worker_running(
    consumers: Iterable[Any], engine: Any, **options: Any
) -> AsyncIterator[asyncio.Task[None]]:
    """The dispatcher worker (``api.dispatcher.worker.run``, ``options`` passed on) serving
    ``consumers`` on ``engine`` in this event loop, from when every consumer's cursor exists
    (a consumer starting "now" skips what came before) to the end of the block; then stopped
    (cancelled when it does not stop within 10 s)."""
    from sqlalchemy import text

    from api.dispatcher import worker

    consumers = list(consumers)
    names = [c.name for c in consumers]
    stop = asyncio.Event()
    task = asyncio.create_task(worker.run(stop, consumers=consumers, engine=engine, **options))

    async def started() -> bool:
        async with engine.connect() as conn:
            q = text("SELECT count(*) FROM app.consumer_cursors WHERE consumer = ANY(:names)")
            return (await conn.execute(q, {"names": names})).scalar_one() == len(names)

    await eventually(started, task=task, what=f"the consumers {names} to start")
    try:
        yield task
    finally:
        stop.set()
        try:
            await asyncio.wait_for(task, 10)
        except Exception:
            task.cancel()


async def explain_as_api(
    conn: Any,
    stmt: Any,
    team_id: str,
    *,
    role: str | None = None,
    settings: Iterable[str] = ("enable_seqscan = off",),
) -> list[dict[str, Any]]:
    """The plan of ``stmt`` (a SQLAlchemy statement, or SQL text) as the API runs it: as its
    role (or ``role``), in ``team_id``'s tenant, row-level security on, with ``SET LOCAL`` of
    each of ``settings``; every node of the plan, depth first. ``conn``: a psycopg connection
    with dict rows."""
    from sqlalchemy.dialects.postgresql import psycopg as pg_dialect

    from leadly.settings import get_settings

    if isinstance(stmt, str):
        sql, params = stmt, {}
    else:
        compiled = stmt.compile(
            dialect=pg_dialect.dialect(), compile_kwargs={"render_postcompile": True}
        )
        sql, params = str(compiled), compiled.params
    async with conn.transaction():
        await conn.execute(f"SET LOCAL ROLE {role or get_settings().api_db_role}")
        await conn.execute("SELECT set_config('app.team_id', %s, true)", (team_id,))
        for setting in settings:
            await conn.execute(f"SET LOCAL {setting}")
        cur = await conn.execute("EXPLAIN (FORMAT JSON) " + sql, params)
        row = await cur.fetchone()
    assert row is not None
    nodes: list[dict[str, Any]] = []

    def walk(node: dict[str, Any]) -> None:
        nodes.append(node)
        for child in node.get("Plans", []):
            walk(child)

    walk(next(iter(row.values()))[0]["Plan"])
    return nodes


async def index_first_columns(conn: Any, tables: Iterable[str]) -> list[dict[str, Any]]:
    """Every index of the ``app`` tables ``tables`` (``table``, ``index``, ``first_column``:
    None for an expression), read on ``conn`` (a psycopg connection with dict rows)."""
    cur = await conn.execute(
        """
        SELECT c.relname AS table, i.relname AS index, a.attname AS first_column
        FROM pg_index x
        JOIN pg_class c ON c.oid = x.indrelid
        JOIN pg_class i ON i.oid = x.indexrelid
        JOIN pg_namespace n ON n.oid = c.relnamespace
        LEFT JOIN pg_attribute a ON a.attrelid = c.oid AND a.attnum = x.indkey[0]
        WHERE n.nspname = 'app' AND c.relname = ANY(%s)
        """,
        (list(tables),),
    )
    return await cur.fetchall()


async def moment() -> str:
    """A timestamp strictly between two requests (ISO 8601, UTC)."""
    await asyncio.sleep(0.005)
    t = datetime.now(UTC).isoformat()
    await asyncio.sleep(0.005)
    return t


@contextlib.contextmanager
def clock_moved(delta: timedelta) -> Iterator[None]:
    """Within the block, :func:`leadly.clock.now` is ``delta`` later, for the whole process
    (the API in the test's client, the jobs called directly, a worker in the test's loop): a
    snooze ends, a link expires, a digest's hour comes, without waiting for it."""
    from leadly import clock

    clock.advance(delta)
    try:
        yield
    finally:
        clock.advance(-delta)


class MailBox:
    """What the run's SMTP server received, in order (the server's thread appends; tests read).
    ``fail_next``: answer that many messages with a temporary failure (451)."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._received: list[tuple[EmailMessage, list[str]]] = []
        self.fail_next = 0

    async def handle_DATA(self, server: Any, session: Any, envelope: Any) -> str:
        with self._lock:
            if self.fail_next > 0:
                self.fail_next -= 1
                return "451 4.3.0 try again later"
            msg = email.message_from_bytes(envelope.content, policy=email.policy.default)
            self._received.append((msg, [r.casefold() for r in envelope.rcpt_tos]))  # type: ignore[misc]
        return "250 OK"

    @property
    def messages(self) -> list[EmailMessage]:
        with self._lock:
            return [m for m, _ in self._received]

    def to(self, address: str) -> list[EmailMessage]:
        """The messages still in the box for ``address`` (oldest first)."""
        with self._lock:
            return [m for m, rcpt in self._received if address.casefold() in rcpt]

    def take_token(self, address: str, prefix: str) -> str:
        """The token starting with ``prefix`` (``ldi_`` an invitation, ``ldv_`` an email
        verification) in the newest message to ``address`` holding one; that message leaves
        the box (later checks of the member's mail see only what came after)."""
        pattern = re.compile(re.escape(prefix) + r"[A-Za-z0-9_-]+")
        with self._lock:
            for i in range(len(self._received) - 1, -1, -1):
                msg, rcpt = self._received[i]
                if address.casefold() not in rcpt:
                    continue
                found = pattern.search(msg.get_body(("plain",)).get_content())  # type: ignore[union-attr]
                if found:
                    del self._received[i]
                    return found.group(0)
        raise AssertionError(f"no mail to {address} holds a {prefix}… token")


MAILBOX = MailBox()
"""The session's mailbox (started by the ``mailbox`` fixture, which the database depends on)."""


@pytest.fixture(scope="session")
def mailbox() -> Iterator[MailBox]:
    """The run's SMTP server on loopback; ``LEADLY_SMTP_HOST``/``PORT`` point at it."""
    from aiosmtpd.controller import Controller

    port = free_port()
    controller = Controller(MAILBOX, hostname="127.0.0.1", port=port, enable_SMTPUTF8=True)
    controller.start()
    os.environ.update({"LEADLY_SMTP_HOST": "127.0.0.1", "LEADLY_SMTP_PORT": str(port)})
    try:
        yield MAILBOX
    finally:
        controller.stop()


def wait_http(url: str, proc: subprocess.Popen[bytes], log: Path, timeout: float = 180) -> None:
    """Wait until ``url`` answers with a success; fail with ``log`` if ``proc`` exits first.
    ``timeout`` is a generous bound (a loaded machine can take minutes to start a server)."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise AssertionError(f"{url}: process exited ({proc.returncode}):\n{log.read_text()}")
        with contextlib.suppress(httpx.HTTPError):
            if httpx.get(url, timeout=2).is_success:
                return
        time.sleep(0.2)
    raise AssertionError(f"{url} did not answer within {timeout}s:\n{log.read_text()}")


@contextlib.contextmanager
def child(cmd: list[str], env: dict[str, str], name: str) -> Iterator[tuple[Any, Path]]:
    """``cmd`` in a session of its own, its output in a log file; terminated (then killed) when
    the block ends. Yields the process and the log's path."""
    log = Path(tempfile.mkstemp(prefix=f"leadly-{name}-", suffix=".log")[1])
    with log.open("wb") as out:
        proc = subprocess.Popen(
            cmd, env=env, cwd=ROOT, stdout=out, stderr=subprocess.STDOUT, start_new_session=True
        )
    try:
        yield proc, log
    finally:
        if proc.poll() is None:
            proc.terminate()
            try:
                proc.wait(15)
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait()
        log.unlink(missing_ok=True)


def open_page(
    who: Any, page: str | None = None, *, email: str | None = None, password: str = PASSWORD
) -> Any:
    """Sign in on apps/Home.py as ``who`` (an e-mail address, or a team: its owner's ``email``,
    or ``email``), then open ``pages/<page>`` as a member would; the page ran without an
    exception or an error. Returns the ``AppTest``."""
    from streamlit.testing.v1 import AppTest

    at = AppTest.from_file(str(APPS / "Home.py"), default_timeout=60)
    at.run()
    at.text_input(key="sign_in_email").input(who if isinstance(who, str) else email or who.email)
    at.text_input(key="sign_in_password").input(password)
    at.button[0].click()
    at.run()
    assert "me" in at.session_state, [e.value for e in at.error]
    if hasattr(who, "team_id"):
        assert at.session_state["me"]["team"]["id"] == who.team_id
    if page:
        at.switch_page(f"pages/{page}")
        at.run()
    assert not at.exception, at.exception
    assert not at.error, [e.value for e in at.error]
    return at


# --------------------------------------------------------------------------- the guards


def user_data_dirs() -> list[Path]:
    """The folders the user's own Leadly keeps its data in (never touched by a test run)."""
    return [Path(p) for p in os.environ.get(USER_DATA_ENV, "").split(os.pathsep) if p]


def session_root() -> Path:
    """This pytest process's temporary folder (LEADLY_DATA_DIR and XDG_DATA_HOME are in it);
    removed when the process ends."""
    return Path(os.environ["PYTEST_LEADLY_ROOT"])


def _default_user_dirs() -> list[Path]:
    xdg = os.environ.get("XDG_DATA_HOME") or str(Path.home() / ".local" / "share")
    dirs = [Path(xdg) / "leadly"]
    if os.environ.get("LEADLY_DATA_DIR"):
        dirs.append(Path(os.environ["LEADLY_DATA_DIR"]).expanduser())
    return dirs


Snapshot = dict[str, str | None]


def _snapshot(folders: list[Path]) -> Snapshot:
    """Each folder: its modification time and its entries'; for its embedded server's folder
    (``postgres``), which a server running there keeps writing, only which files it holds and
    the pid in ``postmaster.pid`` (a server started or stopped there)."""
    out: Snapshot = {}
    for folder in folders:
        out[str(folder)] = _mtime(folder)
        if out[str(folder)] is None:
            continue
        for entry in _entries(folder):
            if entry.name != "postgres":
                out[str(entry)] = _mtime(entry)
                continue
            files = [e.name for e in _entries(entry) if not e.name.startswith((".s.PGSQL", "log"))]
            out[f"{entry} (files)"] = " ".join(files)
            with contextlib.suppress(OSError):
                pid = (entry / "postmaster.pid").read_text().split("\n", 1)[0]
                out[f"{entry / 'postmaster.pid'} (server pid)"] = pid
    return out


def _mtime(path: Path) -> str | None:
    try:
        return str(path.stat().st_mtime_ns)
    except OSError:
        return None


def _entries(folder: Path) -> list[Path]:
    try:
        return sorted(folder.iterdir())
    except OSError:
        return []


def _changes(before: Snapshot, after: Snapshot) -> list[str]:
    out = []
    for path in sorted(set(before) | set(after)):
        b, a = before.get(path), after.get(path)
        if b == a:
            continue
        out.append(
            f"{path} created"
            if b is None
            else f"{path} removed"
            if a is None
            else f"{path} changed"
        )
    return out


class Guard:
    """The user's data folders as this process found them, and what this process started."""

    def __init__(self) -> None:
        self.pid = os.getpid()
        self.run = os.environ[RUN_ENV]
        self.folders = user_data_dirs()
        self.before = _snapshot(self.folders)

    def folder_changes(self) -> list[str]:
        """What changed in the user's data folders since the last call (or the start)."""
        after = _snapshot(self.folders)
        changes = _changes(self.before, after)
        self.before = after
        return changes

    def leftovers(self) -> list[psutil.Process]:
        """Processes this pytest process started (directly, or through a process that has
        exited since) that are still alive; with xdist, the controller also counts the
        workers' (the ones of the run), but never a pytest process itself."""
        me = psutil.Process(self.pid)
        spared = {self.pid, *(p.pid for p in me.parents())}
        found = {p.pid: p for p in me.children(recursive=True)}
        for p in psutil.process_iter():
            if p.pid in spared or p.pid in found:
                continue
            with contextlib.suppress(psutil.Error):
                env = p.environ()
                if env.get(RUN_ENV) != self.run or env.get(OWNER_ENV) == str(p.pid):
                    continue
                if os.environ.get("PYTEST_XDIST_WORKER") and env.get(OWNER_ENV) != str(self.pid):
                    continue  # a sibling worker's: that worker answers for it
                found[p.pid] = p
        return [p for p in found.values() if _alive(p) and not _is_pytest(p)]


def _alive(p: psutil.Process) -> bool:
    with contextlib.suppress(psutil.Error):
        return p.is_running() and p.status() != psutil.STATUS_ZOMBIE
    return False


_EXITS_WITH_ITS_PARENT = ("multiprocessing.resource_tracker", "multiprocessing.forkserver")


def _is_pytest(p: psutil.Process) -> bool:
    """An xdist worker of this run (the controller's children while it shuts them down), or a
    helper process of multiprocessing that ends with the pytest process that started it."""
    with contextlib.suppress(psutil.Error):
        if any(name in " ".join(p.cmdline()) for name in _EXITS_WITH_ITS_PARENT):
            return True
        return p.environ().get(OWNER_ENV) == str(p.pid)
    return False


def describe(procs: list[psutil.Process]) -> str:
    lines = []
    for p in procs:
        with contextlib.suppress(psutil.Error):
            lines.append(f"  pid {p.pid} ({p.username()}): {' '.join(p.cmdline())[:300]}")
    return "\n".join(lines)


def stop(procs: list[psutil.Process]) -> None:
    """Terminate ``procs`` (the first of each tree: a server's own children follow it), then
    kill what is still alive after 15 s."""
    pids = {p.pid for p in procs}
    heads = []
    for p in procs:
        with contextlib.suppress(psutil.Error):
            if p.ppid() not in pids:
                heads.append(p)
    for p in heads:
        with contextlib.suppress(psutil.Error):
            p.terminate()
    _, alive = psutil.wait_procs(procs, timeout=15)
    for p in alive:
        with contextlib.suppress(psutil.Error):
            p.kill()
    psutil.wait_procs(alive, timeout=5)


_guard: Guard | None = None


def pytest_configure(config: pytest.Config) -> None:
    """Point this process's data folders into a fresh temporary root (before collection: a
    module may start the embedded server on import) and mark what it will start."""
    global _guard
    os.environ.setdefault(USER_DATA_ENV, os.pathsep.join(str(d) for d in _default_user_dirs()))
    os.environ.setdefault(RUN_ENV, secrets.token_hex(8))
    os.environ[OWNER_ENV] = str(os.getpid())
    worker = os.environ.get("PYTEST_XDIST_WORKER", "main")
    root = Path(tempfile.mkdtemp(prefix=f"leadly-test-{worker}-"))
    root.chmod(0o755)  # the embedded server runs as its own system user when we are root
    (root / "data").mkdir(mode=0o755)
    (root / "xdg-data").mkdir(mode=0o755)
    os.environ.update(
        {
            "PYTEST_LEADLY_ROOT": str(root),
            "LEADLY_DATA_DIR": str(root / "data"),
            "XDG_DATA_HOME": str(root / "xdg-data"),
        }
    )
    _guard = Guard()


@pytest.hookimpl(wrapper=True, trylast=True)
def pytest_runtest_teardown(item: pytest.Item, nextitem: pytest.Item | None) -> Any:
    """A test after which the user's data folder changed fails (at its teardown)."""
    result = yield
    if _guard is not None and (changes := _guard.folder_changes()):
        raise AssertionError(
            "the user's data folder changed during this test (tests must use the session's "
            "LEADLY_DATA_DIR):\n  " + "\n  ".join(changes)
        )
    return result


@pytest.fixture(scope="session", autouse=True)
def _no_process_left_behind() -> Iterator[None]:
    """Set up before any other session fixture, so checked after every one was torn down: a
    process this test process started is still alive -> an error of the last test."""
    yield
    if _guard is not None and (left := _guard.leftovers()):
        names = describe(left)
        stop(left)
        pytest.fail(f"processes the tests started were still running (stopped now):\n{names}")


@pytest.hookimpl(trylast=True)
def pytest_sessionfinish(session: pytest.Session, exitstatus: int) -> None:
    """The last look (after xdist's workers ended): nothing left running from the run, the
    user's data folder as it was. Either fails the run."""
    if _guard is None:
        return
    problems = []
    if changes := _guard.folder_changes():
        problems.append("the user's data folder changed during the run:\n  " + "\n  ".join(changes))
    if left := _guard.leftovers():
        problems.append(f"processes of the run were still running (stopped now):\n{describe(left)}")
        stop(left)
    if problems:
        reporter = session.config.pluginmanager.get_plugin("terminalreporter")
        for problem in problems:
            if reporter is not None:
                reporter.write_line(f"ERROR: {problem}", red=True, bold=True)
        session.exitstatus = pytest.ExitCode.TESTS_FAILED


def pytest_unconfigure(config: pytest.Config) -> None:
    root = os.environ.get("PYTEST_LEADLY_ROOT")
    if root and _guard is not None and _guard.pid == os.getpid():
        shutil.rmtree(root, ignore_errors=True)
