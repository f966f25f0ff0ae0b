/*
 * Element-wise, reduction and layout kernels of promptkd's native addon (see kernels.c for the conventions): every
 * function works IN PLACE on the wasm heap, passed as a Float32Array, with offsets in elements (4 bytes); nothing
 * is copied between JS and C. All arithmetic is float32.
 *
 * Threads: large loops are split into work items whose boundaries depend only on the shapes (never on the thread
 * count), and OpenMP hands whole items to threads. Reductions sum each item in a fixed order and combine the items'
 * partial results in item order, so every result is bit-identical for any thread count.
 *
 * Vectorisation: the hot loops are compiled three times (AVX-512, AVX2+FMA, baseline x86-64) with GCC's
 * target_clones and the best one is picked at load time; -march=native is never used, so the addon runs on any
 * x86-64. The math functions (exp, erf, log, tanh) are branch-free polynomial approximations the compiler vectorises.
 */
#include <node_api.h>
#include <math.h>
#include <omp.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "mathf.h"
#include "napi_args.h"

#include "clones.h"

/*
 * Elements per parallel work item, and the sizes from which a loop is split over threads. Waking the OpenMP workers
 * costs ~50 µs (they sleep: OMP_WAIT_POLICY=PASSIVE), and a worker that is descheduled by another process delays
 * the whole region, so only loops worth a few hundred µs on one thread are split: memory-bound ones (copies,
 * add/mul, sums) run at ~0.1 ns per element, the transcendental ones (exp, erf, log, tanh) and tiled transposes at
 * ~0.2–0.4 ns.
 */
#define ITEM 16384
#define PAR_MIN_CHEAP (1 << 22)
#define PAR_MIN_COSTLY (1 << 19)
/* The thresholds in use; setParallelThreshold lowers them so that tests take the threaded paths on small shapes. */
static int64_t par_cheap = PAR_MIN_CHEAP, par_costly = PAR_MIN_COSTLY;
/* Rows of a column reduction summed into one partial vector: about COL_BLOCK elements per partial. */
#define COL_BLOCK 16384
#define COL_CHUNK 4096
/* Elements per partial of a row reduction. */
#define ROW_BLOCK 8192
#define MAX_RANK 16


static int bad_arg(napi_env env, const char *msg) {
  napi_throw_range_error(env, PROMPTKD_CODE, msg);
  return 0;
}

static int64_t items_of(int64_t n, int64_t per) { return (n + per - 1) / per; }

/* ------------------------------------------------------------------------------------------ math functions */

/* ln x: Cephes logf polynomial on the mantissa (≤ 2 ulp); denormals scaled up first; log 0 = -inf, log x<0 = NaN. */
static inline float log_f(float x) {
  const int denorm = x < 1.17549435e-38f;
  const float xs = denorm ? x * 8388608.0f : x;
  const int32_t b = f_to_bits(xs);
  float e = (float)(((b >> 23) & 0xff) - 126 - (denorm ? 23 : 0));
  float m = bits_to_f((b & 0x007fffff) | 0x3f000000); /* in [0.5, 1) */
  const int small = m < 0.707106781186547524f;
  e = small ? e - 1.0f : e;
  m = small ? m + m - 1.0f : m - 1.0f;
  const float z = m * m;
  float y = 7.0376836292e-2f;
  y = y * m + -1.1514610310e-1f;
  y = y * m + 1.1676998740e-1f;
  y = y * m + -1.2420140846e-1f;
  y = y * m + 1.4249322787e-1f;
  y = y * m + -1.6668057665e-1f;
  y = y * m + 2.0000714765e-1f;
  y = y * m + -2.4999993993e-1f;
  y = y * m + 3.3333331174e-1f;
  y = y * m * z;
  y = y + -2.12194440e-4f * e;
  y = y + -0.5f * z;
  float v = m + y;
  v = v + 0.693359375f * e;
  v = x == INFINITY ? x : v;
  v = x == 0.0f ? -INFINITY : v;
  return (x < 0.0f || x != x) ? NAN : v;
}

/* tanh(x): Cephes tanhf polynomial for |x| < 0.625, 1 − 2/(e^{2|x|} + 1) with the sign of x above. */
static inline float tanh_f(float x) {
  const float ax = x < 0.0f ? -x : x;
  const float z = x * x;
  float p = -5.70498872745e-3f;
  p = p * z + 2.06390887954e-2f;
  p = p * z + -5.37397155531e-2f;
  p = p * z + 1.33314422036e-1f;
  p = p * z + -3.33332819422e-1f;
  const float smallv = p * z * x + x;
  const float big = 1.0f - 2.0f / (exp_f(ax + ax) + 1.0f);
  const float v = ax < 0.625f ? smallv : (x < 0.0f ? -big : big);
  return x != x ? x : v;
}

