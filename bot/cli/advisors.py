"""Owns `advisor-bot advisors …`: the everyday administration of advisors and their API tokens.

Admins need no SQL for these cases (the SQL seed keeps working for bulk loads). Every change goes
through the `advisors` and `advisor_tokens` tables, whose triggers tell every running process:
a deactivation or a revocation is felt everywhere within seconds.
"""

from __future__ import annotations

import psycopg

from advisors.console_access import LINK_LIFETIME, issue_link
from advisors.repository import add_advisor, list_advisor_rows, set_active
from advisors.tokens import issue_token, list_tokens, revoke_tokens
from bot.cli.console import fail, say
from bot.cli.lookup import Conn, active_advisor_named, advisor_named, connection, when
from bot.infra.server_addresses import server_on_this_machine
from bot.settings import Settings


async def list_advisors(settings: Settings) -> int:
    """Print every advisor: id, active, numbers, name."""
    async with connection(settings) as conn:
        rows = await list_advisor_rows(conn=conn)
    if not rows:
        say("no advisors registered; add one with `advisor-bot advisors add` or `advisor-bot db seed`")
        return 0
    say(f"{'id':36}  {'active':6}  {'twilio number':16}  {'personal phone':16}  name")
    for row in rows:
        active = "yes" if row["is_active"] else "no"
        say(
            f"{row['id']!s:36}  {active:6}  {row['twilio_phone_number']:16}  "
            f"{row['phone_number']:16}  {row['name']}"
        )
    return 0


async def add(settings: Settings, *, name: str, phone: str, twilio_number: str) -> int:
    """Register one advisor; the database refuses a malformed or conflicting number, saying why."""
    if not name.strip():
        return fail("--name must not be empty")
    async with connection(settings) as conn:
        try:
            async with conn.transaction():
                advisor = await add_advisor(
                    conn=conn, name=name.strip(), phone_number=phone, twilio_phone_number=twilio_number
                )
        except psycopg.errors.UniqueViolation as error:
            if error.diag.constraint_name:
                return fail(f"twilio number {twilio_number} already belongs to another advisor")
            return fail(error.diag.message_primary or "conflicting number")
        except psycopg.Error as error:
            hint = f" ({error.diag.message_hint})" if error.diag.message_hint else ""
            return fail(f"{error.diag.message_primary or error}{hint}")
    say(f"added {advisor.name} ({advisor.id}): customers write to {advisor.twilio_phone_number}")
    return 0


async def set_activity(settings: Settings, ref: str, *, active: bool) -> int:
    """Activate or deactivate one advisor; deactivation also revokes their API tokens."""
    async with connection(settings) as conn:
        advisor = await advisor_named(conn, ref)
        if advisor is None:
            return 1
        async with conn.transaction():
            changed = await set_active(conn=conn, advisor_id=advisor.id, active=active)
            revoked = 0 if active else await revoke_tokens(conn=conn, advisor_id=advisor.id)
    state = "active" if active else "inactive"
    if not changed:
        say(f"{advisor.name} was already {state}")
    elif active:
        say(f"{advisor.name} is active again; issue a new API token with `advisor-bot advisors token`")
    else:
        say(
            f"{advisor.name} is inactive: messages to {advisor.twilio_phone_number} are no longer "
            f"answered, and {revoked} API token(s) were revoked"
        )
    return 0


async def token(settings: Settings, ref: str, *, label: str | None) -> int:
    """Issue an API token for an active advisor, showing the tokens they already hold."""
    async with connection(settings) as conn:
        advisor = await active_advisor_named(conn, ref)
        if advisor is None:
            return 1
        live = [t for t in await list_tokens(conn=conn, advisor_id=advisor.id) if t.revoked_at is None]
        async with conn.transaction():
            issued = await issue_token(conn=conn, advisor_id=advisor.id, label=label)
    if live:
        say(
            f"{advisor.name} already has {len(live)} live token(s) (ids "
            + ", ".join(str(t.id) for t in live)
            + "); revoke any that are no longer used with `advisor-bot advisors tokens revoke ID`"
        )
    say(f"API token for {advisor.name} ({advisor.id}); it is shown only now:")
    say(issued)
    return 0


async def tokens_list(settings: Settings, ref: str | None) -> int:
    """Print tokens: id, advisor, label, created, last used, revoked. Never the secret."""
    async with connection(settings) as conn:
        advisor_id = None
        if ref is not None:
            advisor = await advisor_named(conn, ref)
            if advisor is None:
                return 1
            advisor_id = advisor.id
        tokens = await list_tokens(conn=conn, advisor_id=advisor_id)
    if not tokens:
        say("no API tokens issued")
        return 0
    say(f"{'id':>5}  {'created':16}  {'last used':16}  {'revoked':16}  {'label':12}  advisor")
    for t in tokens:
        say(
            f"{t.id:>5}  {when(t.created_at):16}  {when(t.last_used_at):16}  "
            f"{when(t.revoked_at):16}  {(t.label or '-')[:12]:12}  {t.advisor_name}"
        )
    return 0


async def tokens_revoke(settings: Settings, token_id: int | None, *, advisor_ref: str | None) -> int:
    """Revoke one token by id, or every token of one advisor."""
    async with connection(settings) as conn:
        if advisor_ref is not None:
            advisor = await advisor_named(conn, advisor_ref)
            if advisor is None:
                return 1
            async with conn.transaction():
                count = await revoke_tokens(conn=conn, advisor_id=advisor.id)
            say(f"revoked {count} token(s) of {advisor.name}")
            return 0
        assert token_id is not None
        async with conn.transaction():
            count = await revoke_tokens(conn=conn, token_id=token_id)
    if count == 0:
        return fail(f"no live token with id {token_id} (`advisor-bot advisors tokens list`)")
    say(f"token {token_id} revoked; it stops working in every process within seconds")
    return 0


async def console_link(settings: Settings, ref: str, *, base_url: str | None, default_port: int) -> int:
    """Print a single-use sign-in link to the web console for an active advisor, and whose address.

    The address is `--base-url`, else PUBLIC_BASE_URL, else the port the server running on this
    machine was started with (`advisor-bot serve --port`), else $PORT or 8000; the link says which.
    """
    async with connection(settings) as conn:
        advisor = await active_advisor_named(conn, ref)
        if advisor is None:
            return 1
        async with conn.transaction():
            secret = await issue_link(conn=conn, advisor_id=advisor.id)
        base, source = await _console_address(conn, settings, base_url, default_port)
    minutes = int(LINK_LIFETIME.total_seconds() // 60)
    say(f"sign-in link for {advisor.name}, valid {minutes} minutes, single use:")
    say(f"{base.rstrip('/')}/console/link/{secret}")
    say(f"(address: {source})")
    return 0


async def _console_address(
    conn: Conn, settings: Settings, base_url: str | None, default_port: int
) -> tuple[str, str]:
    if base_url:
        return base_url, "--base-url"
    if settings.public_base_url:
        return settings.public_base_url, "PUBLIC_BASE_URL"
    running = await server_on_this_machine(conn)
    if running is not None:
        return (
            f"http://localhost:{running.port}",
            f"the port the server on this machine was started with (advisor-bot serve --port {running.port})",
        )
    return (
        f"http://localhost:{default_port}",
        f"no running server found on this machine: port {default_port} assumed "
        "(start it with `make run`, or pass --base-url)",
    )
