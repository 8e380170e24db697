# sendgate: see README.md.
GO        ?= go
DATA_DIR  ?= ./data
FUZZTIME  ?= 5s
BIN       := bin

STATICCHECK ?= honnef.co/go/tools/cmd/staticcheck@v0.8.2

.PHONY: all build run test vet fmt-check staticcheck unit fuzz bench clean

all: build

build:
	$(GO) build -o $(BIN)/ ./cmd/...

## run: the processor on its embedded Kafka-protocol broker (no Kafka needed)
## and the Desk console; prints the console's URL. Ctrl-C stops both.
run:
	GO=$(GO) BIN=$(BIN) DATA_DIR=$(DATA_DIR) ./scripts/run.sh

## test: everything CI checks: vet, gofmt, staticcheck, race-enabled tests, a
## short fuzz run.
test: vet fmt-check staticcheck unit fuzz

vet:
	$(GO) vet ./...

fmt-check:
	@out=$$(gofmt -l $$(git ls-files '*.go' 2>/dev/null || find . -name '*.go')); \
	if [ -n "$$out" ]; then echo "gofmt needed:"; echo "$$out"; exit 1; fi

# staticcheck comes from the Go module proxy, pinned (go run downloads it once).
staticcheck:
	$(GO) run $(STATICCHECK) ./...

unit:
	$(GO) test -race -count=1 -timeout 20m ./...
	@# Allocation counts mean nothing under -race (those tests skip there):
	@# they run here without it.
	$(GO) test -count=1 -run 'Allocs$$' ./quota/ ./events/ ./state/

# A short fuzz run of every target. Go's fuzz coordinator can fail with
# "context deadline exceeded" without finding anything (golang/go#75804): such
# a run is tried again once; a run that writes a crasher fails.
fuzz:
	@for f in $$($(GO) test -list '^Fuzz' ./events/ | grep '^Fuzz'); do \
		echo "fuzz $$f ($(FUZZTIME))"; \
		before=$$(ls events/testdata/fuzz/$$f 2>/dev/null | wc -l); \
		$(GO) test -run='^$$' -fuzz="^$$f$$" -fuzztime=$(FUZZTIME) ./events/ && continue; \
		after=$$(ls events/testdata/fuzz/$$f 2>/dev/null | wc -l); \
		[ "$$after" = "$$before" ] || { echo "fuzz $$f found a failing input"; exit 1; }; \
		echo "fuzz $$f: runner failed without a crasher; trying once more"; \
		$(GO) test -run='^$$' -fuzz="^$$f$$" -fuzztime=$(FUZZTIME) ./events/ || exit 1; \
	done

## bench: micro-benchmarks, then end-to-end throughput and latency runs of the
## processor (own process, embedded broker) driven by cmd/loadgen; the table
## goes to bench-results.txt.
bench:
	GO=$(GO) scripts/bench.sh

clean:
	rm -rf $(BIN) $(DATA_DIR)
