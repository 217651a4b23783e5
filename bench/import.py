"""Importing an old bot's customers: records per second and peak memory, for 1,000,000 profiles.

Run: `.venv/bin/python -m bench.import` (BENCH_IMPORT_RECORDS, default 1,000,000). A
threads.json of that many customers (name, two labels, chat id, thread id, two dates; about 200
bytes each) is written record by record, then imported with `advisor-bot import profiles` into
a fresh embedded PostgreSQL, as a user runs it; then imported again (every record unchanged).
Peak memory is the importing process's own high-water mark (VmHWM).
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

from bench.docs import DOC, machine_line, measured_at, replace_section
from bench.server import ROOT
from tests.live import CLI_REPORTING_PEAK, peak_kb

DATA = DOC.parent / "data" / "import.json"
ADVISOR = "+14155238886"  # Ana Gómez of the seed


def generate(path: Path, records: int) -> None:
    """A threads.json of `records` customers, never whole in memory."""
    with path.open("w") as out:
        out.write("{")
        for n in range(records):
            phone = f"57{3000000000 + n}"
            record = {
                "chatId": f"{phone}@s.whatsapp.net",
                "userName": f"Cliente {n}",
                "labels": ["importado", ["arriendo", "compra", "inversion"][n % 3]],
                "threadId": f"thread_{n:08x}",
                "createdAt": 1_700_000_000 + n,
                "lastMessageAt": 1_720_000_000 + n,
            }
            out.write(("," if n else "") + json.dumps(phone) + ":" + json.dumps(record))
        out.write("}")


def _import(folder: str, env: dict[str, str], path: Path) -> dict[str, Any]:
    started = time.perf_counter()
    done = subprocess.run(
        [*CLI_REPORTING_PEAK, "import", "profiles", "--advisor", ADVISOR, str(path)],
        cwd=folder,
        env=env,
        capture_output=True,
        text=True,
        timeout=7_200,
        check=False,
    )
    seconds = time.perf_counter() - started
    if done.returncode != 0:
        raise SystemExit(f"import failed ({done.returncode}): {done.stderr[-2000:]}")
    return {
        "seconds": round(seconds, 1),
        "peak_mb": round(peak_kb(done.stderr) / 1024, 1),
        "report": done.stdout.strip().splitlines()[-1],
    }


def run(records: int) -> dict[str, Any]:
    with tempfile.TemporaryDirectory(prefix="advisor-bot-import-") as folder:
        path = Path(folder) / "threads.json"
        generate(path, records)
        env = {
            **os.environ,
            "EMBEDDED_DATA_DIR": f"{folder}/pgdata",
            "PYTHONPATH": str(ROOT),
            "LOG_LEVEL": "WARNING",
        }
        env.pop("DATABASE_URL", None)
        subprocess.run(
            [sys.executable, "-m", "bot.cli", "db", "seed", "--if-empty"],
            cwd=folder,
            env=env,
            check=True,
            capture_output=True,
        )
        first = _import(folder, env, path)
        print(json.dumps(first), flush=True)
        again = _import(folder, env, path)
        print(json.dumps(again), flush=True)
        return {
            "records": records,
            "file_mb": round(path.stat().st_size / 1e6, 1),
            "first": first,
            "again": again,
        }


def _row(name: str, run: dict[str, Any], records: int, *, bold: bool) -> str:
    rate, peak = f"{records / run['seconds']:,.0f}", f"{run['peak_mb']} MB"
    if bold:
        rate, peak = f"**{rate}**", f"**{peak}**"
    return f"| {name} | {run['seconds']:,} | {rate} | {peak} | {run['report']} |"


def main() -> int:
    records = int(os.environ.get("BENCH_IMPORT_RECORDS", "1000000"))
    result = run(records)
    DATA.parent.mkdir(parents=True, exist_ok=True)
    DATA.write_text(json.dumps(result, indent=1))
    write(result)
    return 0


def write(result: dict[str, Any]) -> None:
    """The section of docs/benchmarks.md, from the figures of one run."""
    records = result["records"]
    first, again = result["first"], result["again"]
    replace_section(
        "import",
        f"""
## 3e. Importing an old bot's customers

Command: `.venv/bin/python -m bench.import`. {machine_line()}
Measured: {measured_at()}. Raw figures: `docs/data/import.json`.
A generated `threads.json` of {records:,} customers ({result["file_mb"]:,} MB), imported with
`advisor-bot import profiles` into a fresh embedded PostgreSQL (a conversation and a profile
per customer), then imported again.

| run | seconds | records/s | peak memory (VmHWM) | report |
|---|---|---|---|---|
{_row("first (all new)", first, records, bold=True)}
{_row("again (all unchanged)", again, records, bold=False)}

Memory does not grow with the file: records are streamed (ijson) and written in batches of
1,000 records or 8 MB.
""",
    )


if __name__ == "__main__":
    raise SystemExit(main())
