"""Where mail goes when ``leadly up`` runs with no SMTP server configured (``LEADLY_SMTP_HOST``
empty): a local SMTP server on loopback that writes each message, as an ``.eml`` file, into
``<data_dir>/mail/``. Invitations and email-verification links then work on a laptop (open the
newest file, or `grep -r ldi_ <data_dir>/mail`); nothing leaves the machine. With
``LEADLY_SMTP_HOST`` set, the operator's server is used and this is not started."""

from __future__ import annotations

import itertools
import socket
from datetime import UTC, datetime
from pathlib import Path
from typing import Any


class MailFolder:
    """An aiosmtpd handler writing each message to ``folder`` as ``<UTC time>-<n>.eml``."""

    def __init__(self, folder: Path) -> None:
        self.folder = folder
        self._numbers = itertools.count(1)

    async def handle_DATA(self, server: Any, session: Any, envelope: Any) -> str:
        self.folder.mkdir(parents=True, exist_ok=True)
        stamp = datetime.now(UTC).strftime("%Y%m%dT%H%M%S")
        path = self.folder / f"{stamp}-{next(self._numbers):04d}.eml"
        content = envelope.content
        path.write_bytes(content if isinstance(content, bytes) else content.encode())
        return "250 OK"


def start(folder: Path) -> tuple[Any, int]:
    """Serve SMTP on a free loopback port (a thread of this process); returns the controller
    (``.stop()`` it) and the port."""
    from aiosmtpd.controller import Controller

    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = int(s.getsockname()[1])
    controller = Controller(MailFolder(folder), hostname="127.0.0.1", port=port)
    controller.start()
    return controller, port
