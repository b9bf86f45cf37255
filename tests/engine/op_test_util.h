// Helpers the one-op tests share: the message prepare throws, and a
// substring check that prints both strings when it fails.
#pragma once

#include <gtest/gtest.h>

#include <string>

#include "engine/engine.h"
#include "engine/op_fixture.h"

namespace lookout::engine::testing {

// The message prepare throws, empty when the op is accepted.
inline std::string prepare_error(OpFixture& f) {
  try {
    f.prepare_only();
  } catch (const Error& e) {
    return e.what();
  }
  return {};
}

inline ::testing::AssertionResult contains(const std::string& text, const std::string& part) {
  if (text.find(part) != std::string::npos) return ::testing::AssertionSuccess();
  return ::testing::AssertionFailure() << "'" << text << "' does not contain '" << part << "'";
}

}  // namespace lookout::engine::testing
