/* Element-wise, reduction and layout kernels of promptkd's native addon (see kernels.c for the conventions). */
#include <node_api.h>

napi_value promptkd_register_elementwise(napi_env env, napi_value exports) {
  (void)env;
  return exports;
}
