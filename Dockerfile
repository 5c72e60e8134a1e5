# cloudphone-split as a container: the CLI, Node.js 20, and pg_dump/pg_restore of a
# current PostgreSQL major (for `retention.archive`). Runs as a non-root user.
#
#   docker build -t registry.example.com/platform/cloudphone-split:0.1.0 .
#   docker run --rm -e CLOUDPHONE_CORE_URL -v "$PWD:/work" \
#     registry.example.com/platform/cloudphone-split:0.1.0 plan -m plans/split.yaml

ARG NODE_IMAGE=node:20-bookworm-slim
ARG PG_MAJOR=18

# 1. Build: compile the TypeScript, then keep only the runtime dependencies.
FROM ${NODE_IMAGE} AS build
WORKDIR /app
COPY package.json package-lock.json tsconfig.json tsconfig.build.json ./
COPY src src
COPY migrations migrations
COPY bin bin
RUN npm ci --no-audit --no-fund \
 && npm run build \
 && npm prune --omit=dev --no-audit --no-fund

# 2. pg_dump and pg_restore of PostgreSQL ${PG_MAJOR}, with the libpq they were built against.
FROM postgres:${PG_MAJOR}-bookworm AS pgclient
ARG PG_MAJOR
RUN mkdir -p /out/bin /out/lib \
 && cp /usr/lib/postgresql/${PG_MAJOR}/bin/pg_dump /usr/lib/postgresql/${PG_MAJOR}/bin/pg_restore /out/bin/ \
 && cp -L "$(ldconfig -p | awk '/libpq\.so\.5 /{print $NF; exit}')" /out/lib/libpq.so.5

# 3. Runtime: Node.js, the built CLI, the PostgreSQL client tools; no compiler, no npm cache.
FROM ${NODE_IMAGE}
ARG PG_MAJOR
RUN apt-get update \
 && apt-get install -y --no-install-recommends ca-certificates libssl3 libgssapi-krb5-2 libldap-2.5-0 zlib1g liblz4-1 libzstd1 \
 && rm -rf /var/lib/apt/lists/*
COPY --from=pgclient /out/bin/ /usr/lib/postgresql/${PG_MAJOR}/bin/
COPY --from=pgclient /out/lib/ /usr/lib/postgresql/${PG_MAJOR}/lib/
ENV LD_LIBRARY_PATH=/usr/lib/postgresql/${PG_MAJOR}/lib \
    PATH=/usr/lib/postgresql/${PG_MAJOR}/bin:$PATH \
    NO_COLOR=1 \
    NODE_ENV=production
# Fails the build when a library the client tools need is missing.
RUN pg_dump --version && pg_restore --version
WORKDIR /app
COPY --from=build /app/package.json ./
COPY --from=build /app/node_modules node_modules
COPY --from=build /app/dist dist
COPY --from=build /app/bin bin
COPY --from=build /app/migrations migrations
# The manifest, plans and service configs are mounted here (the manifest's folder).
WORKDIR /work
USER node
ENTRYPOINT ["node", "--max-semi-space-size=2", "/app/bin/cloudphone-split.js"]
CMD ["--help"]
