// How many threads a process should run and one way to share work among
// them. Here in detect/ because it is the lowest layer that server, client
// and cli all build on, and a detector per core is what the count is for.
#pragma once

#include <cstddef>
#include <functional>

namespace lookout::detect {

// The cores this process may run on (its affinity mask; a container's CPU
// set counts, the machine's other cores do not).
int available_cores();

// Calls body(worker, i) for every i in [0, count), on `workers` threads
// (numbered 0 .. workers-1, worker 0 on the calling thread) that each take
// the next index no one has taken, so a faster worker simply takes more;
// returns when all have finished. body returns false to make every worker
// stop taking indices (those already taken finish). An exception from body
// stops them the same way and is rethrown here, the first one only.
// `start`, when given, runs on each worker's thread before it takes an index
// (to build per-worker state, such as a detector, in parallel); a worker
// whose start returns false takes none and leaves the work to the others.
// workers < 1 counts as 1.
void parallel_for(size_t count, int workers, const std::function<bool(int worker, size_t i)>& body,
                  const std::function<bool(int worker)>& start = {});

}  // namespace lookout::detect
