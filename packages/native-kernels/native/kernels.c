/*
 * Native float32 kernels for promptkd's TensorFlow.js wasm backend: GEMM (oneDNN, OpenBLAS or the built-in SGEMM of
 * sgemm.c) and NHWC convolution forward,
 * input-gradient and filter-gradient (im2col / col2im + GEMM). Every function works IN PLACE on the wasm heap: the
 * caller passes the heap as a Float32Array plus element offsets, so no tensor is copied between JS and C.
 */
#include <node_api.h>
#ifdef PROMPTKD_HAVE_OPENBLAS
#include <cblas.h>
#endif
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "napi_args.h"
#include "onednn_conv.h"
#include "onednn_matmul.h"
#include "sgemm.h"
#include "shared_loops.h"

#ifdef PROMPTKD_HAVE_OPENBLAS
extern void openblas_set_num_threads(int);
extern int openblas_get_num_threads(void);
#endif

#define CHECK(call)                                                                                   \
  do {                                                                                                \
    if ((call) != napi_ok) {                                                                          \
      napi_throw_error(env, "PROMPTKD_NATIVE", "promptkd native: N-API call failed: " #call);         \
      return NULL;                                                                                    \
    }                                                                                                 \
  } while (0)

/* Largest im2col buffer per chunk, in floats (4 MiB: stays in cache; measured best of 64K..8M floats). */
#define COL_CHUNK_FLOATS (1024 * 1024)

/*
 * gemm(heap, batch, M, N, K, transA, transB, aOffs, bOffs, cOffs)
 * C[i] = op(A[i]) @ op(B[i]) for i < batch; offsets (in floats) per batch entry in Int32Arrays; row-major, dense.
 */
static int threads_now(void) {
  extern int omp_get_max_threads(void);
  return omp_get_max_threads();
}

/*
 * What runs GEMMs and convolutions (setEngine switches): oneDNN (when built with it), or the im2col/col2im
 * convolutions below on OpenBLAS's SGEMM (when built with it) or on the built-in one. Default: the first of these
 * the build has. GEMMs and convolutions oneDNN declines run on OpenBLAS when built with it, else built-in.
 */
enum { ENGINE_ONEDNN, ENGINE_OPENBLAS, ENGINE_BUILTIN };
static int engine_now = -1;

static int have_openblas(void) {
#ifdef PROMPTKD_HAVE_OPENBLAS
  return 1;
#else
  return 0;
#endif
}

#define use_onednn (engine_now == ENGINE_ONEDNN)

/* Row-major C = alpha·op(A)·op(B) + beta·C on oneDNN's SGEMM (engine oneDNN), OpenBLAS or the built-in SGEMM. */
static void sgemm_rm(int ta, int tb, int64_t m, int64_t n, int64_t k, float alpha, const float *a, int64_t lda, const float *b, int64_t ldb,
                     float beta, float *c, int64_t ldc) {
  if (use_onednn && promptkd_onednn_sgemm(ta, tb, m, n, k, alpha, a, lda, b, ldb, beta, c, ldc)) return;
#ifdef PROMPTKD_HAVE_OPENBLAS
  if (engine_now != ENGINE_BUILTIN) {
    cblas_sgemm(CblasRowMajor, ta ? CblasTrans : CblasNoTrans, tb ? CblasTrans : CblasNoTrans, (int)m, (int)n, (int)k, alpha, a, (int)lda, b,
                (int)ldb, beta, c, (int)ldc);
    return;
  }
#endif
  promptkd_sgemm(ta, tb, m, n, k, alpha, a, lda, b, ldb, beta, c, ldc);
}

/*
 * Row-major C = alpha·op(A)·op(B) + beta·C on the calling thread, for work items inside a parallel region
 * (transformer_block.c): oneDNN's SGEMM (engine oneDNN) or the built-in one — never OpenBLAS, whose pthread build would
 * start threads of its own under OpenMP's.
 */
void promptkd_thread_sgemm(int ta, int tb, int64_t m, int64_t n, int64_t k, float alpha, const float *a, int64_t lda, const float *b, int64_t ldb,
                           float beta, float *c, int64_t ldc) {
  if (use_onednn && promptkd_onednn_sgemm(ta, tb, m, n, k, alpha, a, lda, b, ldb, beta, c, ldc)) return;
  promptkd_sgemm(ta, tb, m, n, k, alpha, a, lda, b, ldb, beta, c, ldc);
}

/* Threads of one SGEMM call (OpenBLAS's and the built-in one's). */
static int blas_threads(void) {
#ifdef PROMPTKD_HAVE_OPENBLAS
  if (engine_now != ENGINE_BUILTIN) return openblas_get_num_threads();
#endif
  return promptkd_sgemm_get_threads();
}

static void set_blas_threads(int n) {
#ifdef PROMPTKD_HAVE_OPENBLAS
  openblas_set_num_threads(n);
#endif
  promptkd_sgemm_set_threads(n);
}

/* The stride between consecutive offsets when they are evenly spaced (0 for one shared operand), else -1. */
static int64_t even_stride(const int32_t *offs, int64_t batch) {
  const int64_t s = batch > 1 ? (int64_t)offs[1] - offs[0] : 0;
  for (int64_t i = 2; i < batch; i++)
    if ((int64_t)offs[i] - offs[i - 1] != s) return -1;
  return s;
}

/*
 * Products of at most this many multiply-adds skip the built-in SGEMM's packing, whose fixed cost dominates tiny
 * products: an attention head's 17×19×16 product took 5 µs packed (256 of them, the KDP student's: 1.3 ms).
 */
#define GEMM_TINY (1 << 16)

/* Row-major C = op(A)·op(B) by plain loops, each entry summed over the depth in order (built-in engine, tiny products). */
static void tiny_gemm(int ta, int tb, int64_t m, int64_t n, int64_t k, const float *a, int64_t lda, const float *b, int64_t ldb, float *c,
                      int64_t ldc) {
  for (int64_t i = 0; i < m; i++) {
    float *ci = c + i * ldc;
    if (tb) {
      /* B stored [n, k]: one dot product per entry */
      for (int64_t j = 0; j < n; j++) {
        const float *bj = b + j * ldb;
        float acc = 0.0f;
        for (int64_t p = 0; p < k; p++) acc += (ta ? a[p * lda + i] : a[i * lda + p]) * bj[p];
        ci[j] = acc;
      }
    } else {
      /* B stored [k, n]: rows of B scaled into the row of C, depth in order */
      for (int64_t j = 0; j < n; j++) ci[j] = 0.0f;
      for (int64_t p = 0; p < k; p++) {
        const float aip = ta ? a[p * lda + i] : a[i * lda + p];
        const float *bp = b + p * ldb;
        for (int64_t j = 0; j < n; j++) ci[j] += aip * bp[j];
      }
    }
  }
}

/* Products of at most this many multiply-adds run whole on one thread when there are enough of them. */
#define GEMM_SMALL (1 << 22)

static napi_value gemm(napi_env env, napi_callback_info info) {
  napi_value a[10];
  float *heap;
  size_t len, na, nb, nc;
  const int32_t *ao, *bo, *co;
  int64_t dims[4];
  bool ta, tb;
  if (!args_of(env, info, 10, a, "gemm") || !heap_arg(env, a[0], &heap, &len) || !int_args(env, a + 1, 4, dims)) return NULL;
  const int64_t batch = dims[0], M = dims[1], N = dims[2], K = dims[3];
  if (napi_get_value_bool(env, a[5], &ta) != napi_ok || napi_get_value_bool(env, a[6], &tb) != napi_ok) {
    napi_throw_type_error(env, PROMPTKD_CODE, "promptkd native: gemm transpose flags must be booleans");
    return NULL;
  }
  if (!i32_array_arg(env, a[7], &ao, &na) || !i32_array_arg(env, a[8], &bo, &nb) || !i32_array_arg(env, a[9], &co, &nc)) return NULL;
  if ((int64_t)na < batch || (int64_t)nb < batch || (int64_t)nc < batch) {
    napi_throw_range_error(env, PROMPTKD_CODE, "promptkd native: fewer offsets than batch entries");
    return NULL;
  }
  for (int64_t i = 0; i < batch; i++) {
    if (!heap_range_ok(env, len, ao[i], M * K) || !heap_range_ok(env, len, bo[i], K * N) || !heap_range_ok(env, len, co[i], M * N)) return NULL;
  }
  if (use_onednn && batch > 0) {
    /* oneDNN takes evenly spaced dense operands, one shared A or B included (tf.matMul's batch broadcast). */
    const int64_t sa = even_stride(ao, batch), sb = even_stride(bo, batch), sc = even_stride(co, batch);
    if ((sa == 0 || sa == M * K) && (sb == 0 || sb == K * N) && (sc == M * N || batch == 1)) {
      const char *err = "promptkd native: oneDNN matmul failed";
      const int r = promptkd_onednn_matmul(batch, M, N, K, ta, tb, sa, sb, heap + ao[0], heap + bo[0], heap + co[0], &err);
      if (r < 0) napi_throw_error(env, PROMPTKD_CODE, err);
      if (r != 0) return NULL;
    }
  }
  const int tiny = engine_now == ENGINE_BUILTIN && M * N * K <= GEMM_TINY;
#define GEMM_ONE(i)                                                                                      \
  (tiny ? tiny_gemm(ta, tb, M, N, K, heap + ao[i], ta ? M : K, heap + bo[i], tb ? K : N, heap + co[i], N) \
        : sgemm_rm(ta, tb, M, N, K, 1.0f, heap + ao[i], ta ? M : K, heap + bo[i], tb ? K : N, 0.0f, heap + co[i], N))
  /* Many small products (attention heads): whole products per thread with single-threaded SGEMM, one fork/join
   * per call instead of OpenBLAS's per product. OpenBLAS splits M and N, never K, so every entry is summed in the
   * same order either way. */
  if (batch >= 2 * threads_now() && M * N * K <= GEMM_SMALL) {
    const int nt_blas = blas_threads();
    set_blas_threads(1);
#pragma omp parallel for schedule(static)
    for (int64_t i = 0; i < batch; i++) GEMM_ONE(i);
    set_blas_threads(nt_blas);
  } else {
    for (int64_t i = 0; i < batch; i++) GEMM_ONE(i);
  }
#undef GEMM_ONE
  return NULL;
}

typedef struct {
  int64_t n, h, w, ci, co, kh, kw, sh, sw, dh, dw, pt, pl, ho, wo;
} ConvGeom;

/* col[r - r0, (ky*kw + kx)*ci + c] for output rows r in [r0, r1) (r = (n*ho + oy)*wo + ox). */
static void im2col(const ConvGeom *g, const float *x, float *col, int64_t r0, int64_t r1) {
  const int64_t K = g->kh * g->kw * g->ci;
#pragma omp parallel for schedule(static)
  for (int64_t r = r0; r < r1; r++) {
    const int64_t ox = r % g->wo, oy = (r / g->wo) % g->ho, n = r / (g->wo * g->ho);
    float *dst = col + (r - r0) * K;
    for (int64_t ky = 0; ky < g->kh; ky++) {
      const int64_t iy = oy * g->sh - g->pt + ky * g->dh;
      for (int64_t kx = 0; kx < g->kw; kx++) {
        const int64_t ix = ox * g->sw - g->pl + kx * g->dw;
        float *d = dst + (ky * g->kw + kx) * g->ci;
        if (iy < 0 || iy >= g->h || ix < 0 || ix >= g->w) {
          memset(d, 0, sizeof(float) * g->ci);
        } else {
          memcpy(d, x + ((n * g->h + iy) * g->w + ix) * g->ci, sizeof(float) * g->ci);
        }
      }
    }
  }
}

/* dx[n, iy, ix, c] += dcol[...] for rows [r0, r1); parallel over images so no two threads write one pixel. */
static void col2im(const ConvGeom *g, const float *dcol, float *dx, int64_t r0, int64_t r1) {
  const int64_t K = g->kh * g->kw * g->ci, per = g->ho * g->wo;
  const int64_t n0 = r0 / per, n1 = (r1 + per - 1) / per;
#pragma omp parallel for schedule(static)
  for (int64_t n = n0; n < n1; n++) {
    int64_t lo = n * per < r0 ? r0 : n * per, hi = (n + 1) * per > r1 ? r1 : (n + 1) * per;
    for (int64_t r = lo; r < hi; r++) {
      const int64_t ox = r % g->wo, oy = (r / g->wo) % g->ho;
      const float *src = dcol + (r - r0) * K;
      for (int64_t ky = 0; ky < g->kh; ky++) {
        const int64_t iy = oy * g->sh - g->pt + ky * g->dh;
        if (iy < 0 || iy >= g->h) continue;
        for (int64_t kx = 0; kx < g->kw; kx++) {
          const int64_t ix = ox * g->sw - g->pl + kx * g->dw;
          if (ix < 0 || ix >= g->w) continue;
          float *d = dx + ((n * g->h + iy) * g->w + ix) * g->ci;
          const float *s = src + (ky * g->kw + kx) * g->ci;
          for (int64_t c = 0; c < g->ci; c++) d[c] += s[c];
        }
      }
    }
  }
}

/* im2col chunk size in floats; settable for tests (setConvChunk) so that small shapes take every path. */
static int64_t chunk_floats = COL_CHUNK_FLOATS;

static int pointwise(const ConvGeom *g) {
  return g->kh == 1 && g->kw == 1 && g->sh == 1 && g->sw == 1 && g->pt == 0 && g->pl == 0 && g->ho == g->h && g->wo == g->w;
}

static int64_t chunk_rows(const ConvGeom *g) {
  const int64_t K = g->kh * g->kw * g->ci;
  int64_t rows = chunk_floats / (K > 0 ? K : 1);
  return rows < 1 ? 1 : rows;
}

/* Runs one convolution on oneDNN when selected: 1 done, 0 declined (use im2col), -1 failed with a JS error thrown. */
static int try_onednn(napi_env env, int kind, const ConvGeom *g, float *x, float *w, float *y) {
  if (!use_onednn) return 0;
  const char *err = "promptkd native: oneDNN convolution failed";
  const int r = promptkd_onednn_conv(kind, (const int64_t *)g, x, w, y, &err);
  if (r < 0) napi_throw_error(env, PROMPTKD_CODE, err);
  return r;
}

/* Parses (heap, 15 geometry ints, off0, off1, off2) and checks the three tensors lie in the heap. */
static int conv_args(napi_env env, napi_callback_info info, float **heap, ConvGeom *g, int64_t offs[3]) {
  napi_value a[19];
  size_t len;
  if (!args_of(env, info, 19, a, "conv") || !heap_arg(env, a[0], heap, &len) || !int_args(env, a + 1, 15, (int64_t *)g) || !int_args(env, a + 16, 3, offs))
    return 0;
  const int64_t xs = g->n * g->h * g->w * g->ci, ws = g->kh * g->kw * g->ci * g->co, ys = g->n * g->ho * g->wo * g->co;
  return heap_range_ok(env, len, offs[0], xs) && heap_range_ok(env, len, offs[1], ws) && heap_range_ok(env, len, offs[2], ys);
}

/*
 * Work split of the convolutions: when there are at least two chunks per thread, each OpenMP thread runs whole
 * chunks (im2col into its own buffer, then a single-threaded SGEMM), so a chunk stays in that core's cache and
 * there is one fork/join per call; otherwise chunks run one after another with a threaded SGEMM (oneDNN's on the
 * oneDNN engine, OpenBLAS's or the built-in one otherwise).
 */

static int per_thread(int64_t chunks) {
  const int t = threads_now();
  return t > 1 && chunks >= 2 * t;
}

/* Runs `body` over chunks [0, chunks) as described above; `body` gets (chunk, buffer, single_threaded). */
#define FOR_CHUNKS(chunks, buf_floats, ...)                                                            \
  do {                                                                                                  \
    int failed = 0;                                                                                     \
    if (per_thread(chunks)) {                                                                           \
      const int nt_blas = blas_threads();                                                               \
      set_blas_threads(1);                                                                              \
      _Pragma("omp parallel") {                                                                         \
        float *buf = (float *)malloc(sizeof(float) * (size_t)(buf_floats));                             \
        if (!buf) {                                                                                     \
          _Pragma("omp atomic write") failed = 1;                                                       \
        } else {                                                                                        \
          _Pragma("omp for schedule(static)") for (int64_t c = 0; c < (chunks); c++) { __VA_ARGS__ }           \
          free(buf);                                                                                    \
        }                                                                                               \
      }                                                                                                 \
      set_blas_threads(nt_blas);                                                                        \
    } else {                                                                                            \
      float *buf = (float *)malloc(sizeof(float) * (size_t)(buf_floats));                               \
      if (!buf) {                                                                                       \
        failed = 1;                                                                                     \
      } else {                                                                                          \
        for (int64_t c = 0; c < (chunks); c++) { __VA_ARGS__ }                                                 \
        free(buf);                                                                                      \
      }                                                                                                 \
    }                                                                                                   \
    if (failed) {                                                                                       \
      napi_throw_error(env, "PROMPTKD_NATIVE", "promptkd native: out of memory for a convolution buffer"); \
      return NULL;                                                                                      \
    }                                                                                                   \
  } while (0)

/* conv2d(heap, geom..., xOff, wOff, yOff): y = conv(x, w), NHWC, filter [kh, kw, ci, co]. */
static napi_value conv2d(napi_env env, napi_callback_info info) {
  float *heap;
  ConvGeom g;
  int64_t o[3];
  if (!conv_args(env, info, &heap, &g, o)) return NULL;
  if (try_onednn(env, PROMPTKD_CONV_FORWARD, &g, heap + o[0], heap + o[1], heap + o[2])) return NULL;
  const float *x = heap + o[0], *w = heap + o[1];
  float *y = heap + o[2];
  const int64_t K = g.kh * g.kw * g.ci, R = g.n * g.ho * g.wo;
  if (pointwise(&g)) {
    sgemm_rm(0, 0, R, g.co, K, 1.0f, x, K, w, g.co, 0.0f, y, g.co);
    return NULL;
  }
  const int64_t step = chunk_rows(&g), chunks = (R + step - 1) / step;
  FOR_CHUNKS(chunks, (step < R ? step : R) * K, {
    const int64_t r0 = c * step, r1 = r0 + step < R ? r0 + step : R;
    im2col(&g, x, buf, r0, r1);
    sgemm_rm(0, 0, r1 - r0, g.co, K, 1.0f, buf, K, w, g.co, 0.0f, y + r0 * g.co, g.co);
  });
  return NULL;
}

/* conv2dBackpropInput(heap, geom..., dxOff, wOff, dyOff): dx = col2im(dy @ wᵀ), chunked by whole images. */
static napi_value conv2d_backprop_input(napi_env env, napi_callback_info info) {
  float *heap;
  ConvGeom g;
  int64_t o[3];
  if (!conv_args(env, info, &heap, &g, o)) return NULL;
  if (try_onednn(env, PROMPTKD_CONV_BACKWARD_INPUT, &g, heap + o[0], heap + o[1], heap + o[2])) return NULL;
  float *dx = heap + o[0];
  const float *w = heap + o[1], *dy = heap + o[2];
  const int64_t K = g.kh * g.kw * g.ci, R = g.n * g.ho * g.wo, per = g.ho * g.wo;
  if (pointwise(&g)) {
    sgemm_rm(0, 1, R, K, g.co, 1.0f, dy, g.co, w, g.co, 0.0f, dx, K);
    return NULL;
  }
  /* Whole images per chunk: the col2im scatters of two chunks never touch the same pixel. */
  int64_t imgs = chunk_rows(&g) / (per > 0 ? per : 1);
  if (imgs < 1) imgs = 1;
  const int64_t chunks = (g.n + imgs - 1) / imgs, img_floats = g.h * g.w * g.ci;
  FOR_CHUNKS(chunks, (imgs < g.n ? imgs : g.n) * per * K, {
    const int64_t n0 = c * imgs, n1 = n0 + imgs < g.n ? n0 + imgs : g.n;
    memset(dx + n0 * img_floats, 0, sizeof(float) * (size_t)((n1 - n0) * img_floats));
    sgemm_rm(0, 1, (n1 - n0) * per, K, g.co, 1.0f, dy + n0 * per * g.co, g.co, w, g.co, 0.0f, buf, K);
    col2im(&g, buf, dx, n0 * per, n1 * per);
  });
  return NULL;
}

/* Partial sums of a filter gradient: a fixed number, so that the summation order depends on the shapes only. */
#define FILTER_GROUPS 4

/*
 * conv2dBackpropFilter(heap, geom..., xOff, dwOff, dyOff): dw = im2col(x)ᵀ @ dy. The chunks are split into at most
 * FILTER_GROUPS contiguous groups; each group sums its chunks in chunk order into its own partial sum (group 0 into
 * dw), and the groups' sums are added in group order. The groups depend on the shapes only and SGEMM never splits
 * the depth, so the result is bit-identical for any thread count (threads take whole groups, or one thread runs
 * them in turn with a threaded SGEMM).
 */
static napi_value conv2d_backprop_filter(napi_env env, napi_callback_info info) {
  float *heap;
  ConvGeom g;
  int64_t o[3];
  if (!conv_args(env, info, &heap, &g, o)) return NULL;
  if (try_onednn(env, PROMPTKD_CONV_BACKWARD_FILTER, &g, heap + o[0], heap + o[1], heap + o[2])) return NULL;
  const float *x = heap + o[0], *dy = heap + o[2];
  float *dw = heap + o[1];
  const int64_t K = g.kh * g.kw * g.ci, R = g.n * g.ho * g.wo, WS = K * g.co;
  if (pointwise(&g)) {
    sgemm_rm(1, 0, K, g.co, R, 1.0f, x, K, dy, g.co, 0.0f, dw, g.co);
    return NULL;
  }
  const int64_t step = chunk_rows(&g), chunks = (R + step - 1) / step;
  const int64_t groups = chunks < FILTER_GROUPS ? chunks : FILTER_GROUPS;
  /* Partial sums: group 0 writes dw itself, group i > 0 its own slice of `part`. */
  float *part = groups > 1 ? (float *)calloc((size_t)((groups - 1) * WS), sizeof(float)) : NULL;
  if (groups > 1 && !part) {
    napi_throw_error(env, "PROMPTKD_NATIVE", "promptkd native: out of memory for filter-gradient partial sums");
    return NULL;
  }
  memset(dw, 0, sizeof(float) * (size_t)WS);
  FOR_CHUNKS(groups, (step < R ? step : R) * K, {
    float *acc = c == 0 ? dw : part + (c - 1) * WS;
    for (int64_t k = c * chunks / groups; k < (c + 1) * chunks / groups; k++) {
      const int64_t r0 = k * step, r1 = r0 + step < R ? r0 + step : R;
      im2col(&g, x, buf, r0, r1);
      sgemm_rm(1, 0, K, g.co, r1 - r0, 1.0f, buf, K, dy + r0 * g.co, g.co, 1.0f, acc, g.co);
    }
  });
  for (int64_t i = 1; i < groups; i++) {
    const float *p = part + (i - 1) * WS;
    for (int64_t j = 0; j < WS; j++) dw[j] += p[j];
  }
  free(part);
  return NULL;
}

static napi_value set_threads(napi_env env, napi_callback_info info) {
  napi_value a[1];
  int64_t n;
  if (!args_of(env, info, 1, a, "setThreads") || !int_arg(env, a[0], &n)) return NULL;
  if (n < 1) n = 1;
  set_blas_threads((int)n);
  extern void omp_set_num_threads(int);
  omp_set_num_threads((int)n);
  return NULL;
}

static napi_value set_conv_chunk(napi_env env, napi_callback_info info) {
  napi_value a[1];
  int64_t n;
  if (!args_of(env, info, 1, a, "setConvChunk") || !int_arg(env, a[0], &n)) return NULL;
  chunk_floats = n >= 1 ? n : COL_CHUNK_FLOATS;
  return NULL;
}

/* The engines of this build, by setEngine name; the first is the default. */
static const char *const ENGINE_NAMES[] = {"onednn", "openblas", "builtin"};

static int engine_built(int e) {
  return e == ENGINE_ONEDNN ? promptkd_onednn_available() : e == ENGINE_OPENBLAS ? have_openblas() : 1;
}

static void default_engine(void) {
  if (engine_now < 0) engine_now = engine_built(ENGINE_ONEDNN) ? ENGINE_ONEDNN : engine_built(ENGINE_OPENBLAS) ? ENGINE_OPENBLAS : ENGINE_BUILTIN;
}

/* setEngine("onednn" | "openblas" | "builtin"): what runs GEMMs and convolutions; each but "builtin" needs its library at build time. */
static napi_value set_engine(napi_env env, napi_callback_info info) {
  napi_value a[1];
  char name[16];
  size_t n = 0;
  if (!args_of(env, info, 1, a, "setEngine")) return NULL;
  if (napi_get_value_string_utf8(env, a[0], name, sizeof name, &n) == napi_ok) {
    for (int e = 0; e < 3; e++) {
      if (strcmp(name, ENGINE_NAMES[e]) != 0) continue;
      if (engine_built(e)) {
        engine_now = e;
      } else {
        napi_throw_error(env, PROMPTKD_CODE,
                         e == ENGINE_ONEDNN ? "promptkd native: this build has no oneDNN (apt-get install libdnnl-dev, then npx promptkd-build-native)"
                                            : "promptkd native: this build has no OpenBLAS (apt-get install libopenblas-dev, then npx promptkd-build-native)");
      }
      return NULL;
    }
  }
  napi_throw_range_error(env, PROMPTKD_CODE, "promptkd native: setEngine takes \"onednn\", \"openblas\" or \"builtin\"");
  return NULL;
}

/* engine(): what runs GEMMs and convolutions: "oneDNN x.y.z", "OpenBLAS" or "built-in SGEMM (<instruction set>)". */
static napi_value engine(napi_env env, napi_callback_info info) {
  (void)info;
  napi_value r;
  char text[64];
  if (engine_now == ENGINE_ONEDNN) snprintf(text, sizeof text, "%s", promptkd_onednn_version());
  else if (engine_now == ENGINE_OPENBLAS) snprintf(text, sizeof text, "OpenBLAS");
  else snprintf(text, sizeof text, "built-in SGEMM (%s)", promptkd_sgemm_isa());
  CHECK(napi_create_string_utf8(env, text, NAPI_AUTO_LENGTH, &r));
  return r;
}

/* engines(): the setEngine names this build has, the default first. */
static napi_value engines(napi_env env, napi_callback_info info) {
  (void)info;
  napi_value arr, v;
  uint32_t at = 0;
  CHECK(napi_create_array(env, &arr));
  for (int e = 0; e < 3; e++) {
    if (!engine_built(e)) continue;
    CHECK(napi_create_string_utf8(env, ENGINE_NAMES[e], NAPI_AUTO_LENGTH, &v));
    CHECK(napi_set_element(env, arr, at++, v));
  }
  return arr;
}

static napi_value get_threads(napi_env env, napi_callback_info info) {
  (void)info;
  napi_value r;
  CHECK(napi_create_int32(env, blas_threads(), &r));
  return r;
}

/* Defined in elementwise.c: adds the element-wise, reduction and layout kernels to `exports`. */
napi_value promptkd_register_elementwise(napi_env env, napi_value exports);
/* Defined in fused.c: adds the fused GELU and layer-norm kernels. */
napi_value promptkd_register_fused(napi_env env, napi_value exports);
/* Defined in pooling.c: the max-pool gradient. */
napi_value promptkd_register_pooling(napi_env env, napi_value exports);
/* Defined in batch_norm_train.c: training-mode batch norm, forward and backward. */
napi_value promptkd_register_batch_norm_train(napi_env env, napi_value exports);
/* Defined in optimizers.c: fused Adam and SGD-with-momentum updates. */
napi_value promptkd_register_optimizers(napi_env env, napi_value exports);
/* Defined in attention.c: scaled dot-product attention, forward and backward. */
napi_value promptkd_register_attention(napi_env env, napi_value exports);
/* Defined in coda_attention.c: CODA-Prompt's prompt from a query, forward and backward. */
napi_value promptkd_register_coda_attention(napi_env env, napi_value exports);
/* Defined in qkv_attention.c: multi-head self-attention from a packed qkv tensor, forward and backward. */
napi_value promptkd_register_qkv_attention(napi_env env, napi_value exports);
/* Defined in transformer_block.c: a frozen pre-norm ViT block, forward and backward. */
napi_value promptkd_register_transformer_block(napi_env env, napi_value exports);
/* Defined in channel_affine.c: the per-channel affine map (eval-mode batch norm, optionally ReLU'd) and its gradient. */
napi_value promptkd_register_channel_affine(napi_env env, napi_value exports);

static napi_value init(napi_env env, napi_value exports) {
  napi_property_descriptor props[] = {
      {"gemm", NULL, gemm, NULL, NULL, NULL, napi_default, NULL},
      {"conv2d", NULL, conv2d, NULL, NULL, NULL, napi_default, NULL},
      {"conv2dBackpropInput", NULL, conv2d_backprop_input, NULL, NULL, NULL, napi_default, NULL},
      {"conv2dBackpropFilter", NULL, conv2d_backprop_filter, NULL, NULL, NULL, napi_default, NULL},
      {"setThreads", NULL, set_threads, NULL, NULL, NULL, napi_default, NULL},
      {"getThreads", NULL, get_threads, NULL, NULL, NULL, napi_default, NULL},
      {"setConvChunk", NULL, set_conv_chunk, NULL, NULL, NULL, napi_default, NULL},
      {"setEngine", NULL, set_engine, NULL, NULL, NULL, napi_default, NULL},
      {"engine", NULL, engine, NULL, NULL, NULL, napi_default, NULL},
      {"engines", NULL, engines, NULL, NULL, NULL, napi_default, NULL},
  };
  default_engine();
  napi_define_properties(env, exports, sizeof(props) / sizeof(props[0]), props);
  promptkd_register_elementwise(env, exports);
  promptkd_register_fused(env, exports);
  promptkd_register_pooling(env, exports);
  promptkd_register_optimizers(env, exports);
  promptkd_register_attention(env, exports);
  promptkd_register_transformer_block(env, exports);
  promptkd_register_coda_attention(env, exports);
  promptkd_register_qkv_attention(env, exports);
  promptkd_register_channel_affine(env, exports);
  return promptkd_register_batch_norm_train(env, exports);
}

NAPI_MODULE(NODE_GYP_MODULE_NAME, init)