/* ------------------------------------------------------------------------------------------ unary */

enum { U_NEG, U_EXP, U_ERF, U_SQRT, U_SQUARE, U_RELU, U_STEP, U_RSQRT, U_LOG, U_SIGMOID, U_TANH, U_ABS, U_RECIPROCAL, U_LEAKY_RELU, U_COUNT };

#define UNARY_LOOP(EXPR)                         \
  for (int64_t i = 0; i < n; i++) {              \
    const float v = x[i];                        \
    y[i] = (EXPR);                               \
  }                                              \
  break;

CLONES static void unary_run(int op, const float *x, float *y, int64_t n, float alpha) {
  switch (op) {
    case U_NEG: UNARY_LOOP(-v)
    case U_EXP: UNARY_LOOP(exp_f(v))
    case U_ERF: UNARY_LOOP(erf_f(v))
    case U_SQRT: UNARY_LOOP(sqrtf(v))
    case U_SQUARE: UNARY_LOOP(v * v)
    case U_RELU: UNARY_LOOP(v < 0.0f ? 0.0f : v)
    case U_STEP: UNARY_LOOP(v != v ? v : (v > 0.0f ? 1.0f : alpha))
    case U_RSQRT: UNARY_LOOP(1.0f / sqrtf(v))
    case U_LOG: UNARY_LOOP(log_f(v))
    case U_SIGMOID: UNARY_LOOP(1.0f / (1.0f + exp_f(-v)))
    case U_TANH: UNARY_LOOP(tanh_f(v))
    case U_ABS: UNARY_LOOP(fabsf(v))
    case U_RECIPROCAL: UNARY_LOOP(1.0f / v)
    case U_LEAKY_RELU: UNARY_LOOP(v < 0.0f ? alpha * v : v)
    default: break;
  }
}

static int costly_unary(int op) { return op == U_EXP || op == U_ERF || op == U_LOG || op == U_SIGMOID || op == U_TANH; }

/* unary(heap, op, n, xOff, yOff, alpha): y[i] = f(x[i]); alpha is Step's value for x ≤ 0 and LeakyRelu's slope. */
static napi_value unary(napi_env env, napi_callback_info info) {
  napi_value a[6];
  float *heap;
  size_t len;
  int64_t v[4];
  double alpha;
  if (!args_of(env, info, 6, a, "unary") || !heap_arg(env, a[0], &heap, &len) || !int_args(env, a + 1, 4, v) || !double_arg(env, a[5], &alpha))
    return NULL;
  const int64_t op = v[0], n = v[1];
  if (op < 0 || op >= U_COUNT) return bad_arg(env, "promptkd native: unknown unary op"), NULL;
  if (!heap_range_ok(env, len, v[2], n) || !heap_range_ok(env, len, v[3], n)) return NULL;
  const float *x = heap + v[2];
  float *y = heap + v[3];
  const int64_t items = items_of(n, ITEM);
  const int par = n >= (costly_unary((int)op) ? par_costly : par_cheap);
#pragma omp parallel for schedule(static) if (par)
  for (int64_t it = 0; it < items; it++) {
    const int64_t lo = it * ITEM, hi = lo + ITEM < n ? lo + ITEM : n;
    unary_run((int)op, x + lo, y + lo, hi - lo, (float)alpha);
  }
  return NULL;
}

/* ------------------------------------------------------------------------------------------ binary */

enum { B_ADD, B_SUB, B_MUL, B_DIV, B_MAX, B_MIN, B_SQDIFF, B_COUNT };
/* How an operand varies over the output collapsed to [outer, inner]. */
enum { M_FULL, M_OUTER, M_INNER, M_SCALAR };

#define BINARY_LOOPS(EXPR)                                   \
  if (av && bv) {                                            \
    for (int64_t i = 0; i < n; i++) {                        \
      const float p = a[i], q = b[i];                        \
      y[i] = (EXPR);                                         \
    }                                                        \
  } else if (av) {                                           \
    const float q = b[0];                                    \
    for (int64_t i = 0; i < n; i++) {                        \
      const float p = a[i];                                  \
      y[i] = (EXPR);                                         \
    }                                                        \
  } else if (bv) {                                           \
    const float p = a[0];                                    \
    for (int64_t i = 0; i < n; i++) {                        \
      const float q = b[i];                                  \
      y[i] = (EXPR);                                         \
    }                                                        \
  } else {                                                   \
    const float p = a[0], q = b[0], r = (EXPR);              \
    for (int64_t i = 0; i < n; i++) y[i] = r;                \
  }                                                          \
  break;

