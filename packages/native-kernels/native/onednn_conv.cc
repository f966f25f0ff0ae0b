/*
 * NHWC convolutions (forward, input gradient, filter gradient) on oneDNN, the library PyTorch's CPU convolutions
 * use. Built only when oneDNN's headers are found (PROMPTKD_HAVE_ONEDNN); kernels.c calls these first and keeps
 * its im2col path for builds without oneDNN and for geometries oneDNN is not given (negative right padding).
 *
 * Tensors stay where they are on the wasm heap: activations are described to oneDNN as `nhwc` and filters as
 * `hwio` (TF.js's [kh, kw, ci, co]); only the filter is reordered to the layout the chosen implementation wants.
 * Primitives are created once per geometry and kept (a bounded cache), as oneDNN's own examples do.
 */
#include "onednn_conv.h"

#ifdef PROMPTKD_HAVE_ONEDNN
#include "onednn_state.hh"

#include <array>
#include <cstdlib>
#include <map>
#include <memory>
#include <new>

namespace {

using promptkd_onednn::runtime;

using dnnl::memory;
using Tag = memory::format_tag;
using Dt = memory::data_type;

/* Plan key: kind, the 15 ConvGeom numbers, threads. */
using Key = std::array<int64_t, 17>;

struct Plan {
  memory user_x, user_w, user_y;       /* wrap heap pointers (handles set per call) */
  memory inner_w;                      /* filter (or its gradient) in the implementation's layout, in `filter_buffer` */
  dnnl::primitive conv;
  dnnl::reorder reorder_w;             /* user -> inner (fwd, bwd data) or inner -> user (bwd weights) */
  bool needs_reorder = false;
};

std::map<Key, std::unique_ptr<Plan>> plans;

/*
 * One buffer for the reordered filter of whichever plan runs (calls come one at a time from the JS thread), grown
 * to the largest filter seen, instead of a buffer per plan: ResNet-18's plans would otherwise hold ~130 MB.
 */
struct FilterBuffer {
  void *data = nullptr;
  size_t size = 0;
  ~FilterBuffer() { std::free(data); }
  void *get(size_t bytes) {
    if (bytes > size) {
      void *grown = std::aligned_alloc(64, (bytes + 63) / 64 * 64);
      if (!grown) throw std::bad_alloc();
      std::free(data);
      data = grown;
      size = bytes;
    }
    return data;
  }
} filter_buffer;

struct Dims {
  memory::dims src, wei, dst, strides, dil, pad_l, pad_r;
};

bool dims_of(const int64_t *g, Dims *d) {
  const int64_t n = g[0], h = g[1], w = g[2], ci = g[3], co = g[4], kh = g[5], kw = g[6], sh = g[7], sw = g[8], dh = g[9], dw = g[10],
                pt = g[11], pl = g[12], ho = g[13], wo = g[14];
  const int64_t pb = (ho - 1) * sh + (kh - 1) * dh + 1 - h - pt, pr = (wo - 1) * sw + (kw - 1) * dw + 1 - w - pl;
  if (pt < 0 || pl < 0 || pb < 0 || pr < 0 || dh < 1 || dw < 1) return false;
  d->src = {n, ci, h, w};
  d->wei = {co, ci, kh, kw};
  d->dst = {n, co, ho, wo};
  d->strides = {sh, sw};
  d->dil = {dh - 1, dw - 1};
  d->pad_l = {pt, pl};
  d->pad_r = {pb, pr};
  return true;
}

dnnl::convolution_forward::primitive_desc forward_pd(const Dims &d, dnnl::prop_kind prop) {
  const memory::desc src(d.src, Dt::f32, Tag::nhwc), dst(d.dst, Dt::f32, Tag::nhwc), wei(d.wei, Dt::f32, Tag::any);
  const dnnl::convolution_forward::desc desc(prop, dnnl::algorithm::convolution_direct, src, wei, dst, d.strides, d.dil, d.pad_l, d.pad_r);
  return {desc, runtime().eng};
}

std::unique_ptr<Plan> make_plan(int kind, const Dims &d) {
  auto &s = runtime();
  auto p = std::make_unique<Plan>();
  const memory::desc x_md(d.src, Dt::f32, Tag::nhwc), y_md(d.dst, Dt::f32, Tag::nhwc), w_md(d.wei, Dt::f32, Tag::hwio);
  p->user_x = memory(x_md, s.eng, DNNL_MEMORY_NONE);
  p->user_y = memory(y_md, s.eng, DNNL_MEMORY_NONE);
  p->user_w = memory(w_md, s.eng, DNNL_MEMORY_NONE);
  const auto fwd = forward_pd(d, kind == PROMPTKD_CONV_FORWARD ? dnnl::prop_kind::forward_inference : dnnl::prop_kind::forward_training);
  memory::desc inner;
  if (kind == PROMPTKD_CONV_FORWARD) {
    p->conv = dnnl::convolution_forward(fwd);
    inner = fwd.weights_desc();
  } else if (kind == PROMPTKD_CONV_BACKWARD_INPUT) {
    const memory::desc wei(d.wei, Dt::f32, Tag::any);
    const dnnl::convolution_backward_data::desc desc(dnnl::algorithm::convolution_direct, x_md, wei, y_md, d.strides, d.dil, d.pad_l, d.pad_r);
    const dnnl::convolution_backward_data::primitive_desc pd(desc, s.eng, fwd);
    p->conv = dnnl::convolution_backward_data(pd);
    inner = pd.weights_desc();
  } else {
    const memory::desc wei(d.wei, Dt::f32, Tag::any);
    const dnnl::convolution_backward_weights::desc desc(dnnl::algorithm::convolution_direct, x_md, wei, y_md, d.strides, d.dil, d.pad_l,
                                                         d.pad_r);
    const dnnl::convolution_backward_weights::primitive_desc pd(desc, s.eng, fwd);
    p->conv = dnnl::convolution_backward_weights(pd);
    inner = pd.diff_weights_desc();
  }
  p->needs_reorder = inner != w_md;
  if (p->needs_reorder) {
    p->inner_w = memory(inner, s.eng, DNNL_MEMORY_NONE);
    p->reorder_w = kind == PROMPTKD_CONV_BACKWARD_FILTER ? dnnl::reorder(p->inner_w, p->user_w) : dnnl::reorder(p->user_w, p->inner_w);
  }
  return p;
}

char error_text[512];

}  // namespace

