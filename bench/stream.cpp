// STREAM-style memory bandwidth probe: copy, triad and read-sum over large float arrays with 1 and 2 threads.
// Usage: bench_stream [--mib N] [--reps R] [--threads 1,2]   (N MiB per array, default 1024; best of R, default 5)
#include <algorithm>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <string>
#include <thread>
#include <vector>

namespace {

struct options {
    size_t mib = 1024;
    int reps = 5;
    std::vector<int> threads = {1, 2};
};

bool parse(int argc, char** argv, options* o) {
    for (int i = 1; i < argc; ++i) {
        std::string a = argv[i];
        if (i + 1 >= argc) return false;
        const char* v = argv[++i];
        if (a == "--mib") {
            o->mib = size_t(std::strtoull(v, nullptr, 10));
            if (o->mib == 0) return false;
        } else if (a == "--reps") {
            o->reps = std::max(1, std::atoi(v));
        } else if (a == "--threads") {
            o->threads.clear();
            for (const char* p = v; *p;) {
                int t = std::atoi(p);
                if (t <= 0) return false;
                o->threads.push_back(t);
                const char* c = std::strchr(p, ',');
                if (!c) break;
                p = c + 1;
            }
        } else {
            return false;
        }
    }
    return true;
}

// Runs fn(begin, end, thread) on n_threads threads over a static split of [0, n); returns seconds.
template <class F> double timed(size_t n, int n_threads, F fn) {
    auto t0 = std::chrono::steady_clock::now();
    std::vector<std::thread> ts;
    for (int t = 1; t < n_threads; ++t)
        ts.emplace_back([&, t] { fn(n * size_t(t) / size_t(n_threads), n * size_t(t + 1) / size_t(n_threads), t); });
    fn(0, n / size_t(n_threads), 0);
    for (auto& t : ts) t.join();
    return std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
}

}  // namespace

int main(int argc, char** argv) {
    options o;
    if (!parse(argc, argv, &o)) {
        std::fprintf(stderr, "usage: %s [--mib N] [--reps R] [--threads 1,2]\n", argv[0]);
        return 2;
    }
    const size_t n = o.mib * (size_t(1) << 20) / sizeof(float);
    float* a = static_cast<float*>(std::aligned_alloc(64, n * sizeof(float)));
    float* b = static_cast<float*>(std::aligned_alloc(64, n * sizeof(float)));
    float* c = static_cast<float*>(std::aligned_alloc(64, n * sizeof(float)));
    if (!a || !b || !c) {
        std::fprintf(stderr, "bench_stream: cannot allocate 3 x %zu MiB\n", o.mib);
        return 1;
    }
    const int max_threads = *std::max_element(o.threads.begin(), o.threads.end());
    // First touch with the widest split, so pages are faulted in before timing.
    timed(n, max_threads, [&](size_t s, size_t e, int) {
        for (size_t i = s; i < e; ++i) {
            a[i] = 1.0f;
            b[i] = 2.0f;
            c[i] = 0.0f;
        }
    });
    std::printf("STREAM-style bandwidth, %zu MiB per array, best of %d (GB/s = 1e9 bytes/s; copy and triad count "
                "bytes read + written, no write-allocate)\n",
                o.mib, o.reps);
    std::printf("%-8s %10s %10s %10s\n", "threads", "copy", "triad", "read-sum");
    const double bytes = double(n) * sizeof(float);
    std::vector<double> sums(size_t(max_threads) * 16);
    for (int nt : o.threads) {
        double best_copy = 1e30, best_triad = 1e30, best_read = 1e30;
        for (int r = 0; r < o.reps; ++r) {
            best_copy = std::min(best_copy, timed(n, nt, [&](size_t s, size_t e, int) {
                                     std::memcpy(c + s, a + s, (e - s) * sizeof(float));
                                 }));
            best_triad = std::min(best_triad, timed(n, nt, [&](size_t s, size_t e, int) {
                                      const float k = 3.0f;
                                      for (size_t i = s; i < e; ++i) a[i] = b[i] + k * c[i];
                                  }));
            best_read = std::min(best_read, timed(n, nt, [&](size_t s, size_t e, int t) {
                                     // Four streams per thread (the range cut in four, read side by side) with
                                     // vector accumulators: one sequential stream per core is limited by how many
                                     // misses a core keeps in flight, not by the memory system, and matmul kernels
                                     // read several weight rows at once.
                                     typedef float v4 __attribute__((vector_size(16)));
                                     const size_t q = (e - s) / 4 / 16 * 16;
                                     const float* p0 = a + s;
                                     const float* p1 = p0 + q;
                                     const float* p2 = p1 + q;
                                     const float* p3 = p2 + q;
                                     v4 s0 = {}, s1 = {}, s2 = {}, s3 = {};
                                     for (size_t i = 0; i < q; i += 4) {
                                         v4 x0, x1, x2, x3;
                                         std::memcpy(&x0, p0 + i, 16);
                                         std::memcpy(&x1, p1 + i, 16);
                                         std::memcpy(&x2, p2 + i, 16);
                                         std::memcpy(&x3, p3 + i, 16);
                                         s0 += x0;
                                         s1 += x1;
                                         s2 += x2;
                                         s3 += x3;
                                     }
                                     v4 v = s0 + s1 + s2 + s3;
                                     double tot = double(v[0]) + v[1] + v[2] + v[3];
                                     for (size_t i = s + 4 * q; i < e; ++i) tot += a[i];
                                     sums[size_t(t) * 16] = tot;
                                 }));
        }
        std::printf("%-8d %10.1f %10.1f %10.1f\n", nt, 2 * bytes / best_copy / 1e9, 3 * bytes / best_triad / 1e9,
                    bytes / best_read / 1e9);
    }
    double check = 0;
    for (double s : sums) check += s;
    std::printf("(checksum %.6g)\n", check);
    std::free(a);
    std::free(b);
    std::free(c);
    return 0;
}
