# The one image every orderwire process runs from (docker-compose.yml picks the command).
FROM python:3.11-slim

ENV PYTHONDONTWRITEBYTECODE=1 \
    PYTHONUNBUFFERED=1 \
    PIP_NO_CACHE_DIR=1 \
    PIP_DISABLE_PIP_VERSION_CHECK=1

# The processes never run as root; the code they run is root's and read-only to them.
RUN useradd --create-home --uid 10001 --user-group orderwire

WORKDIR /app
# Only what the package needs: never `COPY . .`, which would bake a local .env into the image.
COPY pyproject.toml README.md ./
COPY domain ./domain
COPY orderwire ./orderwire
COPY web ./web
COPY worker ./worker
RUN pip install . && rm -rf build *.egg-info

USER orderwire
EXPOSE 5000 5555
CMD ["gunicorn", "--config", "python:orderwire.gunicorn_conf", "web:create_app()"]
