# One-command entry points. `make run` and `make test` install what is missing first.
BUILD      ?= build
ASAN_BUILD ?= build-asan
FUZZ_BUILD ?= build-fuzz
FUZZ_SECONDS ?= 60
JOBS       ?= $(shell nproc)
OCHRE      := $(BUILD)/ochre

.PHONY: all deps deps-browser deps-fuzz build run test test-fast test-asan test-extended fuzz bench clean

all: build

deps:
	@./scripts/install-deps.sh

# The tests also drive Chromium against `ochre serve` (tests/browser).
deps-browser:
	@./scripts/install-deps.sh --browser

build: deps
	@cmake -S . -B $(BUILD) -DCMAKE_BUILD_TYPE=RelWithDebInfo >/dev/null
	@cmake --build $(BUILD) -j$(JOBS)

# Applies the walk-through example (run it twice: the second run does nothing).
run: build
	cd examples/processor && ../../$(OCHRE) run pipeline.lua

# Every test, in the normal build and under AddressSanitizer + UBSan. The end-to-end
# tests run twice, on SQLite and on a private PostgreSQL cluster that
# scripts/with-postgres.sh starts for the run and stops after it; the Slurm executor's
# (e2e-slurm) on a private Slurm cluster from scripts/with-slurm.sh.
test: test-fast test-asan

test-fast: build deps-browser
	scripts/with-postgres.sh scripts/with-slurm.sh ctest --test-dir $(BUILD) --output-on-failure -j$(JOBS)

test-asan: deps deps-browser
	@cmake -S . -B $(ASAN_BUILD) -DCMAKE_BUILD_TYPE=Debug -DOCHRE_SANITIZE=ON >/dev/null
	@cmake --build $(ASAN_BUILD) -j$(JOBS)
	ASAN_OPTIONS=detect_leaks=1 UBSAN_OPTIONS=print_stacktrace=1 \
	  scripts/with-postgres.sh scripts/with-slurm.sh ctest --test-dir $(ASAN_BUILD) --output-on-failure -j$(JOBS)

# The extended mode: every test, then the fuzzers.
test-extended: test fuzz

deps-fuzz:
	@./scripts/install-deps.sh --fuzz

# libFuzzer targets (clang, ASan + UBSan): the canonical decoder and hasher, the state
# loader, the plan loader, each for FUZZ_SECONDS on tests/fuzz/corpus.
fuzz: deps-fuzz
	@cmake -S . -B $(FUZZ_BUILD) -DCMAKE_BUILD_TYPE=RelWithDebInfo -DCMAKE_C_COMPILER=clang \
	  -DCMAKE_CXX_COMPILER=clang++ -DOCHRE_FUZZ=ON -DOCHRE_TESTS=OFF >/dev/null
	@cmake --build $(FUZZ_BUILD) -j$(JOBS) --target fuzz_canonical fuzz_state fuzz_plan
	tests/fuzz/run.sh $(FUZZ_BUILD) $(FUZZ_SECONDS)

# Benchmarks side by side with peers (not part of the tests).
bench: build
	@command -v ninja >/dev/null || apt-get install -y -qq ninja-build
	tests/bench/run.sh $(OCHRE)
	tests/bench/scale.sh $(OCHRE)
	tests/bench/pg.sh $(OCHRE)
	scripts/with-slurm.sh tests/bench/slurm.sh $(OCHRE)

clean:
	rm -rf $(BUILD) $(ASAN_BUILD) $(FUZZ_BUILD)
