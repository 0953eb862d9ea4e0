# syntax=docker/dockerfile:1
FROM python:3.11-slim AS build
ENV PIP_NO_CACHE_DIR=1 PIP_DISABLE_PIP_VERSION_CHECK=1
RUN python -m venv /opt/venv
ENV PATH=/opt/venv/bin:$PATH
WORKDIR /src
COPY pyproject.toml README.md ./
COPY bot ./bot
COPY handlers ./handlers
COPY jobs ./jobs
RUN pip install --no-cache-dir .

FROM python:3.11-slim
RUN useradd --create-home --uid 10001 --shell /usr/sbin/nologin bot \
    && install -d -o 10001 -g 10001 /home/bot/data
COPY --from=build /opt/venv /opt/venv
ENV PATH=/opt/venv/bin:$PATH \
    PYTHONUNBUFFERED=1 \
    PTB_TIMEDELTA=true
WORKDIR /home/bot
USER 10001:10001
# The database lives here (the default [storage] path is data/bot.sqlite3 from /home/bot). The
# directory exists and belongs to the bot user before the volume is declared, so a new named or
# anonymous volume starts out owned by the bot, not by root.
VOLUME ["/home/bot/data"]
# /healthz answers inside the container (BOT__HTTP__LISTEN=0.0.0.0 makes it reachable from
# outside, e.g. for Prometheus); python's standard library checks it, no curl in the image.
ENV BOT__HTTP__LISTEN=127.0.0.1 BOT__HTTP__PORT=9108
EXPOSE 9108
HEALTHCHECK --interval=30s --timeout=5s --start-period=60s --retries=3 \
    CMD ["python", "-c", "import os, urllib.request; urllib.request.urlopen('http://127.0.0.1:' + os.environ.get('BOT__HTTP__PORT', '9108') + '/healthz', timeout=4)"]
ENTRYPOINT ["python", "-m", "bot"]
CMD ["run"]
