# advisor-bot for hosts that run containers. The same image is the web, the worker and the release
# step; the command says which (compose.yaml shows all three). It installs the lock file
# (requirements.txt: the versions the tests ran with, hash-checked), never the embedded
# PostgreSQL: DATABASE_URL names the database.
FROM python:3.11-slim

ENV PYTHONDONTWRITEBYTECODE=1 \
    PYTHONUNBUFFERED=1 \
    PIP_DISABLE_PIP_VERSION_CHECK=1

WORKDIR /app
COPY requirements.txt ./
RUN pip install --no-cache-dir --require-hashes -r requirements.txt

# The code runs from /app (`python -m bot.cli` is the `advisor-bot` command).
COPY bot ./bot
COPY advisors ./advisors
COPY memory ./memory
COPY sql ./sql
# The default model's tokenizer vocabulary, so the worker counts prompt tokens exactly
# (memory.ai.tokens); a build without the network still builds, and the worker estimates.
ENV TIKTOKEN_CACHE_DIR=/app/tiktoken
RUN python -m bot.cli tokenizer fetch || echo "tokenizer vocabulary not fetched: prompt tokens will be estimated"
RUN useradd --create-home --uid 10001 advisor
USER advisor

EXPOSE 8000
HEALTHCHECK --interval=30s --timeout=5s --start-period=30s \
    CMD python -c "import os, urllib.request; urllib.request.urlopen(f'http://127.0.0.1:{os.environ.get(\"PORT\", \"8000\")}/readyz', timeout=4)"
CMD ["sh", "-c", "exec python -m bot.cli serve --no-worker --host 0.0.0.0 --port ${PORT:-8000}"]
