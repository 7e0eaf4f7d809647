# syntax=docker/dockerfile:1
#
# fluxprobe container image: the `fluxprobe` binary on a distroless base (glibc, CA certificates,
# no shell), running as an unprivileged numeric user.
#
#   docker build -t fluxprobe:dev .
#   docker run --rm -p 9464:9464 -v "$PWD/fluxprobe.yml:/etc/fluxprobe/fluxprobe.yml:ro" fluxprobe:dev
#   docker run --rm -p 8000:8000 fluxprobe:dev simulate --listen 0.0.0.0:8000    # the simulated API
#
# docs/deploy.md explains the image, the compose stack and the Kubernetes manifests.

ARG RUST_VERSION=1.95.0
ARG DEBIAN_RELEASE=bookworm

# ---- build ---------------------------------------------------------------------------------
FROM rust:${RUST_VERSION}-slim-${DEBIAN_RELEASE} AS build
WORKDIR /src
# The image's binary keeps its symbols (function names in a panic's backtrace) but not the line
# tables of the release profile: 25 MiB instead of 110.
ENV CARGO_PROFILE_RELEASE_STRIP=debuginfo

# Dependencies first, in a layer of their own: it is rebuilt only when Cargo.toml or Cargo.lock
# change. Placeholder sources stand in for the crate's own targets while it builds.
COPY Cargo.toml Cargo.lock ./
COPY scripts/docker-stub-crate.sh /usr/local/bin/docker-stub-crate
RUN sh /usr/local/bin/docker-stub-crate . \
 && cargo build --release --locked --bin fluxprobe

# Then the sources (and the files they embed). `touch` makes Cargo see them as newer than the
# placeholders it just built.
COPY assets ./assets
COPY src ./src
# The git revision shown in fluxprobe_build_info{revision} (pass --build-arg FLUXPROBE_REVISION=…).
ARG FLUXPROBE_REVISION=unknown
RUN touch src/main.rs src/lib.rs \
 && FLUXPROBE_REVISION="${FLUXPROBE_REVISION}" cargo build --release --locked --bin fluxprobe \
 && install -D -m 0755 target/release/fluxprobe /out/fluxprobe

# ---- runtime -------------------------------------------------------------------------------
# distroless/cc: glibc and libgcc for the Rust binary, CA certificates for rustls, and the
# `nonroot` user (65532). No shell, no package manager.
FROM gcr.io/distroless/cc-debian12:nonroot

ARG FLUXPROBE_VERSION=0.1.0
ARG FLUXPROBE_REVISION=unknown
LABEL org.opencontainers.image.title="fluxprobe" \
      org.opencontainers.image.description="Throughput tester and continuous prober for FLUX image-generation APIs, with Prometheus metrics and a built-in simulated API" \
      org.opencontainers.image.version="${FLUXPROBE_VERSION}" \
      org.opencontainers.image.revision="${FLUXPROBE_REVISION}" \
      org.opencontainers.image.licenses="MIT" \
      org.opencontainers.image.base.name="gcr.io/distroless/cc-debian12:nonroot"

COPY --from=build /out/fluxprobe /usr/local/bin/fluxprobe

# `fluxprobe serve` reads this file when no --config is given; mount a configuration here.
ENV FLUXPROBE_CONFIG=/etc/fluxprobe/fluxprobe.yml

USER 65532:65532

# /metrics, the status page, /-/healthy, /-/ready (DEFAULT_LISTEN of `serve`); POST /-/reload and
# /-/burst with --web.enable-lifecycle / --web.enable-burst-api.
EXPOSE 9464

# Exec form, no shell: `fluxprobe healthcheck` asks http://127.0.0.1:9464/-/healthy. With a web
# config (TLS, basic auth), set FLUXPROBE_HEALTHCHECK_USER and FLUXPROBE_HEALTHCHECK_PASSWORD and
# override this with `healthcheck --url https://127.0.0.1:9464 --insecure`.
HEALTHCHECK --interval=30s --timeout=5s --start-period=10s --retries=3 \
  CMD ["/usr/local/bin/fluxprobe", "healthcheck"]

ENTRYPOINT ["/usr/local/bin/fluxprobe"]
CMD ["serve"]
