/* oneDNN convolutions of promptkd's native addon (onednn_conv.cc); stubs that decline when built without oneDNN. */
#ifndef PROMPTKD_ONEDNN_CONV_H
#define PROMPTKD_ONEDNN_CONV_H
#include <stdint.h>

#define PROMPTKD_CONV_FORWARD 0
#define PROMPTKD_CONV_BACKWARD_INPUT 1
#define PROMPTKD_CONV_BACKWARD_FILTER 2

#ifdef __cplusplus
extern "C" {
#endif

/* 1 when the addon was built with oneDNN. */
int promptkd_onednn_available(void);
/* "oneDNN x.y.z", or "" without it. */
const char *promptkd_onednn_version(void);
/*
 * One NHWC convolution with `g` = n, h, w, ci, co, kh, kw, sh, sw, dh, dw, padTop, padLeft, outH, outW and filters
 * [kh, kw, ci, co]. FORWARD: y = conv(x, w). BACKWARD_INPUT: x = dL/dx from w and dy = y. BACKWARD_FILTER:
 * w = dL/dw from x and dy = y. Returns 1 when done, 0 when declined (no oneDNN, or a geometry it is not given),
 * -1 on a oneDNN error with `*error` set. Filter gradients of outputs under 8×8 pixels and input gradients of at most 4
 * channels at 64×64 pixels or more are declined (im2col and col2im are faster).
 */
int promptkd_onednn_conv(int kind, const int64_t *g, float *x, float *w, float *y, const char **error);

#ifdef __cplusplus
}
#endif
#endif
