# Image for every Procfile role (web and workers); docker-compose.yml picks the command.
# The page's front-end packages come from the npm registry, pinned by package-lock.json.
FROM node:20-slim AS front
WORKDIR /srv
COPY package.json package-lock.json ./
RUN npm ci --omit=dev --no-audit --no-fund

FROM python:3.11-slim
WORKDIR /srv
COPY pyproject.toml README.md ./
COPY app app
COPY workers workers
COPY pipelines pipelines
COPY schemas schemas
COPY infra infra
COPY web web
COPY ops ops
COPY --from=front /srv/node_modules node_modules
# Editable, so that app/web.py finds web/ and node_modules/ beside the code in /srv.
RUN pip install --no-cache-dir -e .
ENV HOST=0.0.0.0 PORT=5000
EXPOSE 5000
CMD ["python", "-m", "app"]
