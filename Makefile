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

# Flags for doorhub-demo, e.g. DEMO_ARGS="--every 1s" or "--for 2m".
DEMO_ARGS ?=

.PHONY: demo
demo: build ## See it run: a building of simulated locks, doorhubd, doorhub-cloud and its broker, until Ctrl-C
	@$(BIN)/doorhub-demo --bin $(BIN) $(DEMO_ARGS)

.PHONY: walkthrough
walkthrough: ## Print the access core's decisions on a small site, then the seed's operations end to end
	@DOORHUB_DEMO=1 $(GO) test -count=1 -run '^TestDemo$$' -v ./hub/ | grep -Ev '^(=== RUN|--- PASS|PASS|ok )'
	@echo; echo "--- doorhub-cloud, a broker, doorhubd and simulated locks ---"
	@DOORHUB_DEMO=1 $(GO) test -count=1 -run '^TestSeedDemo$$' -v ./cmd/doorhubd/ | grep -Ev '^(=== RUN|--- PASS|PASS|ok )'

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
lint: ## gofmt check, go vet (also for 32-bit ARM, the Pi's armhf), the import rules of STYLE.md and the unit's sandbox score
	@out=$$(gofmt -l $$(git ls-files '*.go')); if [ -n "$$out" ]; then echo "gofmt needed:"; echo "$$out"; exit 1; fi
	$(GO) vet ./...
	GOARCH=arm GOARM=6 $(GO) vet ./...
	$(GO) test -count=1 -run 'TestImportRules' .
	@$(MAKE) --no-print-directory lint-unit

# The service's sandbox, scored as `systemd-analyze security` does (0 is
# locked down, 10 is not sandboxed at all): at most UNIT_EXPOSURE_MAX.
UNIT_EXPOSURE_MAX ?= 2.0

.PHONY: lint-unit
lint-unit: ## systemd-analyze security exposure of packaging/doorhub.service at most 2.0
	@command -v systemd-analyze >/dev/null || { echo "systemd-analyze missing: apt-get install systemd"; exit 1; }
	@out=$$(systemd-analyze security --offline=true --threshold=$$(awk 'BEGIN { printf "%d", $(UNIT_EXPOSURE_MAX) * 10 }') packaging/doorhub.service 2>&1); rc=$$?; \
		echo "$$out" | tail -n 1; \
		if [ $$rc -ne 0 ]; then echo "$$out" | grep '✗'; echo "exposure above $(UNIT_EXPOSURE_MAX)"; fi; exit $$rc

# Debian packages: one per architecture, built by nfpm (a pinned Go tool).
DEB_ARCHES ?= amd64 arm64 armhf
DIST       ?= dist

.PHONY: deb
deb: ## Build dist/doorhub_VERSION_{amd64,arm64,armhf}.deb (nfpm; armhf is GOARM=6)
	@rm -f $(DIST)/doorhub_*.deb
	@for a in $(DEB_ARCHES); do GO=$(GO) sh packaging/build-deb.sh $$a $(DIST) || exit 1; done

.PHONY: package-test
package-test: deb ## lintian, install/upgrade/purge in a debootstrap root, arm builds under qemu (root)
	bash packaging/test/package-test.sh $(DIST)

.PHONY: clean
clean: ## Remove build output
	rm -rf $(BIN) $(DIST)
