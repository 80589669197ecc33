# ballot as a container: `ballot node` configured by BALLOT_* variables (docs/deploy.md).
#
#   docker build -t ballot .
#   docker run --rm ballot --help
#
# Stage 1 builds the package as npm would publish it (`npm pack`: dist/ without the tests);
# stage 2 installs that package's production dependencies only, from the lockfile.

FROM node:20-slim AS build
WORKDIR /src
COPY package.json package-lock.json ./
RUN npm ci --ignore-scripts --no-audit --no-fund
COPY tsconfig.json ./
COPY scripts/bundle.mjs ./scripts/
COPY src ./src
# npm run build's two steps (prepare does not run under --ignore-scripts): tsc, then the bundle `bin` names.
RUN npx tsc -p tsconfig.json && node scripts/bundle.mjs \
 && npm pack --ignore-scripts --pack-destination /tmp \
 && mkdir /package && tar -xzf /tmp/ballot-*.tgz -C /package --strip-components=1 \
 && cp package-lock.json /package/

FROM node:20-slim
ENV NODE_ENV=production \
    BALLOT_DATA_DIR=/data
WORKDIR /app
COPY --from=build /package/ ./
RUN npm ci --omit=dev --ignore-scripts --no-audit --no-fund \
 && npm cache clean --force \
 && mkdir -p /data && chown node:node /data
# The image's own unprivileged user (uid 1000): the node needs no privilege, only its data dir.
USER node
# Durable state (a Raft node's term and vote): a volume, so that it outlives the container.
VOLUME ["/data"]
# 7000: the peer port (mutual TLS); 8080: /status, /livez, /readyz, /metrics.
EXPOSE 7000 8080
# Exec form: node is PID 1 and receives SIGTERM itself, and `ballot node` stops cleanly on it
# (a shell in between would not pass the signal on, and the container would be killed after the grace).
# The bundle `bin` names (built in stage 1, packed with dist/): one file to load, not about 40
# (docs/runtime.md, "Start-up").
ENTRYPOINT ["node", "dist/cli/ballot.cjs"]
CMD ["node"]
