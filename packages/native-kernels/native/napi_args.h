/* Argument parsing shared by fused.c, batch_norm_train.c and pooling.c: (heap, int, int, …) calls on the wasm heap. */
#ifndef PROMPTKD_NAPI_ARGS_H
#define PROMPTKD_NAPI_ARGS_H
#include <node_api.h>
#include <stdint.h>

#define PROMPTKD_CODE "PROMPTKD_NATIVE"

/* Reads `want` arguments: a[0] the heap (Float32Array), a[1 .. nints] integers into v. Throws and returns 0 on error. */
static inline int parse_heap_args(napi_env env, napi_callback_info info, size_t want, napi_value *a, float **heap, size_t *len, int64_t *v, size_t nints) {
  size_t argc = want;
  napi_typedarray_type type;
  void *ptr;
  napi_value ab;
  size_t off;
  if (napi_get_cb_info(env, info, &argc, a, NULL, NULL) != napi_ok || argc < want) {
    napi_throw_type_error(env, PROMPTKD_CODE, "promptkd native: too few arguments");
    return 0;
  }
  if (napi_get_typedarray_info(env, a[0], &type, len, &ptr, &ab, &off) != napi_ok || type != napi_float32_array) {
    napi_throw_type_error(env, PROMPTKD_CODE, "promptkd native: expected the wasm heap as a Float32Array");
    return 0;
  }
  *heap = (float *)ptr;
  for (size_t i = 0; i < nints; i++) {
    if (napi_get_value_int64(env, a[1 + i], v + i) != napi_ok) {
      napi_throw_type_error(env, PROMPTKD_CODE, "promptkd native: expected an integer argument");
      return 0;
    }
  }
  return 1;
}

/* Reads a[i] as a double (epsilon); throws and returns 0 when it is not a number. */
static inline int parse_double(napi_env env, napi_value v, double *out) {
  if (napi_get_value_double(env, v, out) != napi_ok) {
    napi_throw_type_error(env, PROMPTKD_CODE, "promptkd native: epsilon must be a number");
    return 0;
  }
  return 1;
}

/* [off, off + count) must lie in the heap; throws and returns 0 otherwise. */
static inline int heap_range_ok(napi_env env, size_t len, int64_t off, int64_t count) {
  if (off < 0 || count < 0 || (uint64_t)off + (uint64_t)count > len) {
    napi_throw_range_error(env, PROMPTKD_CODE, "promptkd native: tensor lies outside the wasm heap");
    return 0;
  }
  return 1;
}

#endif
