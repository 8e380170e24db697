# syntax=docker/dockerfile:1
#
# sendgate's processor: static binaries in a distroless, non-root image.
#
#   docker build -t sendgate .
#   docker run --rm -p 8080:8080 -e SENDGATE_BROKERS=kafka:9092 -v sendgate-data:/var/lib/sendgate sendgate
#
# The image has no shell and no curl: the HEALTHCHECK runs /healthcheck (cmd/healthcheck), which
# GETs a URL and exits 0 on 2xx. Without SENDGATE_BROKERS the processor starts its embedded
# development broker inside the container (keeping its log under the data dir).
# See README.md ("Run with Kafka") and docs/operations.md.

# The Go release of go.mod's "go" line, or later.
ARG GO_IMAGE=golang:1.26

FROM ${GO_IMAGE} AS build
WORKDIR /src
# Modules first: this layer is reused until go.mod or go.sum change.
COPY go.mod go.sum ./
RUN --mount=type=cache,target=/go/pkg/mod go mod download
COPY . .
# Static binaries (no cgo, so no libc needed at run time); -trimpath and no VCS stamp keep the
# build reproducible whatever the build context holds.
ENV CGO_ENABLED=0
RUN --mount=type=cache,target=/go/pkg/mod --mount=type=cache,target=/root/.cache/go-build \
    go build -trimpath -buildvcs=false -ldflags="-s -w" -o /out/ ./cmd/processor ./cmd/healthcheck \
 && mkdir -p /out/data

FROM gcr.io/distroless/static-debian12:nonroot
COPY --from=build /out/processor /out/healthcheck /
# The data dir, owned by nonroot (65532): a new named volume mounted here copies this owner, so
# the processor can write its Pebble state without running as root.
COPY --from=build --chown=65532:65532 /out/data /var/lib/sendgate
USER 65532:65532
ENV SENDGATE_DATA_DIR=/var/lib/sendgate \
    SENDGATE_HTTP_ADDR=0.0.0.0:8080
VOLUME ["/var/lib/sendgate"]
EXPOSE 8080
# Liveness only (/healthz answers while the process serves HTTP); compose and Kubernetes use
# /readyz for readiness. "/healthz" alone is requested on SENDGATE_HTTP_ADDR's port.
HEALTHCHECK --interval=10s --timeout=5s --start-period=20s --retries=3 \
    CMD ["/healthcheck", "--timeout", "3s", "/healthz"]
# SIGTERM: the processor commits the batch in hand and exits 0 within 10 s (give it
# `stop_grace_period`/`terminationGracePeriodSeconds` of at least 15 s).
STOPSIGNAL SIGTERM
ENTRYPOINT ["/processor"]
