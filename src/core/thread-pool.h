// Persistent thread pool with a blocking parallel-for; the calling thread takes part as worker 0.
#pragma once
#include <atomic>
#include <condition_variable>
#include <cstdint>
#include <exception>
#include <mutex>
#include <thread>
#include <type_traits>
#include <utility>
#include <vector>

namespace fathom {

// Non-owning callable reference (no allocation on the hot path).
template <class Sig> class function_ref;
template <class R, class... A> class function_ref<R(A...)> {
public:
    template <class F, class = std::enable_if_t<!std::is_same_v<std::decay_t<F>, function_ref>>>
    function_ref(F&& f) noexcept  // NOLINT(google-explicit-constructor)
        : obj_(const_cast<void*>(static_cast<const void*>(&f))),
          call_([](void* o, A... a) -> R { return (*static_cast<std::remove_reference_t<F>*>(o))(std::forward<A>(a)...); }) {}
    R operator()(A... a) const { return call_(obj_, std::forward<A>(a)...); }

private:
    void* obj_;
    R (*call_)(void*, A...);
};

// Physical cores of this machine (falls back to logical CPUs when topology is unknown).
int physical_core_count();

class thread_pool {
public:
    // n_threads <= 0 means physical_core_count().
    explicit thread_pool(int n_threads = 0);
    ~thread_pool();
    thread_pool(const thread_pool&) = delete;
    thread_pool& operator=(const thread_pool&) = delete;

    int size() const { return n_threads_; }

    // Runs fn(thread_index, n_threads) once on every thread (index 0 = caller) and waits for all. An exception thrown
    // by fn on any thread is rethrown here (the first one) after every thread has finished.
    void run(function_ref<void(int, int)> fn);

    // Splits [0, n) into contiguous chunks of at least `grain` items, handed out dynamically;
    // fn(begin, end, thread_index). Waits for completion. Must not be called re-entrantly from inside fn.
    void parallel_for(int64_t n, int64_t grain, function_ref<void(int64_t, int64_t, int)> fn);

    // Static even split of [0, n) over the threads: thread i gets one contiguous range (possibly empty).
    void parallel_for_static(int64_t n, function_ref<void(int64_t, int64_t, int)> fn);

private:
    void worker(int index);

    int n_threads_;
    std::vector<std::thread> threads_;
    std::mutex mu_;
    std::condition_variable cv_;
    std::atomic<uint64_t> generation_{0};
    std::atomic<int> pending_{0};
    bool stop_ = false;
    function_ref<void(int, int)>* job_ = nullptr;
    std::mutex err_mu_;
    std::exception_ptr error_;
    std::atomic<bool> has_error_{false};
    void keep_error(std::exception_ptr e);
};

}  // namespace fathom