/* y[i] = op(a, b) for i < n; an operand is a vector (av/bv = 1) or the scalar at its pointer. */
CLONES static void binary_row(int op, int64_t n, const float *a, int av, const float *b, int bv, float *y) {
  switch (op) {
    case B_ADD: BINARY_LOOPS(p + q)
    case B_SUB: BINARY_LOOPS(p - q)
    case B_MUL: BINARY_LOOPS(p * q)
    case B_DIV: BINARY_LOOPS(p / q)
    case B_MAX: BINARY_LOOPS((p != p || q != q) ? p + q : (p > q ? p : q))
    case B_MIN: BINARY_LOOPS((p != p || q != q) ? p + q : (p < q ? p : q))
    case B_SQDIFF: BINARY_LOOPS((p - q) * (p - q))
    default: break;
  }
}

static int64_t mode_size(int64_t mode, int64_t outer, int64_t inner) {
  return mode == M_FULL ? outer * inner : mode == M_OUTER ? outer : mode == M_INNER ? inner : 1;
}

/* Operand pointer and vector flag for output elements [o·inner + i0, …) of row o. */
static inline const float *operand(const float *base, int64_t mode, int64_t o, int64_t i0, int64_t inner, int *vec) {
  switch (mode) {
    case M_FULL: *vec = 1; return base + o * inner + i0;
    case M_INNER: *vec = 1; return base + i0;
    case M_OUTER: *vec = 0; return base + o;
    default: *vec = 0; return base;
  }
}

/* ------------------------------------------------------------------------------------------ comparisons */

enum { C_EQ, C_NE, C_LT, C_LE, C_GT, C_GE, C_COUNT };

#define COMPARE_LOOP(EXPR)                             \
  for (int64_t i = 0; i < n; i++) {                    \
    const float p = a[av ? i : 0], q = b[bv ? i : 0];  \
    y[i] = (uint8_t)(EXPR);                            \
  }                                                    \
  break;

/* y[i] = a op b as 0/1 bytes for i < n (IEEE comparisons: any comparison with NaN is false, except ≠). */
CLONES static void compare_row(int op, int64_t n, const float *a, int av, const float *b, int bv, uint8_t *y) {
  switch (op) {
    case C_EQ: COMPARE_LOOP(p == q)
    case C_NE: COMPARE_LOOP(p != q)
    case C_LT: COMPARE_LOOP(p < q)
    case C_LE: COMPARE_LOOP(p <= q)
    case C_GT: COMPARE_LOOP(p > q)
    case C_GE: COMPARE_LOOP(p >= q)
    default: break;
  }
}

/*
 * The broadcasting element-wise ops over an output collapsed to [outer, inner], both operands float32 at float
 * offsets, each a full tensor, a vector along `inner` or `outer`, or a scalar (M_*):
 *   binary(heap, op, outer, inner, aOff, aMode, bOff, bMode, yOff): y[o, i] = op(a[·], b[·]), float32 at a float offset;
 *   compare(heap, op, outer, inner, aOff, aMode, bOff, bMode, yByteOff): the same comparisons (C_*) as 0/1 bytes at
 *   a BYTE offset (a bool tensor).
 */
typedef struct {
  const char *name;
  const char *unknown_op; /* the error for an op code out of range */
  int64_t ops;     /* number of op codes */
  int64_t y_bytes; /* bytes per output element: 4 (float32) or 1 (bool) */
} Broadcast;

