"""Owns where the servers of this database listen, so a command on the same machine can find one.

`advisor-bot serve --port 8101` records its port at start; `advisor-bot console link` then builds
its link on that port instead of assuming 8000 (sql/0035). Only servers on this machine count
(the link says localhost), and only while something still listens on the recorded port.
"""

from __future__ import annotations

import os
import socket
from dataclasses import dataclass
from typing import Any

import psycopg


@dataclass(frozen=True)
class RunningServer:
    """A server of this machine that listens on `port` (its process: `pid`)."""

    port: int
    pid: int


async def record_server(conn: psycopg.AsyncConnection[Any], port: int) -> None:
    """Say that this process serves on `port` of this machine (replacing an earlier row for it)."""
    await conn.execute(
        "INSERT INTO running_servers (host_name, port, pid) VALUES (%s, %s, %s) "
        "ON CONFLICT (host_name, port) DO UPDATE SET pid = EXCLUDED.pid, started_at = now()",
        (socket.gethostname(), port, os.getpid()),
    )


async def forget_server(conn: psycopg.AsyncConnection[Any], port: int) -> None:
    """This process stopped serving on `port` (a clean stop)."""
    await conn.execute(
        "DELETE FROM running_servers WHERE host_name = %s AND port = %s AND pid = %s",
        (socket.gethostname(), port, os.getpid()),
    )


async def server_on_this_machine(conn: psycopg.AsyncConnection[Any]) -> RunningServer | None:
    """The most recently started server of this machine that still listens, or None (dict rows)."""
    cursor = await conn.execute(
        "SELECT port, pid FROM running_servers WHERE host_name = %s ORDER BY started_at DESC",
        (socket.gethostname(),),
    )
    for row in await cursor.fetchall():
        if _listening(row["port"]):
            return RunningServer(port=row["port"], pid=row["pid"])
    return None


def _listening(port: int) -> bool:
    try:
        with socket.create_connection(("127.0.0.1", port), timeout=0.5):
            return True
    except OSError:
        return False
