"""Owns the worker's one HTTP connection pool, which the model's and Twilio's calls share.

Every reply costs a model call and a Twilio call (two with the typing indicator). Each library
bringing its own pool (httpx for the model, aiohttp for Twilio) doubled the kept-open
connections and ran two HTTP stacks in one event loop; httpx's was the costlier per call (see
docs/benchmarks.md, replies per core). One aiohttp session carries both now.
"""

from __future__ import annotations

import contextlib
from collections.abc import AsyncIterator

import aiohttp

# Enough kept-open connections for WORKER_CONCURRENCY answers in flight, each with a model call,
# a send and a typing indicator; aiohttp's default (100) with no bound per host beyond it.
POOL_CONNECTIONS = 100


@contextlib.asynccontextmanager
async def shared_http_session() -> AsyncIterator[aiohttp.ClientSession]:
    """One session for the life of the block; created inside the running event loop, as aiohttp asks."""
    session = aiohttp.ClientSession(connector=aiohttp.TCPConnector(limit=POOL_CONNECTIONS))
    try:
        yield session
    finally:
        await session.close()
