/* The oneDNN engine and stream shared by promptkd's oneDNN kernels (onednn_conv.cc, onednn_matmul.cc). */
#ifndef PROMPTKD_ONEDNN_STATE_HH
#define PROMPTKD_ONEDNN_STATE_HH
#include <oneapi/dnnl/dnnl.hpp>
#include <omp.h>

#include <cstdio>
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

/* Threads oneDNN will use; part of every plan key, since implementations choose their work split at creation. */
inline int threads() { return omp_get_max_threads(); }

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
