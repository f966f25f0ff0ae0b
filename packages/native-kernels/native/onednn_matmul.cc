/*
 * Batched GEMM on oneDNN's matmul (its AVX-512 brgemm kernels), used by kernels.c's gemm when the addon is built
 * with oneDNN: about 10–15% faster than OpenBLAS on the ViT's projections and twice as fast on batches of small
 * attention products (measured in scripts/bench, 2 threads). Transposes are strides, batch broadcast is a batch
 * dimension of 1; operands stay where they are on the wasm heap. One primitive per shape, kept. Small products
 * run on one thread (CallThreads).
 */
#include "onednn_matmul.h"

#ifdef PROMPTKD_HAVE_ONEDNN
#include "onednn_state.hh"

#include <array>
#include <map>
#include <memory>

namespace {

using dnnl::memory;
using promptkd_onednn::runtime;

struct Plan {
  memory a, b, c;
  dnnl::matmul mm;
};

/* batch, batchA, batchB, M, N, K, transA, transB, threads */
using Key = std::array<int64_t, 9>;
std::map<Key, std::unique_ptr<Plan>> plans;
char error_text[512];

/* Row-major [batch, rows, cols] stored transposed (each matrix as [cols, rows]) when `trans`. */
memory::desc operand(int64_t batch, int64_t rows, int64_t cols, bool trans) {
  const memory::dims dims{batch, rows, cols};
  const memory::dims strides = trans ? memory::dims{rows * cols, 1, rows} : memory::dims{rows * cols, cols, 1};
  return {dims, memory::data_type::f32, strides};
}

std::unique_ptr<Plan> make_plan(const Key &k) {
  auto &rt = runtime();
  const int64_t batch = k[0], ba = k[1], bb = k[2], m = k[3], n = k[4], kk = k[5];
  const auto a_md = operand(ba, m, kk, k[6] != 0), b_md = operand(bb, kk, n, k[7] != 0), c_md = operand(batch, m, n, false);
  auto p = std::make_unique<Plan>();
  p->a = memory(a_md, rt.eng, DNNL_MEMORY_NONE);
  p->b = memory(b_md, rt.eng, DNNL_MEMORY_NONE);
  p->c = memory(c_md, rt.eng, DNNL_MEMORY_NONE);
  p->mm = dnnl::matmul(dnnl::matmul::primitive_desc(dnnl::matmul::desc(a_md, b_md, c_md), rt.eng));
  return p;
}

}  // namespace

extern "C" int promptkd_onednn_matmul(int64_t batch, int64_t m, int64_t n, int64_t k, int trans_a, int trans_b, int64_t stride_a, int64_t stride_b,
                                      const float *a, const float *b, float *c, const char **error) {
  try {
    const promptkd_onednn::CallThreads threads(batch * m * n * k);
    const Key key{batch, stride_a == 0 ? 1 : batch, stride_b == 0 ? 1 : batch, m, n, k, trans_a, trans_b, threads.count()};
    auto it = plans.find(key);
    if (it == plans.end()) {
      if (plans.size() >= promptkd_onednn::kMaxPlans) plans.clear();
      it = plans.emplace(key, make_plan(key)).first;
    }
    Plan &p = *it->second;
    p.a.set_data_handle(const_cast<float *>(a));
    p.b.set_data_handle(const_cast<float *>(b));
    p.c.set_data_handle(c);
    auto &rt = runtime();
    p.mm.execute(rt.stream, {{DNNL_ARG_SRC, p.a}, {DNNL_ARG_WEIGHTS, p.b}, {DNNL_ARG_DST, p.c}});
    rt.stream.wait();
    return 1;
  } catch (const std::exception &e) {
    *error = promptkd_onednn::describe(e, "matmul", error_text, sizeof error_text);
  }
  return -1;
}

/*
 * The GEMMs of the im2col convolutions (geometries oneDNN's convolutions are not given, small filter gradients) on
 * oneDNN's SGEMM rather than OpenBLAS's when both are built: one OpenMP pool for every kernel. OpenBLAS's own pthread
 * pool spins (sched_yield) for a while after each threaded call, next to the OpenMP threads of the oneDNN kernel that
 * follows. On 2 cores, whole training steps with these GEMMs on OpenBLAS and on oneDNN's SGEMM: resnet18-cifar 427–458
 * vs 378–406 ms, kiop-prompt-step 629–645 vs 569–585 ms (scripts/bench/README.md, "One pool").
 */
extern "C" int promptkd_onednn_sgemm(int trans_a, int trans_b, int64_t m, int64_t n, int64_t k, float alpha, const float *a, int64_t lda,
                                     const float *b, int64_t ldb, float beta, float *c, int64_t ldc) {
  const auto call = [&] { return dnnl_sgemm(trans_a ? 'T' : 'N', trans_b ? 'T' : 'N', m, n, k, alpha, a, lda, b, ldb, beta, c, ldc) == dnnl_success; };
  if (omp_in_parallel()) return call();  // a per-thread chunk: oneDNN runs it on this thread
  const promptkd_onednn::CallThreads threads(m * n * k);
  return call();
}

#else

extern "C" int promptkd_onednn_sgemm(int, int, int64_t, int64_t, int64_t, float, const float *, int64_t, const float *, int64_t, float, float *,
                                     int64_t) {
  return 0;
}

extern "C" int promptkd_onednn_matmul(int64_t, int64_t, int64_t, int64_t, int, int, int64_t, int64_t, const float *, const float *, float *,
                                      const char **) {
  return 0;
}

#endif
