// How many threads a process should run. Here in detect/ because it is the
// lowest layer that server, client and cli all build on, and a detector per
// core is what the count is for.
#pragma once

namespace lookout::detect {

// The cores this process may run on (its affinity mask; a container's CPU
// set counts, the machine's other cores do not).
int available_cores();

}  // namespace lookout::detect
