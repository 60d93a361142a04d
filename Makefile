# Botwarden. `make run` starts the embedded default; `make test` runs every test.
GO      ?= go
VERSION ?= $(shell git describe --always --dirty 2>/dev/null || echo dev)
LDFLAGS := -X main.version=$(VERSION)

.PHONY: run build test bench lint fuzz clean

run: build
	./bin/botwarden serve

build:
	$(GO) build -ldflags "$(LDFLAGS)" -o bin/botwarden ./cmd/botwarden

test: lint
	$(GO) test -race -timeout 9m ./...

bench:
	./scripts/bench.sh

lint:
	@test -z "$$(gofmt -l $$(git ls-files '*.go'))" || { gofmt -l $$(git ls-files '*.go'); echo 'gofmt: files above need formatting'; exit 1; }
	$(GO) vet ./...

fuzz:
	./scripts/fuzz.sh

clean:
	rm -rf bin
