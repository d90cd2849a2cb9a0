# syntax=docker/dockerfile:1
# The Node example (examples/node) in the official Node image, with corefork
# as PID 1 and entrypoint. corefork comes from the corefork image as the
# relocatable bundle; nothing is compiled here.
#
# From the repository root, after building the corefork image:
#
#   docker build -f docker/Dockerfile -t corefork:dev .
#   docker build -f docker/examples/node.Dockerfile \
#     --build-arg COREFORK_IMAGE=corefork:dev -t corefork-node-example .
#   docker run --rm --cpus=2 -p 8080:8080 -p 9180:9180 \
#     -v "$PWD/examples/node/corefork.yaml:/etc/corefork/corefork.yaml:ro" \
#     corefork-node-example
#
# The config is read from /etc/corefork/corefork.yaml: mount yours there (a
# file as above, or a Kubernetes ConfigMap at /etc/corefork). The example's
# own corefork.yaml is baked in as the default.

ARG COREFORK_IMAGE=corefork:latest
FROM ${COREFORK_IMAGE} AS corefork

# Debian 12 based, so its glibc (2.36) is what the bundle needs.
FROM node:20-bookworm-slim
# The bundle: bin/corefork plus the libraries it needs beyond glibc, found
# through its $ORIGIN/../lib rpath. No apt-get, no LD_LIBRARY_PATH.
COPY --from=corefork /opt/corefork /opt/corefork

WORKDIR /app
COPY examples/node/package.json examples/node/server.js ./
COPY examples/node/corefork.yaml /etc/corefork/corefork.yaml
# The control and notify sockets go to /run/corefork: writable by the
# non-root user (mount an emptyDir there with readOnlyRootFilesystem).
RUN install -d -o node -g node -m 0700 /run/corefork

ENV NODE_ENV=production
# The official image's unprivileged user (uid 1000).
USER node
# 8080: the app (corefork's listener, handed to every worker as fd 3);
# 9180: corefork's admin server (/livez, /readyz, /status, /metrics).
EXPOSE 8080 9180
# SIGTERM goes to corefork (PID 1): /readyz turns 503, the workers keep
# serving for shutdown.drain_delay (5s in corefork.yaml), then get SIGTERM and
# up to shutdown.timeout (30s) to finish; corefork exits 0. Docker's default
# 10 s stop timeout is enough for the drain and a quick app; allow drain +
# timeout (docker stop -t 40, compose stop_grace_period: 40s) for a slow one.
STOPSIGNAL SIGTERM
# Docker/Podman only; Kubernetes ignores it (use the chart's probes).
HEALTHCHECK --interval=10s --timeout=3s --start-period=30s --retries=3 \
  CMD ["/opt/corefork/bin/corefork", "probe", "readyz"]
# Node is started directly (not through npm) so SIGTERM reaches node itself.
# corefork's options stay out of ENTRYPOINT's tail: CMD (or the chart's args)
# may carry options too, e.g. CMD ["--workers", "2", "--", "node", "x.js"].
ENV COREFORK_CONFIG=/etc/corefork/corefork.yaml
ENTRYPOINT ["/opt/corefork/bin/corefork"]
CMD ["node", "server.js"]
