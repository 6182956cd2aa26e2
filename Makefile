# doorhub — the Makefile is the interface. `make` alone prints the targets.

GO       ?= go
VERSION  ?= $(shell git describe --tags --always --dirty 2>/dev/null || echo dev)
LDFLAGS  := -s -w -X github.com/doorhub/doorhub/hub.Version=$(VERSION)
BINARIES := $(notdir $(wildcard cmd/*))
BIN      ?= bin
# Fuzzing time per target for `make fuzz` (bounded: it stops by itself).
FUZZTIME ?= 20s
# Model-based test sequences: `make test` runs the default, `make fuzz` more.
RAPID_CHECKS_FUZZ ?= 20000

.DEFAULT_GOAL := help

.PHONY: help
help: ## Show this help
	@awk 'BEGIN {FS = ":.*## "} /^[a-zA-Z0-9_-]+:.*## / {printf "  %-14s %s\n", $$1, $$2}' $(MAKEFILE_LIST)

.PHONY: build
build: ## Build all binaries into ./bin with the version injected
	@mkdir -p $(BIN)
	@for b in $(BINARIES); do \
		echo "go build $$b"; \
		CGO_ENABLED=0 $(GO) build -trimpath -ldflags '$(LDFLAGS)' -o $(BIN)/$$b ./cmd/$$b || exit 1; \
	done

.PHONY: build-arm64
build-arm64: ## Cross-build all binaries for 64-bit ARM (Raspberry Pi OS 64-bit)
	@$(MAKE) --no-print-directory build GOOS=linux GOARCH=arm64 BIN=$(BIN)/linux-arm64

.PHONY: build-armv7
build-armv7: ## Cross-build for 32-bit ARM with GOARM=6 (runs on ARMv6 and ARMv7 boards)
	@$(MAKE) --no-print-directory build GOOS=linux GOARCH=arm GOARM=6 BIN=$(BIN)/linux-armhf

export GOOS GOARCH GOARM

.PHONY: demo
demo: ## See it run: a small building and the hub's decisions on it
	@DOORHUB_DEMO=1 $(GO) test -count=1 -run '^TestDemo$$' -v ./hub/ | grep -Ev '^(=== RUN|--- PASS|PASS|ok )'

.PHONY: test
test: ## Run every test with the race detector
	$(GO) test -race -count=1 -timeout 30m ./...

.PHONY: bench
bench: ## Run the benchmarks (figures go to docs/performance.md)
	$(GO) test -run '^$$' -bench . -benchmem -benchtime 2s -timeout 60m ./...

.PHONY: fuzz
fuzz: ## Run each fuzz target for FUZZTIME and the model test with more sequences
	@for pkg in $$($(GO) list ./...); do \
		for f in $$($(GO) test -list '^Fuzz' $$pkg | grep '^Fuzz'); do \
			echo "fuzz $$pkg $$f"; \
			$(GO) test -run '^$$' -fuzz "^$$f$$" -fuzztime $(FUZZTIME) $$pkg || exit 1; \
		done; \
	done
	RAPID_CHECKS=$(RAPID_CHECKS_FUZZ) $(GO) test -count=1 -run 'Model' ./hub/

.PHONY: lint
lint: ## gofmt check, go vet and the import rules of STYLE.md
	@out=$$(gofmt -l $$(git ls-files '*.go')); if [ -n "$$out" ]; then echo "gofmt needed:"; echo "$$out"; exit 1; fi
	$(GO) vet ./...
	$(GO) test -count=1 -run 'TestImportRules' .

.PHONY: clean
clean: ## Remove build output
	rm -rf $(BIN)
