"""``python -m orchestration webserver|daemon``: run Dagster's webserver or daemon in the
foreground with ``DAGSTER_HOME`` prepared (see :mod:`orchestration.env`).

The process is replaced by Dagster's own (``exec``), so signals reach it directly.
"""

from __future__ import annotations

import os
import sys

from orchestration import env

USAGE = "usage: python -m orchestration webserver|daemon"


def main(argv: list[str] | None = None) -> int:
    args = sys.argv[1:] if argv is None else argv
    if len(args) != 1 or args[0] not in ("webserver", "daemon"):
        print(USAGE, file=sys.stderr)
        return 2
    command = env.webserver_command() if args[0] == "webserver" else env.daemon_command()
    os.execvpe(command[0], command, env.process_env())
    return 0  # pragma: no cover - exec does not return


if __name__ == "__main__":
    sys.exit(main())
