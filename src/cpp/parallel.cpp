#include "parallel.hpp"

#include <algorithm>
#include <atomic>
#include <condition_variable>
#include <cstdlib>
#include <exception>
#include <memory>
#include <mutex>
#include <thread>
#include <vector>

#if defined(__linux__)
#include <sched.h>
#include <unistd.h>
#endif

namespace facecore {
namespace {

int default_threads() {
    if (const char* env = std::getenv("FACECORE_NUM_THREADS")) {
        char* end = nullptr;
        const long n = std::strtol(env, &end, 10);
        if (end != env && n > 0) return static_cast<int>(std::min<long>(n, kMaxThreads));
    }
#if defined(__linux__)
    cpu_set_t set;
    if (sched_getaffinity(0, sizeof(set), &set) == 0)
        return std::clamp(CPU_COUNT(&set), 1, kMaxThreads);
#endif
    return std::clamp(static_cast<int>(std::thread::hardware_concurrency()), 1, kMaxThreads);
}

thread_local bool in_worker = false;

// One job at a time: `chunks` pieces handed out through an atomic counter. The caller works
// too, then waits until every piece is done.
class Pool {
  public:
    // Starts up to `workers` threads. A thread the system refuses (RLIMIT_NPROC, cgroup pids
    // limit, no memory for a stack) ends the loop: the pool works with the ones it got. An
    // exception must not escape here, since the vector's destructor would meet joinable
    // threads and std::terminate the process.
    explicit Pool(int workers) : wanted_(workers) {
        threads_.reserve(static_cast<std::size_t>(std::max(0, workers)));
        for (int i = 0; i < workers; ++i) {
            try {
                threads_.emplace_back([this] { loop(); });
            } catch (...) {
                break;
            }
        }
    }
    ~Pool() {
        {
            std::lock_guard<std::mutex> lock(mutex_);
            stop_ = true;
        }
        wake_.notify_all();
        for (auto& t : threads_) t.join();
    }
    int size() const { return static_cast<int>(threads_.size()) + 1; }
    int wanted() const { return wanted_ + 1; }

    void run(std::int64_t chunks, const std::function<void(std::int64_t)>& piece) {
        {
            std::lock_guard<std::mutex> lock(mutex_);
            piece_ = &piece;
            chunks_ = chunks;
            next_.store(0);
            pending_ = chunks;
            error_ = nullptr;
            ++generation_;
        }
        wake_.notify_all();
        work();
        std::unique_lock<std::mutex> lock(mutex_);
        done_.wait(lock, [this] { return pending_ == 0; });
        piece_ = nullptr;
        if (error_) std::rethrow_exception(error_);
    }

  private:
    void work() {
        std::int64_t finished = 0;
        for (std::int64_t i; (i = next_.fetch_add(1)) < chunks_;) {
            try {
                (*piece_)(i);
            } catch (...) {
                std::lock_guard<std::mutex> lock(mutex_);
                if (!error_) error_ = std::current_exception();
            }
            ++finished;
        }
        if (finished) {
            std::lock_guard<std::mutex> lock(mutex_);
            pending_ -= finished;
            if (pending_ == 0) done_.notify_all();
        }
    }
    void loop() {
        in_worker = true;
        std::uint64_t seen = 0;
        for (;;) {
            {
                std::unique_lock<std::mutex> lock(mutex_);
                wake_.wait(lock, [&] { return stop_ || generation_ != seen; });
                if (stop_) return;
                seen = generation_;
                if (!piece_) continue;
            }
            work();
        }
    }

    int wanted_ = 0;
    std::vector<std::thread> threads_;
    std::mutex mutex_;
    std::condition_variable wake_, done_;
    const std::function<void(std::int64_t)>* piece_ = nullptr;
    std::int64_t chunks_ = 0;
    std::atomic<std::int64_t> next_{0};
    std::int64_t pending_ = 0;
    std::exception_ptr error_;
    std::uint64_t generation_ = 0;
    bool stop_ = false;
};

std::mutex config_mutex;  // guards the pointer and the settings below
std::mutex pool_mutex;    // held by the one caller using the pool
std::shared_ptr<Pool> pool;
int requested = 0;  // 0: default
#if defined(__linux__)
pid_t pool_pid = 0;  // a forked child has no workers: it builds a pool of its own
#endif

std::shared_ptr<Pool> get_pool() {
    std::lock_guard<std::mutex> lock(config_mutex);
    const int want = requested > 0 ? requested : default_threads();
#if defined(__linux__)
    if (pool && pool_pid != getpid()) {
        // The threads are gone in the child; leak the parent's object rather than join ghosts.
        new std::shared_ptr<Pool>(pool);
        pool.reset();
    }
#endif
    if (!pool || pool->wanted() != want) {
        pool.reset();
        if (want > 1) {
            try {
                pool = std::make_shared<Pool>(want - 1);
            } catch (...) {  // no memory for the pool object itself: run serially
                pool.reset();
            }
        }
#if defined(__linux__)
        pool_pid = getpid();
#endif
    }
    return pool;
}

}  // namespace

int num_threads() {
    std::lock_guard<std::mutex> lock(config_mutex);
    return requested > 0 ? requested : default_threads();
}

void set_num_threads(int n) {
    std::lock_guard<std::mutex> lock(config_mutex);
    requested = n > 0 ? std::min(n, kMaxThreads) : 0;
}

int pool_threads() {
    std::lock_guard<std::mutex> lock(config_mutex);
    return pool ? pool->size() : 1;
}

void parallel_for(std::int64_t n, std::int64_t grain,
                  const std::function<void(std::int64_t, std::int64_t)>& body,
                  int chunks_per_thread) {
    if (n <= 0) return;
    grain = std::max<std::int64_t>(1, grain);
    const int threads = num_threads();
    if (threads <= 1 || n <= grain || in_worker) {
        body(0, n);
        return;
    }
    std::unique_lock<std::mutex> busy(pool_mutex, std::try_to_lock);
    if (!busy.owns_lock()) {  // another Python thread is using the pool: work alone
        body(0, n);
        return;
    }
    std::shared_ptr<Pool> p = get_pool();
    if (!p || p->size() == 1) {  // no worker could be started: the caller does it all
        body(0, n);
        return;
    }
    // A few chunks per thread balance uneven rows; never smaller than `grain`.
    const std::int64_t chunks = std::min<std::int64_t>(
        (n + grain - 1) / grain, std::int64_t{std::max(1, chunks_per_thread)} * p->size());
    const std::int64_t step = (n + chunks - 1) / chunks;
    const std::int64_t used = (n + step - 1) / step;
    p->run(used, [&](std::int64_t i) {
        const std::int64_t begin = i * step;
        body(begin, std::min(n, begin + step));
    });
}

}  // namespace facecore
