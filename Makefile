# Lookout. `make run` and `make test` set up what is missing (packages, model,
# photos, test tools), build, and run. See README.md.
BUILD      ?= build
ASAN_BUILD ?= build-asan
JOBS       ?= $(shell nproc)
MODEL      := models/mobilenet_ssd_v2_coco_quant_postprocess.tflite

.PHONY: all setup build build-asan test test-release test-asan bench run clean

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

# Every test: the Release build, then the same suites under ASan/UBSan.
test: setup
	$(MAKE) test-release
	$(MAKE) test-asan

test-release: build
	cd $(BUILD) && ctest --output-on-failure -j$(JOBS)

test-asan: build-asan
	cd $(ASAN_BUILD) && LOOKOUT_SANITIZED=1 ctest --output-on-failure -j$(JOBS)

bench: setup build
	bench/compare-tflite.sh

# What is in the photos, then the detection service on port 5029 (Ctrl-C stops it).
run: setup build
	$(BUILD)/lookout detect data/small
	$(BUILD)/lookout serve --port 5029

clean:
	rm -rf $(BUILD) $(ASAN_BUILD)
