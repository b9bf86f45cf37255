// What the build tells a test that runs the real `lookout` binary: its path
// (LOOKOUT_BINARY) and the repository (LOOKOUT_SOURCE_DIR, where the default
// model and photo paths are relative to).
#pragma once

#ifndef LOOKOUT_BINARY
#error "LOOKOUT_BINARY (the path of the lookout binary) must be defined by the build"
#endif
#ifndef LOOKOUT_SOURCE_DIR
#define LOOKOUT_SOURCE_DIR "."
#endif
