# One-command entry points. `make run` and `make test` install what is missing first.
BUILD      ?= build
ASAN_BUILD ?= build-asan
JOBS       ?= $(shell nproc)
OCHRE      := $(BUILD)/ochre

.PHONY: all deps build run test test-fast test-asan bench clean

all: build

deps:
	@./scripts/install-deps.sh

build: deps
	@cmake -S . -B $(BUILD) -DCMAKE_BUILD_TYPE=RelWithDebInfo >/dev/null
	@cmake --build $(BUILD) -j$(JOBS)

# Applies the walk-through example (run it twice: the second run does nothing).
run: build
	cd examples/processor && ../../$(OCHRE) run pipeline.lua

# Every test, in the normal build and under AddressSanitizer + UBSan.
test: test-fast test-asan

test-fast: build
	ctest --test-dir $(BUILD) --output-on-failure -j$(JOBS)

test-asan: deps
	@cmake -S . -B $(ASAN_BUILD) -DCMAKE_BUILD_TYPE=Debug -DOCHRE_SANITIZE=ON >/dev/null
	@cmake --build $(ASAN_BUILD) -j$(JOBS)
	ASAN_OPTIONS=detect_leaks=1 UBSAN_OPTIONS=print_stacktrace=1 \
	  ctest --test-dir $(ASAN_BUILD) --output-on-failure -j$(JOBS)

# Benchmarks side by side with peers (not part of the tests).
bench: build
	@command -v ninja >/dev/null || apt-get install -y -qq ninja-build
	tests/bench/run.sh $(OCHRE)
	tests/bench/scale.sh $(OCHRE)

clean:
	rm -rf $(BUILD) $(ASAN_BUILD)
