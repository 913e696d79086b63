// parallel_for over a fixed pool of worker threads, without Python and without OpenMP
// (libgomp's pool does not survive fork(), which multiprocessing users hit).
#pragma once

#include <cstdint>
#include <functional>

namespace facecore {

// Threads that parallel_for uses, the caller included (>= 1).
int num_threads();
// Set the pool size; n <= 0 restores the default (FACECORE_NUM_THREADS, else the CPUs this
// process may run on).
void set_num_threads(int n);

// Calls body(begin, end) on disjoint chunks that cover [0, n). The partition depends only on n,
// `grain` and the thread count, so results that depend on it are deterministic. Runs serially
// when n is small, when called from a worker, or while another caller holds the pool (so
// concurrent Python threads never wait on each other and never deadlock).
void parallel_for(std::int64_t n, std::int64_t grain,
                  const std::function<void(std::int64_t, std::int64_t)>& body);

}  // namespace facecore
