# The expertmatch API image: `expertmatch serve` (uvicorn workers) and the `expertmatch` command line.
FROM python:3.11-slim

ENV PYTHONDONTWRITEBYTECODE=1 \
    PYTHONUNBUFFERED=1 \
    PIP_NO_CACHE_DIR=1 \
    PIP_DISABLE_PIP_VERSION_CHECK=1

WORKDIR /app
# Dependencies first (cached while only the code changes), then the package itself.
COPY pyproject.toml README.md ./
COPY service ./service
COPY matching ./matching
RUN pip install . && useradd --system --uid 10001 --home-dir /app expertmatch
COPY fixtures ./fixtures

ENV EXPERTMATCH_HOST=0.0.0.0 \
    EXPERTMATCH_PORT=8000 \
    EXPERTMATCH_FIXTURES_DIR=/app/fixtures \
    EXPERTMATCH_LOG_JSON=true
USER expertmatch
EXPOSE 8000
CMD ["expertmatch", "serve", "--no-migrate"]