static napi_value broadcast_op(napi_env env, napi_callback_info info, const Broadcast *kind) {
  napi_value a[9];
  float *heap;
  size_t len;
  int64_t v[8];
  if (!args_of(env, info, 9, a, kind->name) || !heap_arg(env, a[0], &heap, &len) || !int_args(env, a + 1, 8, v)) return NULL;
  const int64_t op = v[0], outer = v[1], inner = v[2], aoff = v[3], am = v[4], boff = v[5], bm = v[6], yoff = v[7];
  if (op < 0 || op >= kind->ops) return bad_arg(env, kind->unknown_op), NULL;
  if (am < 0 || am > M_SCALAR || bm < 0 || bm > M_SCALAR || outer < 0 || inner < 0)
    return bad_arg(env, "promptkd native: bad broadcast mode or shape"), NULL;
  const int64_t n = outer * inner;
  if (n == 0) return NULL;
  /* the output's range in its own units: floats of the float view, or bytes of the same heap */
  const size_t y_len = kind->y_bytes == 1 ? len * sizeof(float) : len;
  if (!heap_range_ok(env, len, aoff, mode_size(am, outer, inner)) || !heap_range_ok(env, len, boff, mode_size(bm, outer, inner)) || !heap_range_ok(env, y_len, yoff, n))
    return NULL;
  const float *pa = heap + aoff, *pb = heap + boff;
  float *yf = kind->y_bytes == 1 ? NULL : heap + yoff;
  uint8_t *yb = kind->y_bytes == 1 ? (uint8_t *)heap + yoff : NULL;
  const int64_t items = items_of(n, ITEM);
#pragma omp parallel for schedule(static) if (n >= par_cheap)
  for (int64_t it = 0; it < items; it++) {
    int64_t k = it * ITEM;
    const int64_t hi = k + ITEM < n ? k + ITEM : n;
    while (k < hi) {
      const int64_t o = k / inner, i0 = k - o * inner;
      const int64_t cnt = (inner - i0) < (hi - k) ? inner - i0 : hi - k;
      int av, bv;
      const float *ra = operand(pa, am, o, i0, inner, &av), *rb = operand(pb, bm, o, i0, inner, &bv);
      if (kind->y_bytes == 1) compare_row((int)op, cnt, ra, av, rb, bv, yb + k);
      else binary_row((int)op, cnt, ra, av, rb, bv, yf + k);
      k += cnt;
    }
  }
  return NULL;
}

static const Broadcast BINARY = {"binary", "promptkd native: unknown binary op", B_COUNT, 4},
                       COMPARE = {"compare", "promptkd native: unknown comparison", C_COUNT, 1};

static napi_value binary(napi_env env, napi_callback_info info) {
  return broadcast_op(env, info, &BINARY);
}

static napi_value compare(napi_env env, napi_callback_info info) {
  return broadcast_op(env, info, &COMPARE);
}

/* ------------------------------------------------------------------------------------------ reductions */

enum { R_SUM, R_MEAN, R_MAX, R_MIN, R_COUNT };

/* Sum/max/min of x[0..n) in 16 lanes, then the lanes pairwise: a fixed order. Max/min propagate NaN. */
CLONES static float reduce_run(int op, const float *x, int64_t n) {
  float acc[16];
  const float init = op == R_MAX ? -INFINITY : op == R_MIN ? INFINITY : 0.0f;
  for (int l = 0; l < 16; l++) acc[l] = init;
  int64_t i = 0;
  if (op == R_MAX) {
    for (; i + 16 <= n; i += 16)
      for (int l = 0; l < 16; l++) {
        const float v = x[i + l];
        acc[l] = (v > acc[l] || v != v) ? v : acc[l];
      }
    for (int l = 0; i < n; i++, l++) acc[l] = (x[i] > acc[l] || x[i] != x[i]) ? x[i] : acc[l];
    for (int w = 8; w >= 1; w >>= 1)
      for (int l = 0; l < w; l++) acc[l] = (acc[l + w] > acc[l] || acc[l + w] != acc[l + w]) ? acc[l + w] : acc[l];
  } else if (op == R_MIN) {
    for (; i + 16 <= n; i += 16)
      for (int l = 0; l < 16; l++) {
        const float v = x[i + l];
        acc[l] = (v < acc[l] || v != v) ? v : acc[l];
      }
    for (int l = 0; i < n; i++, l++) acc[l] = (x[i] < acc[l] || x[i] != x[i]) ? x[i] : acc[l];
    for (int w = 8; w >= 1; w >>= 1)
      for (int l = 0; l < w; l++) acc[l] = (acc[l + w] < acc[l] || acc[l + w] != acc[l + w]) ? acc[l + w] : acc[l];
  } else {
    for (; i + 16 <= n; i += 16)
      for (int l = 0; l < 16; l++) acc[l] += x[i + l];
    for (int l = 0; i < n; i++, l++) acc[l] += x[i];
    for (int w = 8; w >= 1; w >>= 1)
      for (int l = 0; l < w; l++) acc[l] += acc[l + w];
  }
  return acc[0];
}

/* acc[j] = op over r < rows of x[r·stride + j], j < w (acc may be the output itself). */
CLONES static void reduce_cols(int op, const float *x, int64_t rows, int64_t stride, int64_t w, float *acc) {
  memcpy(acc, x, sizeof(float) * (size_t)w);
  for (int64_t r = 1; r < rows; r++) {
    const float *row = x + r * stride;
    if (op == R_MAX) {
      for (int64_t j = 0; j < w; j++) acc[j] = (row[j] > acc[j] || row[j] != row[j]) ? row[j] : acc[j];
    } else if (op == R_MIN) {
      for (int64_t j = 0; j < w; j++) acc[j] = (row[j] < acc[j] || row[j] != row[j]) ? row[j] : acc[j];
    } else {
      for (int64_t j = 0; j < w; j++) acc[j] += row[j];
    }
  }
}

