/* The oneDNN engine and stream shared by promptkd's oneDNN kernels (onednn_conv.cc, onednn_matmul.cc). */
#ifndef PROMPTKD_ONEDNN_STATE_HH
#define PROMPTKD_ONEDNN_STATE_HH
#include <oneapi/dnnl/dnnl.hpp>
#include <omp.h>

#include <cstdio>
#include <cstdlib>
#include <exception>

namespace promptkd_onednn {

struct Runtime {
  dnnl::engine eng{dnnl::engine::kind::cpu, 0};
  dnnl::stream stream{eng};
};

/* Created on first use: the JS thread is the only caller. */
inline Runtime &runtime() {
  static Runtime r;
  return r;
}

/*
 * Work of fewer multiply-adds than this runs on one thread. Waking the other OpenMP threads (asleep between calls:
 * OMP_WAIT_POLICY=PASSIVE) costs about 20 µs a call, more than they save on small products: on 2 cores a
 * 1152×32×32 product alone takes 31 µs on 2 threads and 11 µs on 1, a 1088×64×64 one 44 and 40 µs; in a training
 * step, where the operands come cold from the previous kernel, one thread also wins on the 1088×192×64 products of
 * the KDP student (whole step 32.8 → 28.7 ms, best of 3; the KiOP demo prompt step unchanged; scripts/bench/README.md,
 * "Threads per call"). PROMPTKD_ONE_THREAD_MACS overrides it (0: always all threads).
 */
constexpr int64_t kOneThreadMacs = int64_t{1} << 24;

/* kOneThreadMacs, or PROMPTKD_ONE_THREAD_MACS when set (read once; 0 = always all threads). */
inline int64_t one_thread_macs() {
  static const int64_t v = [] {
    const char *e = std::getenv("PROMPTKD_ONE_THREAD_MACS");
    return e && *e ? std::strtoll(e, nullptr, 10) : kOneThreadMacs;
  }();
  return v;
}

/* The OpenMP thread count for one call of `macs` multiply-adds (one thread for small work), restored on exit. */
class CallThreads {
 public:
  explicit CallThreads(int64_t macs) : all_(omp_get_max_threads()), n_(macs < one_thread_macs() ? 1 : all_) {
    if (n_ != all_) omp_set_num_threads(n_);
  }
  ~CallThreads() {
    if (n_ != all_) omp_set_num_threads(all_);
  }
  CallThreads(const CallThreads &) = delete;
  CallThreads &operator=(const CallThreads &) = delete;
  /* Threads this call runs on: part of every plan key, since implementations choose their work split at creation. */
  int count() const { return n_; }

 private:
  int all_, n_;
};

/* Plans kept at most per kernel (a training run uses a few dozen geometries; eval batches may add some). */
constexpr size_t kMaxPlans = 512;

/* Formats the exception of a failed oneDNN call into `buf` (returned). */
inline const char *describe(const std::exception &e, const char *what, char *buf, size_t size) {
  if (const auto *d = dynamic_cast<const dnnl::error *>(&e))
    std::snprintf(buf, size, "promptkd native: oneDNN %s failed (status %d): %s", what, static_cast<int>(d->status), d->what());
  else
    std::snprintf(buf, size, "promptkd native: oneDNN %s failed: %s", what, e.what());
  return buf;
}

}  // namespace promptkd_onednn
#endif
