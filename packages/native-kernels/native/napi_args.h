/*
 * N-API argument helpers shared by every source file of the addon. Each returns 1 on success; on failure it throws
 * a JS error (code PROMPTKD_NATIVE) and returns 0, and the caller returns NULL.
 */
#ifndef PROMPTKD_NAPI_ARGS_H
#define PROMPTKD_NAPI_ARGS_H
#include <node_api.h>
#include <stdint.h>
#include <stdio.h>

#define PROMPTKD_CODE "PROMPTKD_NATIVE"

/* The first `want` arguments of the call into a; `fn` names the function in the error. */
static inline int args_of(napi_env env, napi_callback_info info, size_t want, napi_value *a, const char *fn) {
  size_t argc = want;
  if (napi_get_cb_info(env, info, &argc, a, NULL, NULL) != napi_ok || argc < want) {
    char msg[160];
    snprintf(msg, sizeof msg, "promptkd native: %s takes %zu arguments", fn, want);
    napi_throw_type_error(env, PROMPTKD_CODE, msg);
    return 0;
  }
  return 1;
}

/* The wasm heap, passed as a Float32Array. */
static inline int heap_arg(napi_env env, napi_value v, float **data, size_t *len) {
  napi_typedarray_type type;
  void *ptr;
  napi_value ab;
  size_t off;
  if (napi_get_typedarray_info(env, v, &type, len, &ptr, &ab, &off) != napi_ok || type != napi_float32_array) {
    napi_throw_type_error(env, PROMPTKD_CODE, "promptkd native: expected the wasm heap as a Float32Array");
    return 0;
  }
  *data = (float *)ptr;
  return 1;
}

/* An Int32Array (offsets, dimensions or strides). */
static inline int i32_array_arg(napi_env env, napi_value v, const int32_t **data, size_t *len) {
  napi_typedarray_type type;
  void *ptr;
  napi_value ab;
  size_t off;
  if (napi_get_typedarray_info(env, v, &type, len, &ptr, &ab, &off) != napi_ok || type != napi_int32_array) {
    napi_throw_type_error(env, PROMPTKD_CODE, "promptkd native: expected an Int32Array of offsets, dimensions or strides");
    return 0;
  }
  *data = (const int32_t *)ptr;
  return 1;
}

static inline int int_arg(napi_env env, napi_value v, int64_t *out) {
  if (napi_get_value_int64(env, v, out) != napi_ok) {
    napi_throw_type_error(env, PROMPTKD_CODE, "promptkd native: expected an integer argument");
    return 0;
  }
  return 1;
}

/* n integers a[0 .. n) into out. */
static inline int int_args(napi_env env, const napi_value *a, int n, int64_t *out) {
  for (int i = 0; i < n; i++)
    if (!int_arg(env, a[i], out + i)) return 0;
  return 1;
}

static inline int double_arg(napi_env env, napi_value v, double *out) {
  if (napi_get_value_double(env, v, out) != napi_ok) {
    napi_throw_type_error(env, PROMPTKD_CODE, "promptkd native: expected a number argument");
    return 0;
  }
  return 1;
}

/* The common call shape (heap, int × nints, …): `want` arguments, a[0] the heap, a[1 .. nints] integers into v. */
static inline int parse_heap_args(napi_env env, napi_callback_info info, size_t want, napi_value *a, float **heap, size_t *len, int64_t *v, size_t nints) {
  return args_of(env, info, want, a, "this kernel") && heap_arg(env, a[0], heap, len) && int_args(env, a + 1, (int)nints, v);
}

/* [off, off + count) must lie in the heap. */
static inline int heap_range_ok(napi_env env, size_t len, int64_t off, int64_t count) {
  if (off < 0 || count < 0 || (uint64_t)off + (uint64_t)count > len) {
    napi_throw_range_error(env, PROMPTKD_CODE, "promptkd native: tensor lies outside the wasm heap");
    return 0;
  }
  return 1;
}

#endif