static inline float combine2(int op, float a, float b) {
  if (op == R_MAX) return (b > a || b != b) ? b : a;
  if (op == R_MIN) return (b < a || b != b) ? b : a;
  return a + b;
}

/*
 * reduce(heap, op, outer, r, inner, xOff, yOff): y[o, j] = op over k < r of x[o, k, j] (x is [outer, r, inner]).
 * The r axis is cut into fixed blocks (sizes from the shape only); each block's partial result is computed by one
 * thread in order, then the partials are combined in block order.
 */
static napi_value reduce(napi_env env, napi_callback_info info) {
  napi_value a[7];
  float *heap;
  size_t len;
  int64_t v[6];
  if (!args_of(env, info, 7, a, "reduce") || !heap_arg(env, a[0], &heap, &len) || !int_args(env, a + 1, 6, v)) return NULL;
  const int64_t op = v[0], outer = v[1], R = v[2], inner = v[3];
  if (op < 0 || op >= R_COUNT) return bad_arg(env, "promptkd native: unknown reduction"), NULL;
  if (outer < 0 || R < 1 || inner < 0) return bad_arg(env, "promptkd native: reductions need a non-empty reduced axis"), NULL;
  const int64_t n = outer * R * inner, m = outer * inner;
  if (m == 0) return NULL;
  if (!heap_range_ok(env, len, v[4], n) || !heap_range_ok(env, len, v[5], m)) return NULL;
  const float *x = heap + v[4];
  float *y = heap + v[5];
  const int par = n >= par_cheap;
  int oom = 0;
  if (inner == 1) {
    /* Rows: blocks of ROW_BLOCK elements. */
    const int64_t nb = items_of(R, ROW_BLOCK);
    float *part = nb > 1 ? (float *)malloc(sizeof(float) * (size_t)(outer * nb)) : y;
    if (!part) {
      oom = 1;
    } else {
#pragma omp parallel for schedule(static) if (par)
      for (int64_t it = 0; it < outer * nb; it++) {
        const int64_t o = it / nb, blk = it - o * nb, lo = blk * ROW_BLOCK, hi = lo + ROW_BLOCK < R ? lo + ROW_BLOCK : R;
        part[it] = reduce_run((int)op, x + o * R + lo, hi - lo);
      }
      if (nb > 1) {
        for (int64_t o = 0; o < outer; o++) {
          float s = part[o * nb];
          for (int64_t b = 1; b < nb; b++) s = combine2((int)op, s, part[o * nb + b]);
          y[o] = s;
        }
        free(part);
      }
    }
  } else {
    /* Columns: blocks of rb rows × COL_CHUNK columns; partial vectors per (outer, block). */
    int64_t rb = COL_BLOCK / inner;
    if (rb < 64) rb = 64;
    if (rb > R) rb = R;
    const int64_t nb = items_of(R, rb), nc = items_of(inner, COL_CHUNK);
    float *part = nb > 1 ? (float *)malloc(sizeof(float) * (size_t)(outer * nb * inner)) : y;
    if (!part) {
      oom = 1;
    } else {
#pragma omp parallel for schedule(static) if (par)
      for (int64_t it = 0; it < outer * nb * nc; it++) {
        const int64_t c = it % nc, ob = it / nc, o = ob / nb, blk = ob - o * nb;
        const int64_t r0 = blk * rb, r1 = r0 + rb < R ? r0 + rb : R, j0 = c * COL_CHUNK, j1 = j0 + COL_CHUNK < inner ? j0 + COL_CHUNK : inner;
        reduce_cols((int)op, x + (o * R + r0) * inner + j0, r1 - r0, inner, j1 - j0, part + ob * inner + j0);
      }
      if (nb > 1) {
#pragma omp parallel for schedule(static) if (par && outer * nc > 1)
        for (int64_t it = 0; it < outer * nc; it++) {
          const int64_t o = it / nc, c = it - o * nc, j0 = c * COL_CHUNK, j1 = j0 + COL_CHUNK < inner ? j0 + COL_CHUNK : inner;
          reduce_cols((int)op, part + o * nb * inner + j0, nb, inner, j1 - j0, y + o * inner + j0);
        }
        free(part);
      }
    }
  }
  if (oom) {
    napi_throw_error(env, PROMPTKD_CODE, "promptkd native: out of memory for reduction partial results");
    return NULL;
  }
  if (op == R_MEAN) {
    const float d = (float)R;
#pragma omp parallel for schedule(static) if (m >= par_cheap)
    for (int64_t it = 0; it < items_of(m, ITEM); it++) {
      const int64_t lo = it * ITEM, hi = lo + ITEM < m ? lo + ITEM : m;
      for (int64_t i = lo; i < hi; i++) y[i] /= d;
    }
  }
  return NULL;
}