extern "C" int promptkd_onednn_available(void) { return 1; }

extern "C" const char *promptkd_onednn_version(void) {
  static char text[64];
  const dnnl_version_t *v = dnnl_version();
  std::snprintf(text, sizeof text, "oneDNN %d.%d.%d", v->major, v->minor, v->patch);
  return text;
}

/*
 * Filter gradients of maps under 8×8 outputs go to im2col: oneDNN 2.6's kernels split such small images poorly
 * (ResNet-18's 4×4×512 layers, batch 32, 2 threads: 18.5 ms on oneDNN, 12.9 ms as one im2col GEMM).
 */
constexpr int64_t kMinFilterGradPixels = 64;

/*
 * Input gradients of convolutions with at most this many input channels (an image's first layer) and at least
 * kMinFewChannelPixels input pixels go to col2im: oneDNN 2.6 spreads their 3-channel output poorly (the KiOP `cpu`
 * synthesis's 64-px host: dy [32, 64, 64, 32], filters [3, 3, 3, 32], 2 vCPU AMD EPYC: 8.95 ms on oneDNN, 6.35 ms as
 * col2im with the built-in SGEMM and 5.64 ms with OpenBLAS's), while at 32 px the two were even (1.42 / 1.32 ms).
 */
constexpr int64_t kMaxFewChannels = 4;
constexpr int64_t kMinFewChannelPixels = 64 * 64;

extern "C" int promptkd_onednn_conv(int kind, const int64_t *g, float *x, float *w, float *y, const char **error) {
  Dims d;
  if (!dims_of(g, &d)) return 0;
  if (kind == PROMPTKD_CONV_BACKWARD_FILTER && g[13] * g[14] < kMinFilterGradPixels) return 0;
  if (kind == PROMPTKD_CONV_BACKWARD_INPUT && g[3] <= kMaxFewChannels && g[1] * g[2] >= kMinFewChannelPixels) return 0;
  try {
    auto &s = runtime();
    Key key;
    key[0] = kind;
    for (int i = 0; i < 15; i++) key[i + 1] = g[i];
    // multiply-adds: n·ho·wo output pixels × co × kh·kw·ci
    const promptkd_onednn::CallThreads threads(g[0] * g[13] * g[14] * g[4] * g[5] * g[6] * g[3]);
    key[16] = threads.count();
    auto it = plans.find(key);
    if (it == plans.end()) {
      if (plans.size() >= promptkd_onednn::kMaxPlans) plans.clear();
      it = plans.emplace(key, make_plan(kind, d)).first;
    }
    Plan &p = *it->second;
    p.user_x.set_data_handle(x);
    p.user_w.set_data_handle(w);
    p.user_y.set_data_handle(y);
    if (p.needs_reorder) p.inner_w.set_data_handle(filter_buffer.get(p.inner_w.get_desc().get_size()));
    const memory &wk = p.needs_reorder ? p.inner_w : p.user_w;
    if (kind == PROMPTKD_CONV_FORWARD) {
      if (p.needs_reorder) p.reorder_w.execute(s.stream, p.user_w, p.inner_w);
      p.conv.execute(s.stream, {{DNNL_ARG_SRC, p.user_x}, {DNNL_ARG_WEIGHTS, wk}, {DNNL_ARG_DST, p.user_y}});
    } else if (kind == PROMPTKD_CONV_BACKWARD_INPUT) {
      if (p.needs_reorder) p.reorder_w.execute(s.stream, p.user_w, p.inner_w);
      p.conv.execute(s.stream, {{DNNL_ARG_DIFF_SRC, p.user_x}, {DNNL_ARG_WEIGHTS, wk}, {DNNL_ARG_DIFF_DST, p.user_y}});
    } else {
      p.conv.execute(s.stream, {{DNNL_ARG_SRC, p.user_x}, {DNNL_ARG_DIFF_WEIGHTS, wk}, {DNNL_ARG_DIFF_DST, p.user_y}});
      if (p.needs_reorder) p.reorder_w.execute(s.stream, p.inner_w, p.user_w);
    }
    s.stream.wait();
    return 1;
  } catch (const std::exception &e) {
    *error = promptkd_onednn::describe(e, "convolution", error_text, sizeof error_text);
  }
  return -1;
}

#else

extern "C" int promptkd_onednn_available(void) { return 0; }
extern "C" const char *promptkd_onednn_version(void) { return ""; }
extern "C" int promptkd_onednn_conv(int, const int64_t *, float *, float *, float *, const char **) { return 0; }

#endif
