# Image for every Procfile role (web and workers); docker-compose.yml picks the command.
FROM python:3.11-slim
WORKDIR /srv
COPY pyproject.toml README.md ./
COPY app app
COPY workers workers
COPY pipelines pipelines
COPY schemas schemas
COPY infra infra
RUN pip install --no-cache-dir .
ENV HOST=0.0.0.0 PORT=5000
EXPOSE 5000
CMD ["python", "-m", "app"]
