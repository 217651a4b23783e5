"""The architecture's rules hold: import-linter contracts, and a web process that never loads the agent."""

from __future__ import annotations

import json
import re
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from tests.conftest import AUTH_TOKEN, Db

ROOT = Path(__file__).resolve().parents[1]
LINT_IMPORTS = Path(sys.executable).with_name("lint-imports")


def _lint_imports(folder: Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [str(LINT_IMPORTS), "--no-cache", "--no-logo"],
        cwd=folder,
        env={"PYTHONPATH": str(folder), "PATH": "/usr/bin:/bin"},
        capture_output=True,
        text=True,
        timeout=120,
    )


def test_the_import_contracts_are_kept() -> None:
    result = _lint_imports(ROOT)
    assert result.returncode == 0, result.stdout + result.stderr
    assert "4 kept, 0 broken" in result.stdout


@pytest.mark.parametrize(
    ("module", "line", "contract"),
    [
        ("bot/web/webhook.py", "import bot.worker.answer", "web side never loads"),
        ("bot/agent/graph.py", "import bot.worker.delivery", "each stage imports only the stages below"),
        ("memory/records/messages.py", "import bot.settings", "advisors and memory import nothing of bot"),
    ],
)
def test_a_forbidden_import_breaks_a_contract(tmp_path: Path, module: str, line: str, contract: str) -> None:
    """Negative control: the same check on a copy of the tree with one import that breaks the rules."""
    for name in ("bot", "advisors", "memory", "sql", "pyproject.toml"):
        source = ROOT / name
        if source.is_dir():
            shutil.copytree(source, tmp_path / name, ignore=shutil.ignore_patterns("__pycache__"))
        else:
            shutil.copy(source, tmp_path / name)
    target = tmp_path / module
    target.write_text(target.read_text() + f"\n{line}  # noqa\n")
    result = _lint_imports(tmp_path)
    assert result.returncode != 0
    report = " ".join(result.stdout.split())  # contract names wrap across lines
    assert re.search(r"Contracts: \d kept, [1-9] broken", report), report
    broken_section = report.split("Broken contracts", 1)[1]
    assert contract in broken_section, report


_WEB_PROCESS = """
import json, sys
from starlette.testclient import TestClient
from bot.app import create_app
from bot.settings import Settings
from bot.cli.simulate import signed_form

settings = Settings(
    _env_file=None, database_url=sys.argv[1], twilio_auth_token=sys.argv[2],
    admin_token="admin-token-0123456789", log_level="WARNING",
)
run_worker = sys.argv[3] == "worker"
with TestClient(create_app(settings, run_worker=run_worker)) as client:
    form, signature = signed_form(
        url="http://testserver/webhooks/twilio", auth_token=sys.argv[2], to="+14155238886",
        from_="+573001112233", text="Hola",
    )
    webhook = client.post("/webhooks/twilio", data=form, headers={"X-Twilio-Signature": signature})
    api = client.get("/api/conversations", headers={"Authorization": "Bearer admin-token-0123456789"})
    ready = client.get("/readyz")
loaded = sorted(
    name for name in sys.modules
    if name.split(".")[0] in {"langgraph", "langchain_core", "langchain_openai", "openai"}
    or name.startswith(("bot.worker", "bot.agent", "memory.ai"))
)
print(json.dumps({
    "statuses": [webhook.status_code, api.status_code, ready.status_code],
    "conversations": len(api.json()["items"]), "worker": ready.json().get("worker"), "loaded": loaded,
}))
"""


def _serve_once(database_url: str, mode: str) -> dict[str, object]:
    result = subprocess.run(
        [sys.executable, "-c", _WEB_PROCESS, database_url, AUTH_TOKEN, mode],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert result.returncode == 0, result.stderr[-3000:]
    return json.loads(result.stdout.strip().splitlines()[-1])  # type: ignore[no-any-return]


def test_the_web_process_never_imports_the_worker_the_agent_or_langgraph(db: Db, database_url: str) -> None:
    db.add_advisor("Ana", "+14155238886")
    web = _serve_once(database_url, "web")
    assert web["statuses"] == [200, 200, 200]
    assert web["conversations"] == 1 and web["worker"] == "absent"
    assert web["loaded"] == []
    # Negative control: the same process with its in-process worker does load them.
    both = _serve_once(database_url, "worker")
    assert both["worker"] == "running"
    loaded = both["loaded"]
    assert isinstance(loaded, list)
    assert {"langgraph", "bot.worker.answer", "bot.agent.graph"} <= set(loaded)
