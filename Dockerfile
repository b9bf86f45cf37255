# Lookout's detection service as a container image: `lookout serve` on port
# 5029, configured through LOOKOUT_* environment variables (every flag of
# `lookout serve --help` has one). Build from the repository root after
# scripts/setup has fetched the model into models/:
#   scripts/container-build.sh            (docker or podman)
# Run:
#   scripts/container-run.sh              (or: docker run -p 5029:5029 lookout)

# ---- build: only the `lookout` target, in Release ---------------------------
FROM debian:bookworm AS build
RUN apt-get update \
 && DEBIAN_FRONTEND=noninteractive apt-get install -y --no-install-recommends \
      cmake g++ make pkg-config flatbuffers-compiler libflatbuffers-dev \
      libxnnpack-dev libpthreadpool-dev libcpuinfo-dev libturbojpeg0-dev libspng-dev \
      libcpp-httplib-dev libssl-dev nlohmann-json3-dev libcli11-dev \
      libgtest-dev libgmock-dev \
 && rm -rf /var/lib/apt/lists/*
# (CMakeLists.txt declares the test and fuzz-replay targets too, hence gtest,
# tests/ and fuzz/. web/ is the UI compiled into the server; Chart.js, from
# npm via scripts/setup, is compiled in for `lookout report`.)
WORKDIR /src
COPY CMakeLists.txt ./
COPY cmake cmake
COPY src src
COPY web web
COPY tests tests
COPY fuzz fuzz
COPY tools tools
COPY node_modules/chart.js/dist/chart.umd.js node_modules/chart.js/LICENSE.md node_modules/chart.js/dist/
RUN cmake -S . -B build -DCMAKE_BUILD_TYPE=Release \
 && cmake --build build -j"$(nproc)" --target lookout \
 && strip build/lookout
# The Debian packages that own the shared libraries the binary loads: the
# runtime stage installs exactly these.
RUN ldd build/lookout | awk '$2 == "=>" && $3 ~ /^\// { print $3 }' \
  | while read -r lib; do dpkg-query -S "$lib" 2>/dev/null || dpkg-query -S "*/${lib##*/}"; done \
  | sed 's/: .*//' | sort -u > runtime-packages.txt \
 && cat runtime-packages.txt

# ---- runtime: the binary, its libraries, the model ---------------------------
FROM debian:bookworm-slim
COPY --from=build /src/runtime-packages.txt /tmp/
# curl only for the HEALTHCHECK below.
RUN apt-get update \
 && DEBIAN_FRONTEND=noninteractive apt-get install -y --no-install-recommends \
      $(cat /tmp/runtime-packages.txt) curl \
 && rm -rf /var/lib/apt/lists/* /var/cache/apt/archives/*.deb /tmp/runtime-packages.txt \
 && groupadd --gid 10001 lookout \
 && useradd --uid 10001 --gid 10001 --home-dir /nonexistent --no-create-home --shell /usr/sbin/nologin lookout
# `lookout` finds models/ next to its bin/ directory.
COPY models/mobilenet_ssd_v2_coco_quant_postprocess.tflite models/coco_labels.txt /opt/lookout/models/
COPY --from=build /src/build/lookout /opt/lookout/bin/lookout
ENV PATH=/opt/lookout/bin:$PATH \
    LOOKOUT_HOST=0.0.0.0 \
    LOOKOUT_PORT=5029 \
    LOOKOUT_LOG_FORMAT=json
WORKDIR /opt/lookout
# A numeric user, so that Kubernetes' runAsNonRoot can verify it.
USER 10001:10001
EXPOSE 5029
# /healthz answers once the server listens; the model loads in a few seconds.
HEALTHCHECK --interval=30s --timeout=5s --start-period=30s --retries=3 \
  CMD curl -fsS -o /dev/null "http://127.0.0.1:${LOOKOUT_PORT}/healthz" || exit 1
ENTRYPOINT ["/opt/lookout/bin/lookout", "serve"]
