"""Owns reading uploaded documents in a separate process with CPU-time and memory limits.

Parsing what someone uploads is the one thing the web process does whose cost the sender picks:
a 24 KB PDF holding one 8 MB compressed stream kept pypdf busy for over a minute, and on the
event loop that stopped every webhook of the process. A thread would not help (pypdf holds the
interpreter), so each document is read by a fresh `python -m bot.infra.document_reader` that
limits itself (RLIMIT_CPU, RLIMIT_AS) before it reads a byte, is killed at the wall-clock
deadline, and gets no secrets in its environment. At most `READERS_AT_ONCE` run per process.
What comes back is bounded too: at most `max_text_chars` characters of text.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import os
import sys
from dataclasses import dataclass

from bot.settings import Settings
from memory.knowledge.passages import (
    MAX_DOCUMENT_BYTES,
    UnreadableDocumentError,
    extract,
    refuse_oversized,
    split,
)

READERS_AT_ONCE = 2
_MODULE = "bot.infra.document_reader"
_slots: dict[asyncio.AbstractEventLoop, asyncio.Semaphore] = {}


@dataclass(frozen=True)
class ReadLimits:
    """What one document may cost to read."""

    seconds: float
    memory_bytes: int
    max_text_chars: int = MAX_DOCUMENT_BYTES


@dataclass(frozen=True)
class ReadDocument:
    """A document's text and its passages, as the knowledge store keeps them."""

    text: str
    passages: list[str]


def document_read_limits(settings: Settings) -> ReadLimits:
    """The limits DOCUMENT_READ_SECONDS and DOCUMENT_READ_MEMORY_MB set."""
    return ReadLimits(
        seconds=settings.document_read_seconds, memory_bytes=settings.document_read_memory_mb << 20
    )


def _slot() -> asyncio.Semaphore:
    loop = asyncio.get_running_loop()
    if loop not in _slots:
        _slots.clear()  # one loop per process in the server; tests start a new one each time
        _slots[loop] = asyncio.Semaphore(READERS_AT_ONCE)
    return _slots[loop]


async def read_document_bytes(data: bytes, name: str, *, limits: ReadLimits) -> ReadDocument:
    """Extract and split `data` in a limited child process.

    Raises:
        UnreadableDocumentError: unreadable, over a limit (time, memory, size), or no text; the
            message says which, and the caller stores nothing.
    """
    refuse_oversized(len(data), name)
    async with _slot():
        process = await asyncio.create_subprocess_exec(
            sys.executable,
            "-m",
            _MODULE,
            name,
            str(limits.seconds),
            str(limits.memory_bytes),
            str(limits.max_text_chars),
            stdin=asyncio.subprocess.PIPE,
            stdout=asyncio.subprocess.PIPE,
            stderr=asyncio.subprocess.DEVNULL,
            env=_child_environment(),
        )
        try:
            async with asyncio.timeout(limits.seconds + 2):
                out, _ = await process.communicate(data)
        except TimeoutError:
            raise _too_slow(name, limits) from None
        finally:
            if process.returncode is None:
                with contextlib.suppress(ProcessLookupError):
                    process.kill()
                await process.wait()
    try:
        answer = json.loads(out) if out else None
    except ValueError:
        answer = None
    if not isinstance(answer, dict):
        if process.returncode is not None and process.returncode < 0:  # SIGXCPU, SIGKILL
            raise _too_slow(name, limits)
        raise UnreadableDocumentError(
            f"{name}: could not be read (the reader stopped, code {process.returncode})"
        )
    if "error" in answer:
        raise UnreadableDocumentError(str(answer["error"]))
    return ReadDocument(text=str(answer["text"]), passages=[str(p) for p in answer["passages"]])


def _too_slow(name: str, limits: ReadLimits) -> UnreadableDocumentError:
    return UnreadableDocumentError(
        f"{name}: took longer than {limits.seconds:g} s to read (DOCUMENT_READ_SECONDS); "
        "export it as text or split it"
    )


def _child_environment() -> dict[str, str]:
    """What the reader needs to start Python, and none of the server's secrets."""
    keep = ("PATH", "HOME", "LANG", "LC_ALL", "PYTHONPATH", "VIRTUAL_ENV", "SYSTEMROOT", "TMPDIR")
    return {name: os.environ[name] for name in keep if name in os.environ}


def _limit_self(seconds: float, memory_bytes: int) -> None:
    """Cap this process before it parses anything (POSIX; elsewhere only the deadline holds)."""
    try:
        import resource
    except ImportError:  # pragma: no cover - Windows
        return
    cpu = max(1, int(seconds + 0.999))
    resource.setrlimit(resource.RLIMIT_CPU, (cpu, cpu + 1))
    with contextlib.suppress(ValueError, OSError):
        resource.setrlimit(resource.RLIMIT_AS, (memory_bytes, memory_bytes))


def _main(argv: list[str]) -> int:
    name, seconds, memory_bytes, max_chars = argv[0], float(argv[1]), int(argv[2]), int(argv[3])
    _limit_self(seconds, memory_bytes)
    data = sys.stdin.buffer.read(MAX_DOCUMENT_BYTES + 1)
    try:
        # PostgreSQL text holds neither NUL nor lone surrogates (a PDF's text layer may have both).
        text = extract(data, name).replace("\x00", "").encode("utf-8", "replace").decode("utf-8")
        if len(text) > max_chars:
            raise UnreadableDocumentError(f"{name}: more than {max_chars:,} characters of text")
        answer: dict[str, object] = {"text": text, "passages": split(text, name)}
    except UnreadableDocumentError as error:
        answer = {"error": str(error)}
    except MemoryError:
        answer = {"error": f"{name}: needs more than {memory_bytes // (1024 * 1024)} MB to read"}
    except RecursionError:
        answer = {"error": f"{name}: nested too deeply to read"}
    except Exception as error:  # noqa: BLE001 - a parser's crash on hostile input is an unreadable file
        answer = {"error": f"{name}: not readable ({type(error).__name__})"}
    sys.stdout.write(json.dumps(answer))
    return 0


if __name__ == "__main__":
    raise SystemExit(_main(sys.argv[1:]))
