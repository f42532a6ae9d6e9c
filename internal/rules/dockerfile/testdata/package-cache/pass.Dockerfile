FROM python:3.13-slim AS build
# A builder stage's cache is thrown away.
RUN apt-get update && apt-get install -y build-essential
RUN pip install -r requirements.txt

FROM python:3.13-slim
ENV PIP_NO_CACHE_DIR=1
RUN apt-get update \
 && apt-get install -y --no-install-recommends libpq5 \
 && rm -rf /var/lib/apt/lists/*
RUN --mount=type=cache,target=/var/cache/apt --mount=type=cache,target=/var/lib/apt \
    apt-get update && apt-get install -y curl
RUN pip install psycopg
RUN apk add --no-cache curl
RUN dnf install -y tar && dnf clean all
RUN --mount=type=cache,target=/root/.npm npm ci
RUN npm ci && npm cache clean --force
USER 1000