/* ------------------------------------------------------------------------------------------ batch norm */

/* y[r, c] = (x[r, c] − mean[c]) · scale[c] / sqrt(var[c] + eps) + offset[c]; per-channel factors precomputed. */
CLONES static void batch_norm_rows(const float *x, float *y, int64_t rows, int64_t C, const float *mean, const float *mul, const float *add) {
  for (int64_t r = 0; r < rows; r++) {
    const float *xr = x + r * C;
    float *yr = y + r * C;
    for (int64_t c = 0; c < C; c++) yr[c] = (xr[c] - mean[c]) * mul[c] + add[c];
  }
}

/*
 * batchNorm(heap, rows, C, xOff, yOff, eps, meanOff, meanPerC, varOff, varPerC, offsetOff, offsetPerC, scaleOff,
 * scalePerC): x is [rows, C]; each parameter is per channel (perC = 1, C values) or one value (0); offsetOff or
 * scaleOff = -1 when absent (0 and 1).
 */
static napi_value batch_norm(napi_env env, napi_callback_info info) {
  napi_value a[14];
  float *heap;
  size_t len;
  int64_t g[4], p[8];
  double eps;
  if (!args_of(env, info, 14, a, "batchNorm") || !heap_arg(env, a[0], &heap, &len) || !int_args(env, a + 1, 4, g) || !double_arg(env, a[5], &eps) ||
      !int_args(env, a + 6, 8, p))
    return NULL;
  const int64_t rows = g[0], C = g[1];
  if (rows < 0 || C < 1) return bad_arg(env, "promptkd native: batchNorm needs at least one channel"), NULL;
  if (!heap_range_ok(env, len, g[2], rows * C) || !heap_range_ok(env, len, g[3], rows * C)) return NULL;
  for (int k = 0; k < 4; k++) {
    if (k >= 2 && p[2 * k] == -1) continue;
    if (!heap_range_ok(env, len, p[2 * k], p[2 * k + 1] ? C : 1)) return NULL;
  }
  float *fac = (float *)malloc(sizeof(float) * (size_t)(3 * C));
  if (!fac) {
    napi_throw_error(env, PROMPTKD_CODE, "promptkd native: out of memory for batch-norm factors");
    return NULL;
  }
  float *mean = fac, *mul = fac + C, *add = fac + 2 * C;
#define PARAM(k, c, dflt) (k >= 2 && p[2 * (k)] == -1 ? (dflt) : heap[p[2 * (k)] + (p[2 * (k) + 1] ? (c) : 0)])
  for (int64_t c = 0; c < C; c++) {
    mean[c] = PARAM(0, c, 0.0f);
    mul[c] = PARAM(3, c, 1.0f) / sqrtf(PARAM(1, c, 0.0f) + (float)eps);
    add[c] = PARAM(2, c, 0.0f);
  }
#undef PARAM
  const float *x = heap + g[2];
  float *y = heap + g[3];
  int64_t per = ITEM / C;
  if (per < 1) per = 1;
  const int64_t items = items_of(rows, per);
#pragma omp parallel for schedule(static) if (rows * C >= par_cheap)
  for (int64_t it = 0; it < items; it++) {
    const int64_t r0 = it * per, r1 = r0 + per < rows ? r0 + per : rows;
    batch_norm_rows(x + r0 * C, y + r0 * C, r1 - r0, C, mean, mul, add);
  }
  free(fac);
  return NULL;
}

/* ------------------------------------------------------------------------------------------ strided copies */

typedef struct {
  int rank;
  int64_t shape[MAX_RANK], ss[MAX_RANK], ds[MAX_RANK];
} Copy;

/* Drops size-1 axes and merges neighbours that are contiguous in both source and destination. */
static void simplify(Copy *g) {
  int r = 0;
  for (int i = 0; i < g->rank; i++) {
    if (g->shape[i] == 1) continue;
    if (r > 0 && g->ss[r - 1] == g->ss[i] * g->shape[i] && g->ds[r - 1] == g->ds[i] * g->shape[i]) {
      g->shape[r - 1] *= g->shape[i];
      g->ss[r - 1] = g->ss[i];
      g->ds[r - 1] = g->ds[i];
      continue;
    }
    g->shape[r] = g->shape[i];
    g->ss[r] = g->ss[i];
    g->ds[r] = g->ds[i];
    r++;
  }
  g->rank = r;
}

