"""The server the rate benchmark measures, plus its ceiling: `POST /bench/bare` (bench.rates).

`advisor-bot serve` itself, with one more route that answers the webhook's empty TwiML without
reading, checking or storing anything: the same process, loop and middleware, so the ratio of
the webhook to it is the cost of the webhook's own work. The route lives here, not in the
product: a deployment never serves it.

Run by bench.server as `python bench/bare_server.py --port P [--no-worker]` (by path, so that
the server's code is PYTHONPATH's: this tree, or the earlier revision a comparison measures).
"""

from __future__ import annotations

import argparse
import asyncio

import uvicorn
from starlette.requests import Request
from starlette.responses import Response

from bot.app import create_app
from bot.cli.server import check_reachable
from bot.infra.database import resolve_database
from bot.settings import Settings
from bot.web.twilio_requests import twiml_ok

BARE_PATH = "/bench/bare"


async def bare_twiml(request: Request) -> Response:
    """What the webhook answers, without reading, checking or storing."""
    return twiml_ok()


def main() -> int:
    parser = argparse.ArgumentParser(prog="python -m bench.bare_server")
    parser.add_argument("--port", type=int, required=True)
    parser.add_argument("--no-worker", action="store_true")
    args = parser.parse_args()
    settings = Settings()
    database = resolve_database(settings)
    asyncio.run(check_reachable(database, settings))
    app = create_app(settings, run_worker=not args.no_worker)
    app.add_route(BARE_PATH, bare_twiml, methods=["POST"], include_in_schema=False)
    uvicorn.run(app, host="127.0.0.1", port=args.port, log_config=None, access_log=False)
    if database.keepalive is not None:
        database.keepalive.cleanup()
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
