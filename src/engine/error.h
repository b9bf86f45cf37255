// The engine's one exception type.
#pragma once

#include <stdexcept>

namespace lookout::engine {

// Every refusal (bad model file, unsupported op, bad option) is an Error
// whose message names the thing, the value and the rule broken.
class Error : public std::runtime_error {
 public:
  using std::runtime_error::runtime_error;
};

}  // namespace lookout::engine
