// Thread pool: workers spin briefly on a generation counter, then sleep on a condition variable.
#include "core/thread-pool.h"

#include <thread>

#include <algorithm>
#include <fstream>
#include <set>
#include <string>

#if defined(__x86_64__) || defined(__i386__)
#include <immintrin.h>
#define FATHOM_PAUSE() _mm_pause()
#elif defined(__aarch64__)
#define FATHOM_PAUSE() asm volatile("yield")
#else
#define FATHOM_PAUSE() ((void)0)
#endif

namespace fathom {

int physical_core_count() {
    // Count distinct (physical id, core id) pairs from /proc/cpuinfo; fall back to hardware_concurrency.
    std::ifstream in("/proc/cpuinfo");
    std::set<std::pair<int, int>> cores;
    int phys = 0, core = -1;
    std::string line;
    auto value = [](const std::string& l) { return std::atoi(l.substr(l.find(':') + 1).c_str()); };
    while (std::getline(in, line)) {
        if (line.rfind("physical id", 0) == 0) phys = value(line);
        else if (line.rfind("core id", 0) == 0) core = value(line);
        else if (line.empty() && core >= 0) {
            cores.insert({phys, core});
            core = -1;
        }
    }
    if (core >= 0) cores.insert({phys, core});
    int n = int(cores.size());
    if (n <= 0) n = int(std::thread::hardware_concurrency());
    return std::max(1, n);
}

thread_pool::thread_pool(int n_threads) : n_threads_(n_threads > 0 ? n_threads : physical_core_count()) {
    threads_.reserve(size_t(n_threads_ - 1));
    for (int i = 1; i < n_threads_; ++i) threads_.emplace_back([this, i] { worker(i); });
}

thread_pool::~thread_pool() {
    {
        std::lock_guard<std::mutex> lock(mu_);
        stop_ = true;
        generation_.fetch_add(1, std::memory_order_release);
    }
    cv_.notify_all();
    for (auto& t : threads_) t.join();
}

void thread_pool::worker(int index) {
    uint64_t seen = 0;
    for (;;) {
        uint64_t g = generation_.load(std::memory_order_acquire);
        for (int spin = 0; g == seen && spin < 20000; ++spin) {
            FATHOM_PAUSE();
            g = generation_.load(std::memory_order_acquire);
        }
        if (g == seen) {
            std::unique_lock<std::mutex> lock(mu_);
            cv_.wait(lock, [&] { return generation_.load(std::memory_order_acquire) != seen; });
            g = generation_.load(std::memory_order_acquire);
        }
        seen = g;
        if (stop_) return;
        try {
            (*job_)(index, n_threads_);
        } catch (...) {
            keep_error(std::current_exception());
        }
        pending_.fetch_sub(1, std::memory_order_acq_rel);
    }
}

void thread_pool::run(function_ref<void(int, int)> fn) {
    if (n_threads_ == 1) {
        fn(0, 1);
        return;
    }
    job_ = &fn;
    pending_.store(n_threads_ - 1, std::memory_order_release);
    {
        std::lock_guard<std::mutex> lock(mu_);
        generation_.fetch_add(1, std::memory_order_release);
    }
    cv_.notify_all();
    try {
        fn(0, n_threads_);
    } catch (...) {
        keep_error(std::current_exception());
    }
    // Spin briefly, then yield the core: when the machine is oversubscribed a worker may be descheduled, and
    // spinning out the caller's whole time slice would keep it off this core.
    for (int spin = 0; pending_.load(std::memory_order_acquire) != 0; ++spin) {
        if (spin < 2048) FATHOM_PAUSE();
        else std::this_thread::yield();
    }
    job_ = nullptr;
    // Every thread has finished with fn: an exception from any of them (the first one) goes to the caller.
    if (!has_error_.load(std::memory_order_acquire)) return;
    std::exception_ptr e;
    {
        std::lock_guard<std::mutex> lock(err_mu_);
        std::swap(e, error_);
        has_error_.store(false, std::memory_order_relaxed);
    }
    std::rethrow_exception(e);
}

void thread_pool::keep_error(std::exception_ptr e) {
    std::lock_guard<std::mutex> lock(err_mu_);
    if (!error_) error_ = std::move(e);
    has_error_.store(true, std::memory_order_release);
}

void thread_pool::parallel_for(int64_t n, int64_t grain, function_ref<void(int64_t, int64_t, int)> fn) {
    if (n <= 0) return;
    grain = std::max<int64_t>(1, grain);
    if (n_threads_ == 1 || n <= grain) {
        fn(0, n, 0);
        return;
    }
    // Chunks: about 4 per thread, but no smaller than grain.
    int64_t chunk = std::max(grain, (n + 4 * n_threads_ - 1) / (4 * n_threads_));
    std::atomic<int64_t> next{0};
    run([&](int t, int) {
        for (;;) {
            int64_t b = next.fetch_add(chunk, std::memory_order_relaxed);
            if (b >= n) break;
            fn(b, std::min(n, b + chunk), t);
        }
    });
}

void thread_pool::parallel_for_static(int64_t n, function_ref<void(int64_t, int64_t, int)> fn) {
    if (n <= 0) return;
    if (n_threads_ == 1) {
        fn(0, n, 0);
        return;
    }
    run([&](int t, int nt) {
        int64_t b = n * t / nt, e = n * (t + 1) / nt;
        if (b < e) fn(b, e, t);
    });
}

}  // namespace fathom