/* Source and destination offsets of row `row` of the axes [0, axes) (row-major over them). */
static void row_offsets(const Copy *g, int axes, int64_t row, int64_t *so, int64_t *dst, int64_t *idx) {
  *so = 0;
  *dst = 0;
  for (int ax = axes - 1; ax >= 0; ax--) {
    idx[ax] = row % g->shape[ax];
    row /= g->shape[ax];
    *so += idx[ax] * g->ss[ax];
    *dst += idx[ax] * g->ds[ax];
  }
}

static void row_next(const Copy *g, int axes, int64_t *so, int64_t *dst, int64_t *idx) {
  for (int ax = axes - 1; ax >= 0; ax--) {
    if (++idx[ax] < g->shape[ax]) {
      *so += g->ss[ax];
      *dst += g->ds[ax];
      return;
    }
    idx[ax] = 0;
    *so -= (g->shape[ax] - 1) * g->ss[ax];
    *dst -= (g->shape[ax] - 1) * g->ds[ax];
  }
}

CLONES static void strided_row(const uint32_t *s, int64_t sstride, uint32_t *d, int64_t n) {
  for (int64_t i = 0; i < n; i++) d[i] = s[i * sstride];
}

/* Tile of a 2-D transpose: d[i·dq + j] = s[i + j·sl] for i < ni, j < nj. */
CLONES static void transpose_tile(const uint32_t *s, int64_t sl, uint32_t *d, int64_t dq, int64_t ni, int64_t nj) {
  for (int64_t i = 0; i < ni; i++)
    for (int64_t j = 0; j < nj; j++) d[i * dq + j] = s[i + j * sl];
}

#define TILE 32

/*
 * copyStrided(heap, shape, srcStrides, dstStrides, srcOff, dstOff): for every index i of `shape`,
 * dst[dstOff + Σ i·dstStrides] = src[srcOff + Σ i·srcStrides] (4-byte elements, bits copied as they are). Slice,
 * SplitV, Concat, Transpose, Tile and Reverse (negative source strides) are all this copy. Contiguous rows are memcpy'd; a transpose whose source rows
 * run along another output axis goes through 32×32 tiles.
 */
