# tickflow — one Makefile; .ci/run calls these targets.
GO       ?= go
PKGS     ?= ./...
# Fuzz targets: package:Target, each run briefly by fuzz-smoke.
FUZZ     ?= ./md:FuzzDecodeTrade ./md:FuzzDecodeIntegrity ./md:FuzzDecodeRaw ./md:FuzzParseDecimal \
            ./md:FuzzDecodeFunding ./md:FuzzDecodeOpenInterest ./md:FuzzDecodeLiquidation \
            ./collectors/binance:FuzzParse ./collectors/binance:FuzzScanTrade ./collectors/binance:FuzzScanBookTicker ./stream:FuzzClientMessage ./archive/rawjson:FuzzDecodeLine
# An execution count, not a duration: a short duration can expire while the fuzzer is still
# gathering baseline coverage on a loaded machine ("context deadline exceeded").
FUZZTIME ?= 50000x

.PHONY: all fmt vet lint test test-integration kill-test-long perf perf-short bench fuzz-smoke run build services-up services-down bench-clickhouse bench-kafka

all: lint test

build:
	$(GO) build -o bin/tickflow ./cmd/tickflow

fmt:
	gofmt -l -w .

vet:
	$(GO) vet $(PKGS)

# lint: formatting must be clean and vet must pass (the linter list grows with what it catches).
lint: vet
	@out=$$(gofmt -l .); if [ -n "$$out" ]; then echo "gofmt needed:"; echo "$$out"; exit 1; fi

# The README's test command: unit, golden, allocation and in-process end-to-end tests.
test:
	$(GO) test -race -shuffle=on -timeout 20m $(PKGS)

# Real servers of the integration tier on loopback (deploy/ci): ClickHouse 18.16 (apt),
# Kafka 4.3.1 KRaft (Maven Central jars), chdb (PyPI). Idempotent.
services-up:
	bash deploy/ci/services.sh up
services-down:
	bash deploy/ci/services.sh down

# Integration tier: tests behind the `integration` build tag against the real servers, and
# the multi-process tests (simulator, pipeline killed with SIGKILL and restarted, ...).
test-integration: services-up
	TICKFLOW_CLICKHOUSE=127.0.0.1:19000 TICKFLOW_KAFKA=127.0.0.1:19092 \
	  $(GO) test -race -tags integration -run 'Integration' -timeout 20m -v ./transport/ ./sink/clickhouse/ ./docs/sqltest/
	TICKFLOW_CLICKHOUSE=127.0.0.1:19000 TICKFLOW_KAFKA=127.0.0.1:19092 $(GO) test -race -tags integration -run 'Integration' -timeout 60m -v ./cmd/tickflow/

# Throughput through the real Kafka into ClickHouse (issue 4; minutes, not in CI — the
# integration tier runs a short version, TestIntegrationBenchKafkaShort): the sink alone from
# a preloaded unified topic, then normalizer + sink from preloaded raw Binance frames, each
# into a fresh database, every trade id checked. EVENTS sets the preload.
EVENTS ?= 2000000
bench-kafka: build services-up
	./bin/tickflow bench-kafka --mode sink --events $(EVENTS)
	./bin/tickflow bench-kafka --mode e2e --events $(EVENTS)

bench-clickhouse: services-up
	TICKFLOW_CLICKHOUSE=127.0.0.1:19000 $(GO) test -tags integration -run '^$$' \
	  -bench IntegrationWrite -benchtime 20x ./sink/clickhouse/

# The long kill test (minutes; not in CI): KILLS=100 by default.
kill-test-long:
	bash scripts/kill-test-long.sh

# The performance run of issue 3 (simulator out of process, 200 symbols, 5 minutes, ids
# compared): `make perf`; RATE, DURATION, CHANNELS override. perf-short is its CI version:
# 40 s at a rate a loaded 2-core CI machine sustains, failing on loss, undrained lag, a rate
# below the floor or RSS above the cap.
RATE     ?= 100000
DURATION ?= 5m
CHANNELS ?= trade
perf: build
	./bin/tickflow bench --symbols 200 --rate $(RATE) --duration $(DURATION) --channels $(CHANNELS) --report perf-report.json
perf-short: build
	./bin/tickflow bench --symbols 200 --rate 20000 --duration 40s --min-events-per-sec 15000 --max-rss-mib 1500

bench:
	$(GO) test -run '^$$' -bench . -benchmem -count 5 $(PKGS)

fuzz-smoke:
	@set -e; for t in $(FUZZ); do pkg=$${t%%:*}; fn=$${t##*:}; \
	  echo "fuzz $$pkg $$fn"; $(GO) test -run '^$$' -fuzz "^$$fn$$" -fuzztime $(FUZZTIME) $$pkg; done

# The README's run command: the offline demo.
run:
	$(GO) run ./cmd/tickflow run --demo
