# Botwarden. `make run` starts the embedded default; `make test` runs every test.
GO      ?= go
VERSION ?= $(shell git describe --always --dirty 2>/dev/null || echo dev)
LDFLAGS := -X main.version=$(VERSION)

.PHONY: run build test bench bench-api-wrk lint fmtcheck fuzz clean

run: build
	./bin/botwarden serve

build:
	$(GO) build -ldflags "$(LDFLAGS)" -o bin/botwarden ./cmd/botwarden

# go test runs every vet analyzer on the race build itself (-vet=all), so
# the tree is compiled once, not once for vet and again for the tests.
test: fmtcheck
	$(GO) test -race -vet=all -timeout 9m ./...

bench:
	./scripts/bench.sh

# POST /v1/commands from wrk (out of process) against `botwarden serve`.
bench-api-wrk:
	./scripts/bench-api-wrk.sh

lint: fmtcheck
	$(GO) vet ./...

fmtcheck:
	@test -z "$$(gofmt -l $$(git ls-files '*.go'))" || { gofmt -l $$(git ls-files '*.go'); echo 'gofmt: files above need formatting'; exit 1; }

fuzz:
	./scripts/fuzz.sh

clean:
	rm -rf bin
