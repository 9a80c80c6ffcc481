# One image for the five TrustScope services; docker-compose.yml picks the command per service.
FROM python:3.11-slim

# CPU wheels of torch by default: the PyPI default pulls several GB of CUDA libraries that a
# CPU-only service never uses. Build with --build-arg TORCH_INDEX_URL= to use PyPI's wheels.
ARG TORCH_INDEX_URL=https://download.pytorch.org/whl/cpu

ENV PYTHONDONTWRITEBYTECODE=1 \
    PYTHONUNBUFFERED=1 \
    PIP_NO_CACHE_DIR=1 \
    PIP_DISABLE_PIP_VERSION_CHECK=1 \
    TS_LOG_JSON=true \
    HF_HOME=/tmp/huggingface \
    HF_HUB_OFFLINE=1

WORKDIR /app

# Dependencies first, from pyproject.toml alone, so code changes do not re-download torch.
COPY pyproject.toml /app/pyproject.toml
RUN python -c "import tomllib; p = tomllib.load(open('pyproject.toml', 'rb'))['project']; \
print('\n'.join(p['dependencies']))" > /tmp/requirements.txt \
 && pip install ${TORCH_INDEX_URL:+--extra-index-url "$TORCH_INDEX_URL"} -r /tmp/requirements.txt \
 && rm /tmp/requirements.txt

# The code. Editable install on purpose: the package reads the Elasticsearch templates
# (infra/elasticsearch/) and the sentiment model (models/) from the source tree beside it.
COPY . /app
RUN pip install --no-deps -e /app \
 && useradd --system --uid 10001 --home-dir /app --shell /usr/sbin/nologin trustscope

USER trustscope
EXPOSE 8000 8001 9101 9102 9103
# docker-compose.yml sets the command; this default runs the gateway.
CMD ["uvicorn", "services.gateway.app:app", "--host", "0.0.0.0", "--port", "8000"]