static napi_value copy_strided(napi_env env, napi_callback_info info) {
  napi_value a[6];
  float *heap;
  size_t len, r1, r2, r3;
  const int32_t *shape, *ss, *ds;
  int64_t so, dof;
  if (!args_of(env, info, 6, a, "copyStrided") || !heap_arg(env, a[0], &heap, &len) || !i32_array_arg(env, a[1], &shape, &r1) ||
      !i32_array_arg(env, a[2], &ss, &r2) || !i32_array_arg(env, a[3], &ds, &r3) || !int_arg(env, a[4], &so) || !int_arg(env, a[5], &dof))
    return NULL;
  if (r1 != r2 || r1 != r3 || r1 > MAX_RANK) return bad_arg(env, "promptkd native: copyStrided needs shape and strides of one rank ≤ 16"), NULL;
  Copy g;
  g.rank = (int)r1;
  int64_t total = 1, slo = 0, shi = 0, dext = 1;
  for (int i = 0; i < g.rank; i++) {
    if (shape[i] < 0 || ds[i] < 0) return bad_arg(env, "promptkd native: negative dimension or destination stride"), NULL;
    g.shape[i] = shape[i];
    g.ss[i] = ss[i];
    g.ds[i] = ds[i];
    total *= shape[i];
  }
  if (total == 0) return NULL;
  /* A negative source stride walks its axis backwards from srcOff (Reverse): the source spans [srcOff + slo, srcOff + shi]. */
  for (int i = 0; i < g.rank; i++) {
    if (g.ss[i] < 0) slo += (g.shape[i] - 1) * g.ss[i];
    else shi += (g.shape[i] - 1) * g.ss[i];
    dext += (g.shape[i] - 1) * g.ds[i];
  }
  if (!heap_range_ok(env, len, so + slo, shi - slo + 1) || !heap_range_ok(env, len, dof, dext)) return NULL;
  simplify(&g);
  const uint32_t *src = (const uint32_t *)heap + so;
  uint32_t *dst = (uint32_t *)heap + dof;
  const int r = g.rank;
  if (r == 0) {
    dst[0] = src[0];
    return NULL;
  }
  const int64_t L = g.shape[r - 1];
  /* A transpose: the destination's last axis is contiguous, the source's contiguous axis q is another one. */
  int q = -1;
  if (g.ds[r - 1] == 1 && g.ss[r - 1] != 1 && L >= 8)
    for (int i = 0; i < r - 1; i++)
      if (g.ss[i] == 1 && g.shape[i] >= 8) q = i;
  if (q >= 0) {
    /* Axes other than q and the last are batch axes: move q next to the last one. */
    Copy b = g;
    int k = 0;
    for (int i = 0; i < r - 1; i++) {
      if (i == q) continue;
      b.shape[k] = g.shape[i];
      b.ss[k] = g.ss[i];
      b.ds[k] = g.ds[i];
      k++;
    }
    const int64_t nq = g.shape[q], tq = items_of(nq, TILE), tl = items_of(L, TILE);
    int64_t batch = 1;
    for (int i = 0; i < k; i++) batch *= b.shape[i];
#pragma omp parallel for schedule(static) if (total >= par_costly)
    for (int64_t it = 0; it < batch * tq; it++) {
      const int64_t bi = it / tq, i0 = (it - bi * tq) * TILE, i1 = i0 + TILE < nq ? i0 + TILE : nq;
      int64_t idx[MAX_RANK], bs, bd;
      row_offsets(&b, k, bi, &bs, &bd, idx);
      for (int64_t t = 0; t < tl; t++) {
        const int64_t j0 = t * TILE, j1 = j0 + TILE < L ? j0 + TILE : L;
        transpose_tile(src + bs + i0 * g.ss[q] + j0 * g.ss[r - 1], g.ss[r - 1], dst + bd + i0 * g.ds[q] + j0, g.ds[q], i1 - i0, j1 - j0);
      }
    }
    return NULL;
  }
  /* Rows of the last axis, in items of about ITEM elements. */
  const int64_t rows = total / L;
  int64_t per = ITEM / L;
  if (per < 1) per = 1;
  const int64_t items = items_of(rows, per);
  const int contiguous = g.ss[r - 1] == 1 && g.ds[r - 1] == 1;
#pragma omp parallel for schedule(static) if (items > 1 && total >= (contiguous && L >= 16 ? par_cheap : par_costly))
  for (int64_t it = 0; it < items; it++) {
    const int64_t row0 = it * per, row1 = row0 + per < rows ? row0 + per : rows;
    int64_t idx[MAX_RANK], s, d;
    row_offsets(&g, r - 1, row0, &s, &d, idx);
    for (int64_t row = row0; row < row1; row++) {
      if (contiguous) {
        memcpy(dst + d, src + s, sizeof(uint32_t) * (size_t)L);
      } else if (g.ds[r - 1] == 1) {
        strided_row(src + s, g.ss[r - 1], dst + d, L);
      } else {
        for (int64_t i = 0; i < L; i++) dst[d + i * g.ds[r - 1]] = src[s + i * g.ss[r - 1]];
      }
      row_next(&g, r - 1, &s, &d, idx);
    }
  }
  return NULL;
}

/* setParallelThreshold(n): split every loop of at least n elements over the threads (n ≤ 0: the defaults). */
static napi_value set_parallel_threshold(napi_env env, napi_callback_info info) {
  napi_value a[1];
  int64_t n;
  if (!args_of(env, info, 1, a, "setParallelThreshold") || !int_arg(env, a[0], &n)) return NULL;
  par_cheap = n > 0 ? n : PAR_MIN_CHEAP;
  par_costly = n > 0 ? n : PAR_MIN_COSTLY;
  return NULL;
}

/* ------------------------------------------------------------------------------------------ registration */

napi_value promptkd_register_elementwise(napi_env env, napi_value exports) {
  napi_property_descriptor props[] = {
      {"unary", NULL, unary, NULL, NULL, NULL, napi_default, NULL},
      {"binary", NULL, binary, NULL, NULL, NULL, napi_default, NULL},
      {"compare", NULL, compare, NULL, NULL, NULL, napi_default, NULL},
      {"reduce", NULL, reduce, NULL, NULL, NULL, napi_default, NULL},
      {"batchNorm", NULL, batch_norm, NULL, NULL, NULL, napi_default, NULL},
      {"copyStrided", NULL, copy_strided, NULL, NULL, NULL, napi_default, NULL},
      {"setParallelThreshold", NULL, set_parallel_threshold, NULL, NULL, NULL, napi_default, NULL},
  };
  napi_define_properties(env, exports, sizeof(props) / sizeof(props[0]), props);
  return exports;
}
