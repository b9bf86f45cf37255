# Lookout. `make run` and `make test` set up what is missing (packages, model,
# photos, test tools), build, and run. See README.md.
BUILD      ?= build
ASAN_BUILD ?= build-asan
FUZZ_BUILD ?= build-fuzz
JOBS       ?= $(shell nproc)
# Seconds per fuzz target: `make fuzz` runs each this long. `make test` runs
# a fixed number of inputs per target from a fixed seed (FUZZ_RUNS_<target>,
# each well under a minute here), so CI passes or fails the same way for a
# given commit; fresh search is `make fuzz`.
FUZZ_SECONDS    ?= 600
FUZZ_CI_SECONDS ?= 45
SOAK_SECONDS    ?= 1800
MODEL      := models/mobilenet_ssd_v2_coco_quant_postprocess.tflite

.PHONY: all setup build build-asan test test-release test-sanitize test-asan test-container fuzz soak bench run clean

all: build

setup:
	scripts/setup

$(BUILD)/CMakeCache.txt:
	cmake -S . -B $(BUILD) -DCMAKE_BUILD_TYPE=Release

build: $(BUILD)/CMakeCache.txt
	cmake --build $(BUILD) -j$(JOBS)

$(ASAN_BUILD)/CMakeCache.txt:
	cmake -S . -B $(ASAN_BUILD) -DCMAKE_BUILD_TYPE=RelWithDebInfo -DLOOKOUT_SANITIZE=ON

build-asan: $(ASAN_BUILD)/CMakeCache.txt
	cmake --build $(ASAN_BUILD) -j$(JOBS)

# Every test: the Release build, the same suites under ASan/UBSan (LeakSanitizer
# on), then each fuzz target briefly.
test: setup
	$(MAKE) test-release
	$(MAKE) test-sanitize
	FUZZ_RUNS=100000 FUZZ_RUNS_model=1000000 FUZZ_RUNS_image=20000 FUZZ_RUNS_request=150000 FUZZ_SEED=1 \
	  $(MAKE) fuzz FUZZ_SECONDS=$(FUZZ_CI_SECONDS)

test-release: build
	cd $(BUILD) && ctest --output-on-failure -j$(JOBS)

# ASAN_OPTIONS: leak detection stated (it is ASan's default on Linux; the
# sanitizer tests check a leak is really reported).
test-sanitize: build-asan
	cd $(ASAN_BUILD) && LOOKOUT_SANITIZED=1 ASAN_OPTIONS=detect_leaks=1 ctest --output-on-failure -j$(JOBS)

test-asan: test-sanitize

# libFuzzer targets (clang, build-fuzz/): FUZZ_SECONDS each; see fuzz/run.sh.
fuzz:
	FUZZ_BUILD=$(FUZZ_BUILD) JOBS=$(JOBS) fuzz/run.sh $(FUZZ_SECONDS)

# Not in `make test`: 30 minutes of mixed traffic, RSS and fds sampled, slopes printed.
soak: build
	tests/soak.sh $(SOAK_SECONDS)

# The container image built from scratch and smoke-tested with podman (no
# Docker daemon, no registry; needs root), then deploy/k8s played by `podman
# kube play` and checked, and two replicas sharing one queue. Not part of
# `test`: CI runs both.
test-container:
	scripts/setup --container
	scripts/container-test.sh

bench: setup build
	bench/compare-tflite.sh

# What is in the photos, then the detection service on port 5029 (Ctrl-C stops it).
run: setup build
	$(BUILD)/lookout detect data/small
	$(BUILD)/lookout serve --port 5029

clean:
	rm -rf $(BUILD) $(ASAN_BUILD) $(FUZZ_BUILD)
