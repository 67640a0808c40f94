# The dongbo worker / CLI image used by docker-compose.yml.
FROM python:3.11-slim
WORKDIR /app
COPY pyproject.toml README.md ./
COPY contract contract
COPY dongbo dongbo
COPY schemas schemas
COPY streams streams
COPY producers producers
COPY sinks sinks
COPY monitoring monitoring
RUN pip install --no-cache-dir .
USER 1000
ENTRYPOINT []
