/*
 * Max-pool gradient of promptkd's native addon (conventions of kernels.c: in place on the wasm heap, offsets in
 * floats). NHWC; each dy goes to the FIRST maximal input of its window in row-major order, as TF.js's cpu kernel.
 */
#include <node_api.h>
#include <math.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "napi_args.h"


/* Largest pooling window (filterH × filterW) handled here; tfjs-env sends larger ones to the wasm kernel. */
#define MAX_WINDOW 256

#include "clones.h"

/*
 * One image: dx[h, w, c] += dy[oy, ox, c] at the argmax of each window. The argmax of a window is found for all
 * channels at once (branch-free, so the loop vectorises): best starts at the window's first pixel and moves only
 * to a strictly greater one, i.e. the first maximal pixel in row-major order wins, as in the cpu kernel.
 */
CLONES static void max_pool_grad_image(const float *x, const float *dy, float *dx, const int64_t *g, float *best, int32_t *arg) {
  const int64_t H = g[1], W = g[2], C = g[3], OH = g[4], OW = g[5], SH = g[6], SW = g[7], FH = g[8], FW = g[9], T = g[10], L = g[11];
  int64_t pos[MAX_WINDOW];
  memset(dx, 0, sizeof(float) * (size_t)(H * W * C));
  for (int64_t oy = 0; oy < OH; oy++) {
    const int64_t y0 = oy * SH - T < 0 ? 0 : oy * SH - T, y1 = oy * SH - T + FH > H ? H : oy * SH - T + FH;
    for (int64_t ox = 0; ox < OW; ox++) {
      const int64_t x0 = ox * SW - L < 0 ? 0 : ox * SW - L, x1 = ox * SW - L + FW > W ? W : ox * SW - L + FW;
      int32_t k = 0;
      for (int64_t yy = y0; yy < y1; yy++)
        for (int64_t xx = x0; xx < x1; xx++) pos[k++] = (yy * W + xx) * C;
      if (k == 0) continue;
      const float *first = x + pos[0];
      for (int64_t c = 0; c < C; c++) {
        best[c] = first[c];
        arg[c] = 0;
      }
      for (int32_t i = 1; i < k; i++) {
        const float *v = x + pos[i];
        for (int64_t c = 0; c < C; c++) {
          const int gt = v[c] > best[c];
          best[c] = gt ? v[c] : best[c];
          arg[c] = gt ? i : arg[c];
        }
      }
      const float *d = dy + (oy * OW + ox) * C;
      for (int64_t c = 0; c < C; c++) dx[pos[arg[c]] + c] += d[c];
    }
  }
}

/*
 * maxPoolGrad(heap, n, h, w, c, outH, outW, strideH, strideW, filterH, filterW, padTop, padLeft, xOff, dyOff, dxOff).
 * Images run in parallel: each writes only its own dx, so the result does not depend on the thread count.
 */
static napi_value max_pool_grad(napi_env env, napi_callback_info info) {
  napi_value a[16];
  float *heap;
  size_t len;
  int64_t g[15];
  if (!parse_heap_args(env, info, 16, a, &heap, &len, g, 15)) return NULL;
  const int64_t N = g[0], H = g[1], W = g[2], C = g[3], OH = g[4], OW = g[5];
  for (int i = 0; i < 12; i++) {
    if (g[i] < 0 || (i >= 6 && i <= 9 && g[i] < 1)) {
      napi_throw_range_error(env, PROMPTKD_CODE, "promptkd native: maxPoolGrad got a negative size or a zero stride/filter");
      return NULL;
    }
  }
  if (g[8] * g[9] > MAX_WINDOW) {
    napi_throw_range_error(env, PROMPTKD_CODE, "promptkd native: maxPoolGrad handles windows of at most 256 pixels");
    return NULL;
  }
  const int64_t nx = N * H * W * C, ny = N * OH * OW * C;
  const int64_t offs[3][2] = {{g[12], nx}, {g[13], ny}, {g[14], nx}};
  for (int i = 0; i < 3; i++)
    if (!heap_range_ok(env, len, offs[i][0], offs[i][1])) return NULL;
  const float *x = heap + g[12], *dy = heap + g[13];
  float *dx = heap + g[14];
  int failed = 0;
#pragma omp parallel if (N > 1 && nx >= (1 << 16))
  {
    float *best = (float *)malloc(sizeof(float) * (size_t)(C > 0 ? C : 1));
    int32_t *arg = (int32_t *)malloc(sizeof(int32_t) * (size_t)(C > 0 ? C : 1));
    if (!best || !arg) {
#pragma omp atomic write
      failed = 1;
    } else {
#pragma omp for schedule(static)
      for (int64_t n = 0; n < N; n++) max_pool_grad_image(x + n * H * W * C, dy + n * OH * OW * C, dx + n * H * W * C, g, best, arg);
    }
    free(best);
    free(arg);
  }
  if (failed) {
    napi_throw_error(env, PROMPTKD_CODE, "promptkd native: out of memory in maxPoolGrad");
    return NULL;
  }
  return NULL;
}

napi_value promptkd_register_pooling(napi_env env, napi_value exports) {
  napi_property_descriptor props[] = {{"maxPoolGrad", NULL, max_pool_grad, NULL, NULL, NULL, napi_default, NULL}};
  napi_define_properties(env, exports, sizeof(props) / sizeof(props[0]), props);
  return exports;
}
