"""What a user who gets something wrong sees: one line saying what to fix, never a traceback.

Run as real processes, since what matters is exactly what reaches the terminal.
"""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[3]


def _run(env: dict[str, str], *argv: str, cwd: Path) -> subprocess.CompletedProcess[str]:
    clean = {key: value for key, value in os.environ.items() if key not in ("DATABASE_URL", "LOG_FORMAT")}
    return subprocess.run(
        [sys.executable, "-m", "bot.cli", *argv],
        env={**clean, "PYTHONPATH": str(ROOT), **env},
        cwd=cwd,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )


@pytest.mark.parametrize(
    ("env", "argv", "code", "says"),
    [
        (
            {"LOG_FORMAT": "xml"},
            ("db", "upgrade"),
            2,
            "setting LOG_FORMAT: Input should be 'text' or 'json' (got 'xml')",
        ),
        (
            {"ENVIRONMENT": "production"},
            ("serve",),
            2,
            "ENVIRONMENT=production needs DATABASE_URL",
        ),
        (
            {"DATABASE_URL": "postgresql://postgres@127.0.0.1:1/nowhere", "DATABASE_TIMEOUT_SECONDS": "2"},
            ("db", "upgrade"),
            1,
            "cannot reach the database",
        ),
        (
            {
                "DATABASE_URL": "postgresql://postgres:s3cr3t-pw@127.0.0.1:1/nowhere",
                "DATABASE_TIMEOUT_SECONDS": "2",
            },
            ("serve", "--port", "1"),
            1,
            "Check DATABASE_URL and that PostgreSQL is running",
        ),
    ],
)
def test_configuration_mistakes_are_one_clear_line(
    tmp_path: Path, env: dict[str, str], argv: tuple[str, ...], code: int, says: str
) -> None:
    result = _run(env, *argv, cwd=tmp_path)
    assert result.returncode == code, result.stderr
    lines = [line for line in result.stderr.splitlines() if line.strip()]
    assert len(lines) == 1, result.stderr
    assert lines[0].startswith("error: ") and says in lines[0]
    assert "Traceback" not in result.stderr + result.stdout
    assert "s3cr3t-pw" not in result.stderr + result.stdout
    # Production never falls back to an embedded database on a throwaway disk.
    assert not (tmp_path / ".advisor-bot").exists()


def test_every_option_says_what_it_is_for(tmp_path: Path) -> None:
    commands = (
        ("serve",),
        ("simulate",),
        ("db", "seed"),
        ("advisors", "add"),
        ("advisors", "tokens", "revoke"),
    )
    for argv in commands:
        result = _run({}, *argv, "--help", cwd=tmp_path)
        assert result.returncode == 0
        lines = result.stdout.splitlines()
        options = [n for n, line in enumerate(lines) if line.strip().startswith("--")]
        assert options
        for n in options:
            words = lines[n].strip().split()
            flag_only = words[1:] == [] or (len(words) == 2 and words[1].isupper())
            help_below = n + 1 < len(lines) and lines[n + 1].startswith(" " * 10) and lines[n + 1].strip()
            assert not flag_only or help_below, f"{' '.join(argv)}: {lines[n].strip()!r} has no help text"


def test_a_database_without_the_schema_is_one_line_saying_to_upgrade(
    fresh_database: str, tmp_path: Path
) -> None:
    done = _run({"DATABASE_URL": fresh_database}, "advisors", "list", cwd=tmp_path)
    assert done.returncode == 1
    assert done.stderr.strip() == (
        "error: this database lacks advisor-bot's tables, or has older ones: run `advisor-bot db upgrade`"
    )
    assert "Traceback" not in done.stderr
