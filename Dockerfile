# syntax=docker/dockerfile:1
# Botwarden container image: a static binary on distroless, non-root, the
# data folder as a volume. Build: docker build --build-arg VERSION=$(git describe --always --dirty) -t botwarden .
# Running it (config, TLS, probes, ledger CLI): docs/operations/README.md.

FROM golang:1.26 AS build
WORKDIR /src
COPY go.mod go.sum ./
# A company's module proxy, where builds must use one: --build-arg GOPROXY=https://…
ARG GOPROXY
RUN go mod download
COPY . .
ARG VERSION=dev
# Static (no cgo), reproducible paths, version stamped as the Makefile does.
RUN CGO_ENABLED=0 GOOS=linux go build -trimpath -buildvcs=false \
      -ldflags "-X main.version=${VERSION}" \
      -o /out/botwarden ./cmd/botwarden \
 && mkdir -p /out/data

# distroless/static: CA certificates and tzdata, no shell, no package manager.
FROM gcr.io/distroless/static-debian12:nonroot
COPY --from=build /out/botwarden /usr/local/bin/botwarden
# The volume's mount point, owned by the nonroot user (65532) so a fresh
# named volume inherits the owner; the service creates it 0700 otherwise.
COPY --from=build --chown=65532:65532 /out/data /var/lib/botwarden
USER 65532:65532
VOLUME /var/lib/botwarden
# The main listener: /healthz, /readyz, /metrics, /slack/*, /v1/*. Off
# loopback it needs listen.tls_cert and listen.tls_key (config.go).
EXPOSE 8443
# No HEALTHCHECK: distroless has no shell or curl. Probe /healthz and /readyz
# from the orchestrator (Kubernetes httpGet, scheme HTTPS) instead.
ENTRYPOINT ["/usr/local/bin/botwarden"]
CMD ["serve", "--config", "/etc/botwarden/config.yaml", "--data", "/var/lib/botwarden"]
