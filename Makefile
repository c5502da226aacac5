# Fathom top-level targets: install Debian dependencies (only what is missing), build Release, run, test.
#   make run            build, synthesise the default model if needed, generate with it
#   make test           build and run every test through ctest (+ a short fuzz run of each parser)
#   make test-sanitize  the whole suite under ASan + UBSan
#   make bench          whole-model benchmark on tinyllama-1.1b shapes (slow; see bench/RESULTS.md)
SHELL := /bin/bash
JOBS ?= $(shell nproc)
BUILD ?= build
BUILD_ASAN ?= build-asan
BUILD_FUZZ ?= build-fuzz
DEPS := build-essential cmake g++ clang libclang-rt-14-dev pkg-config libgtest-dev libgmock-dev libbenchmark-dev \
        nlohmann-json3-dev libopenblas-dev python3 python3-numpy python3-regex python3-torch python3-nltk libpcre2-dev \
        libutf8proc-dev
SUDO := $(shell [ "$$(id -u)" = 0 ] || echo sudo)
DEFAULT_MODEL := models/fathom-tiny/fathom-tiny.gguf
FUZZ_SECONDS ?= 20

.PHONY: all deps build run test test-sanitize fuzz bench clean

all: build

deps:
	@missing=$$(for p in $(DEPS); do dpkg-query -W -f='$${Status}' $$p 2>/dev/null | grep -q "ok installed" || echo $$p; done); \
	if [ -n "$$missing" ]; then \
	  echo "installing:" $$missing; \
	  $(SUDO) apt-get update -qq && DEBIAN_FRONTEND=noninteractive $(SUDO) apt-get install -y -qq $$missing; \
	else echo "dependencies: all installed"; fi

build: deps
	cmake -S . -B $(BUILD) -DCMAKE_BUILD_TYPE=Release
	cmake --build $(BUILD) -j $(JOBS)

run: build
	$(BUILD)/fathom info $(DEFAULT_MODEL)
	$(BUILD)/fathom run -m $(DEFAULT_MODEL) -p "And it came to pass" -n 64 --temp 0.7 --seed 42

test: build
	cd $(BUILD) && ctest --output-on-failure -j 2
	$(MAKE) fuzz

test-sanitize: deps
	cmake -S . -B $(BUILD_ASAN) -DCMAKE_BUILD_TYPE=Debug -DFATHOM_SANITIZE=ON -DFATHOM_BENCH=OFF
	cmake --build $(BUILD_ASAN) -j $(JOBS)
	cd $(BUILD_ASAN) && ASAN_OPTIONS=detect_leaks=1 UBSAN_OPTIONS=print_stacktrace=1 ctest --output-on-failure -j 2

# Short libFuzzer run of every parser target, seeded from tests/corpus.
fuzz: deps
	CC=clang CXX=clang++ cmake -S . -B $(BUILD_FUZZ) -DCMAKE_BUILD_TYPE=RelWithDebInfo -DFATHOM_FUZZ=ON \
	  -DFATHOM_TESTS=OFF -DFATHOM_BENCH=OFF -DFATHOM_BLAS=OFF
	cmake --build $(BUILD_FUZZ) -j $(JOBS) --target fuzz_all
	@set -e; for t in $(BUILD_FUZZ)/fuzz/fuzz_*; do \
	  [ -x "$$t" ] || continue; n=$$(basename $$t); mkdir -p $(BUILD_FUZZ)/corpus/$$n; \
	  echo "fuzzing $$n for $(FUZZ_SECONDS)s"; \
	  $$t -max_total_time=$(FUZZ_SECONDS) -rss_limit_mb=2048 -max_len=65536 $(BUILD_FUZZ)/corpus/$$n fuzz/seeds/$$n 2>&1 | tail -n 2; \
	done

bench: build
	bash bench/run-bench.sh
	BUILD=$(BUILD) bash bench/run-tokenizer-bench.sh

clean:
	rm -rf $(BUILD) $(BUILD_ASAN) $(BUILD_FUZZ)
