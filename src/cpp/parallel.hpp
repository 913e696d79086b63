// parallel_for over a fixed pool of worker threads, without Python and without OpenMP
// (libgomp's pool does not survive fork(), which multiprocessing users hit).
#pragma once

#include <cstdint>
#include <functional>

namespace facecore {

// Upper bound of the thread count (set_num_threads and FACECORE_NUM_THREADS are capped to
// it). Rows and items are split into at most 4 chunks a thread, and a thread costs a stack
// (8 MiB of address space by default); beyond 256 threads no kernel gets faster on any
// machine one process can use, while 2000 requested threads exhausted container limits.
constexpr int kMaxThreads = 256;

// Threads that parallel_for uses, the caller included (>= 1), as configured.
int num_threads();
// Set the pool size; n <= 0 restores the default (FACECORE_NUM_THREADS, else the CPUs this
// process may run on); n > kMaxThreads is capped. When the system refuses to start a
// thread, the pool runs with the threads it got (never an abort): see pool_threads().
void set_num_threads(int n);
// Threads of the pool actually started, the caller included (1 before the first parallel call).
int pool_threads();

// Calls body(begin, end) on disjoint chunks that cover [0, n). The partition depends only on n,
// `grain` and the thread count, so results that depend on it are deterministic. Runs serially
// when n is small, when called from a worker, or while another caller holds the pool (so
// concurrent Python threads never wait on each other and never deadlock).
// `chunks_per_thread` caps the pieces: few keep contiguous runs (streaming kernels), more
// balance items of uneven cost and a thread that the OS delays on a loaded machine.
void parallel_for(std::int64_t n, std::int64_t grain,
                  const std::function<void(std::int64_t, std::int64_t)>& body,
                  int chunks_per_thread = 4);

}  // namespace facecore
