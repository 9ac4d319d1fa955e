# The expertmatch API image: `expertmatch serve` (uvicorn workers) and the `expertmatch` command line.
FROM python:3.11-slim

ENV PYTHONDONTWRITEBYTECODE=1 \
    PYTHONUNBUFFERED=1 \
    PIP_NO_CACHE_DIR=1 \
    PIP_DISABLE_PIP_VERSION_CHECK=1

WORKDIR /app
# Dependencies first, at the versions of the lock file (constraints.txt): this layer is rebuilt only when
# pyproject.toml or the lock changes, not when the code does.
COPY pyproject.toml constraints.txt ./
RUN python -c "import tomllib; print('\n'.join(tomllib.load(open('pyproject.toml', 'rb'))['project']['dependencies']))" \
        > /tmp/requirements.txt \
    && pip install -c constraints.txt -r /tmp/requirements.txt \
    && rm /tmp/requirements.txt
# Then the package itself, without touching the dependencies installed above.
COPY README.md ./
COPY service ./service
COPY matching ./matching
RUN pip install --no-deps -c constraints.txt . && useradd --system --uid 10001 --home-dir /app expertmatch
COPY fixtures ./fixtures

ENV EXPERTMATCH_HOST=0.0.0.0 \
    EXPERTMATCH_PORT=8000 \
    EXPERTMATCH_FIXTURES_DIR=/app/fixtures \
    EXPERTMATCH_LOG_JSON=true
USER expertmatch
EXPOSE 8000
CMD ["expertmatch", "serve", "--no-migrate"]
