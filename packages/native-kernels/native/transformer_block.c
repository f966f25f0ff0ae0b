/*
 * A pre-norm ViT block (timm `Block`) of frozen weights in one call of promptkd's native addon, forward and backward:
 *
 *   h = x + proj(attention(LN₁(x)))        keys and values [P_pre; K; P_app] with optional prefix tokens
 *   y = h + fc₂(GELU(fc₁(LN₂(h))))
 *
 * The forward runs alone (a frozen teacher, evaluation) or keeps what the backward needs (qkv, the attention P, h and
 * fc₁'s output u); the backward gives the gradients wrt x and the prefix tokens, not the weights — prompt tuning of a
 * frozen ViT, where the weights take no gradient.
 *
 * Composed, a block is about fifteen tfjs kernels, each a pass through tfjs's bookkeeping and, for the CPU studies'
 * ViTs, a product too small to split over the threads. Here the batch is cut into chunks of whole samples and each
 * thread takes a chunk through the whole block: both threads stay busy and no intermediate tensor is made. A chunk
 * holds a number of samples fixed by the shapes alone and every sum runs in an order fixed by the shapes, so results
 * are bit-identical for any thread count. Same conventions as the other files: in place on the wasm heap, offsets in
 * floats, float32 arithmetic; the products are oneDNN's SGEMM or the built-in one, on the chunk's thread.
 */
#include <node_api.h>
#include <math.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "clones.h"
#include "napi_args.h"
#include "shared_loops.h"


/*
 * Rows of a chunk: whole samples, about this many rows (the KDP studies' batches of 64 samples of 17–19 tokens: 10–11
 * chunks to share between the threads).
 */
#define CHUNK_ROWS 128

/* One call's shapes and operands; absent biases and prefixes are NULL. */
typedef struct {
  int64_t n, l, dm, heads, hidden, lpre, pre_batch, lapp, app_batch;
  float eps;
  const float *x, *ln1g, *ln1b, *qkvw, *qkvb, *projw, *projb, *ln2g, *ln2b, *fc1w, *fc1b, *fc2w, *fc2b, *prek, *prev, *appk, *appv;
  float *y;
} Block;

/* What a training forward keeps for the backward ([N, L, 3D], [N, H, L, Lk], [N, L, D], [N, L, F]); NULL: keep nothing. */
typedef struct {
  float *qkv, *p, *h, *u;
} Kept;

/* A thread's scratch for chunks of `rows` rows. */
typedef struct {
  float *a, *qkv, *seq, *o, *p, *kt, *f;
} Scratch;

static int64_t keys_of(const Block *b) { return b->lpre + b->l + b->lapp; }

static int64_t scratch_floats(const Block *b, int64_t rows) {
  const int64_t lk = keys_of(b), d = b->dm / b->heads;
  return rows * b->dm + rows * 3 * b->dm + lk * 3 * b->dm + b->l * 3 * b->dm + b->l * lk + promptkd_attention_head_scratch(lk, d) + rows * b->hidden;
}

static Scratch scratch_parts(float *base, const Block *b, int64_t rows) {
  const int64_t lk = keys_of(b), d = b->dm / b->heads, dm = b->dm;
  Scratch s;
  s.a = base;
  s.qkv = s.a + rows * dm;
  s.seq = s.qkv + rows * 3 * dm;
  s.o = s.seq + lk * 3 * dm;
  s.p = s.o + b->l * 3 * dm;
  s.kt = s.p + b->l * lk;
  s.f = s.kt + promptkd_attention_head_scratch(lk, d);
  return s;
}

/* y[r, c] += bias[c] (no-op without a bias). */
CLONES static void add_rows(float *restrict y, const float *restrict bias, int64_t rows, int64_t cols) {
  if (!bias) return;
  for (int64_t r = 0; r < rows; r++)
#pragma omp simd
    for (int64_t c = 0; c < cols; c++) y[r * cols + c] += bias[c];
}

/* y[i] = x[i] + y[i] (the residual, added as the composition adds it). */
CLONES static void add_residual(const float *restrict x, float *restrict y, int64_t n) {
#pragma omp simd
  for (int64_t i = 0; i < n; i++) y[i] = x[i] + y[i];
}

/* Rows j of a [rows, 3D] sequence buffer get the prefix tokens' keys and values (columns [D, 3D)). */
static void put_prefix(float *seq, const float *k, const float *v, int64_t rows, int64_t dm) {
  for (int64_t j = 0; j < rows; j++) {
    memcpy(seq + j * 3 * dm + dm, k + j * dm, sizeof(float) * (size_t)dm);
    memcpy(seq + j * 3 * dm + 2 * dm, v + j * dm, sizeof(float) * (size_t)dm);
  }
}

/* seq [Lk, 3D] = sample i's rows [q | k | v]: the prefix tokens' keys and values around its own qkv rows. */
static void sample_sequence(const Block *b, int64_t i, const float *qkv, float *seq) {
  const int64_t l = b->l, dm = b->dm;
  if (b->lpre) put_prefix(seq, b->prek + (b->pre_batch == 1 ? 0 : i) * b->lpre * dm, b->prev + (b->pre_batch == 1 ? 0 : i) * b->lpre * dm, b->lpre, dm);
  memcpy(seq + b->lpre * 3 * dm, qkv, sizeof(float) * (size_t)(l * 3 * dm));
  if (b->lapp)
    put_prefix(seq + (b->lpre + l) * 3 * dm, b->appk + (b->app_batch == 1 ? 0 : i) * b->lapp * dm, b->appv + (b->app_batch == 1 ? 0 : i) * b->lapp * dm,
               b->lapp, dm);
}

/*
 * Multi-head attention of samples [s0, s1): qkv [rows, 3D] in, the heads' outputs [rows, D] out (before proj); P
 * [N, H, L, Lk] into keep_p when given (else one head's P in scratch).
 */
static void chunk_attention(const Block *b, const Scratch *s, int64_t s0, int64_t s1, const float *qkv0, float *keep_p, float *out) {
  const int64_t l = b->l, dm = b->dm, d = dm / b->heads, lk = keys_of(b);
  const float scale = 1.0f / sqrtf((float)d);
  for (int64_t i = s0; i < s1; i++) {
    sample_sequence(b, i, qkv0 + (i - s0) * l * 3 * dm, s->seq);
    const float *q = s->seq + b->lpre * 3 * dm;
    for (int64_t h = 0; h < b->heads; h++) {
      float *p = keep_p ? keep_p + (i * b->heads + h) * l * lk : s->p;
      promptkd_attention_head(q + h * d, s->seq + dm + h * d, s->seq + 2 * dm + h * d, s->o + h * d, p, s->kt, l, lk, d, 3 * dm, scale);
    }
    float *oi = out + (i - s0) * l * dm;
    for (int64_t j = 0; j < l; j++) memcpy(oi + j * dm, s->o + j * 3 * dm, sizeof(float) * (size_t)dm);
  }
}

/* Samples [s0, s1) through the whole block; with `keep`, what the backward needs is written there too. */
static void block_chunk(const Block *b, const Scratch *s, const Kept *keep, int64_t s0, int64_t s1) {
  const int64_t dm = b->dm, hid = b->hidden, rows = (s1 - s0) * b->l, r0 = s0 * b->l;
  const float *x = b->x + r0 * dm;
  float *y = b->y + r0 * dm;
  float *qkv = keep ? keep->qkv + r0 * 3 * dm : s->qkv, *u = keep ? keep->u + r0 * hid : s->f;
  promptkd_layer_norm_rows(x, b->ln1g, b->ln1b, s->a, rows, dm, b->eps);
  promptkd_thread_sgemm(0, 0, rows, 3 * dm, dm, 1.0f, s->a, dm, b->qkvw, 3 * dm, 0.0f, qkv, 3 * dm);
  add_rows(qkv, b->qkvb, rows, 3 * dm);
  chunk_attention(b, s, s0, s1, qkv, keep ? keep->p : NULL, s->a);
  /* h = x + (O·W_proj + b_proj), into y */
  promptkd_thread_sgemm(0, 0, rows, dm, dm, 1.0f, s->a, dm, b->projw, dm, 0.0f, y, dm);
  add_rows(y, b->projb, rows, dm);
  add_residual(x, y, rows * dm);
  if (keep) memcpy(keep->h + r0 * dm, y, sizeof(float) * (size_t)(rows * dm));
  /* y = h + (GELU(u)·W₂ + b₂), u = LN₂(h)·W₁ + b₁ */
  promptkd_layer_norm_rows(y, b->ln2g, b->ln2b, s->a, rows, dm, b->eps);
  promptkd_thread_sgemm(0, 0, rows, hid, dm, 1.0f, s->a, dm, b->fc1w, hid, 0.0f, u, hid);
  add_rows(u, b->fc1b, rows, hid);
  promptkd_gelu_rows(u, s->f, rows * hid);
  promptkd_thread_sgemm(0, 0, rows, dm, hid, 1.0f, s->f, hid, b->fc2w, dm, 0.0f, s->a, dm);
  add_rows(s->a, b->fc2b, rows, dm);
  add_residual(y, s->a, rows * dm);
  memcpy(y, s->a, sizeof(float) * (size_t)(rows * dm));
}

/* A thread's scratch for the backward of chunks of `rows` rows. */
typedef struct {
  float *g, *t, *dh, *dqkv, *seq, *dseq, *dout, *ds, *pg;
} GradScratch;

static int64_t grad_scratch_floats(const Block *b, int64_t rows) {
  const int64_t lk = keys_of(b), l = b->l, dm = b->dm, d = dm / b->heads;
  return rows * b->hidden + 2 * rows * dm + rows * 3 * dm + 2 * lk * 3 * dm + l * 3 * dm + l * lk + promptkd_attention_head_scratch(lk, d) + 2 * dm;
}

static GradScratch grad_scratch_parts(float *base, const Block *b, int64_t rows) {
  const int64_t lk = keys_of(b), l = b->l, dm = b->dm;
  GradScratch s;
  s.g = base;
  s.t = s.g + rows * b->hidden;
  s.dh = s.t + rows * dm;
  s.dqkv = s.dh + rows * dm;
  s.seq = s.dqkv + rows * 3 * dm;
  s.dseq = s.seq + lk * 3 * dm;
  s.dout = s.dseq + lk * 3 * dm;
  s.ds = s.dout + l * 3 * dm;
  s.pg = s.ds + l * lk + promptkd_attention_head_scratch(lk, dm / b->heads);
  return s;
}

/* Gradients wrt the prefix tokens of one call ([N, Lp, D] each; NULL where the call has none). */
typedef struct {
  float *prek, *prev, *appk, *appv;
} PrefixGrads;

/* Rows [0, rows) of a [rows, 3D] buffer's key and value columns into k and v ([rows, D] each). */
static void take_prefix(const float *seq, float *k, float *v, int64_t rows, int64_t dm) {
  for (int64_t j = 0; j < rows; j++) {
    memcpy(k + j * dm, seq + j * 3 * dm + dm, sizeof(float) * (size_t)dm);
    memcpy(v + j * dm, seq + j * 3 * dm + 2 * dm, sizeof(float) * (size_t)dm);
  }
}

/*
 * The backward of samples [s0, s1): dx (and the prefix tokens' gradients) from dy and what the forward kept.
 *   dh = dy + LN₂ᵀ(((dy·W₂ᵀ) ⊙ GELU′(u))·W₁ᵀ),  dO = dh·W_projᵀ,  [dq | dk | dv] from the attention's gradient,
 *   dx = dh + LN₁ᵀ(dqkv·W_qkvᵀ)                 (LNᵀ: layer norm's input gradient)
 */
static void block_grad_chunk(const Block *b, const GradScratch *s, const Kept *kept, const float *dy0, float *dx0, const PrefixGrads *pgr, int64_t s0,
                             int64_t s1) {
  const int64_t l = b->l, dm = b->dm, hid = b->hidden, d = dm / b->heads, lk = keys_of(b), rows = (s1 - s0) * l, r0 = s0 * l;
  const float scale = 1.0f / sqrtf((float)d);
  const float *dy = dy0 + r0 * dm, *x = b->x + r0 * dm, *h = kept->h + r0 * dm;
  float *dx = dx0 + r0 * dm;
  promptkd_thread_sgemm(0, 1, rows, hid, dm, 1.0f, dy, dm, b->fc2w, dm, 0.0f, s->g, hid);
  promptkd_gelu_grad_rows(s->g, kept->u + r0 * hid, s->g, rows * hid);
  promptkd_thread_sgemm(0, 1, rows, dm, hid, 1.0f, s->g, hid, b->fc1w, hid, 0.0f, s->t, dm);
  promptkd_layer_norm_grad_rows(s->t, h, b->ln2g, s->dh, s->pg, s->pg + dm, rows, dm, b->eps);
  add_residual(dy, s->dh, rows * dm);
  promptkd_thread_sgemm(0, 1, rows, dm, dm, 1.0f, s->dh, dm, b->projw, dm, 0.0f, s->t, dm);
  for (int64_t i = s0; i < s1; i++) {
    const float *qkv = kept->qkv + i * l * 3 * dm;
    sample_sequence(b, i, qkv, s->seq);
    for (int64_t j = 0; j < l; j++) memcpy(s->dout + j * 3 * dm, s->t + ((i - s0) * l + j) * dm, sizeof(float) * (size_t)dm);
    const float *q = s->seq + b->lpre * 3 * dm;
    float *dq = s->dseq + b->lpre * 3 * dm;
    for (int64_t hh = 0; hh < b->heads; hh++) {
      const int64_t c = hh * d;
      promptkd_attention_head_grad(s->dout + c, q + c, s->seq + dm + c, s->seq + 2 * dm + c, kept->p + (i * b->heads + hh) * l * lk, dq + c, s->dseq + dm + c,
                                   s->dseq + 2 * dm + c, s->ds, s->ds + l * lk, l, lk, d, 3 * dm, scale);
    }
    memcpy(s->dqkv + (i - s0) * l * 3 * dm, dq, sizeof(float) * (size_t)(l * 3 * dm));
    if (b->lpre) take_prefix(s->dseq, pgr->prek + i * b->lpre * dm, pgr->prev + i * b->lpre * dm, b->lpre, dm);
    if (b->lapp) take_prefix(s->dseq + (b->lpre + l) * 3 * dm, pgr->appk + i * b->lapp * dm, pgr->appv + i * b->lapp * dm, b->lapp, dm);
  }
  promptkd_thread_sgemm(0, 1, rows, dm, 3 * dm, 1.0f, s->dqkv, 3 * dm, b->qkvw, 3 * dm, 0.0f, s->t, dm);
  promptkd_layer_norm_grad_rows(s->t, x, b->ln1g, dx, s->pg, s->pg + dm, rows, dm, b->eps);
  add_residual(s->dh, dx, rows * dm);
}

/* The operand at heap offset `off` of `count` floats; NULL for an absent one (offset −1). 0 after a range error. */
static int operand(napi_env env, float *heap, size_t len, int64_t off, int64_t count, int optional, const float **out) {
  if (optional && off == -1) {
    *out = NULL;
    return 1;
  }
  if (!heap_range_ok(env, len, off, count)) return 0;
  *out = heap + off;
  return 1;
}

/* A writable operand (outputs); NULL for an absent optional one. */
static int output(napi_env env, float *heap, size_t len, int64_t off, int64_t count, int optional, float **out) {
  const float *p;
  if (!operand(env, heap, len, off, count, optional, &p)) return 0;
  *out = p ? heap + off : NULL;
  return 1;
}

static int sizes_ok(napi_env env, const Block *b) {
  if (b->n < 0 || b->l < 1 || b->dm < 1 || b->heads < 1 || b->dm % b->heads != 0 || b->hidden < 1 || b->lpre < 0 || b->lapp < 0 ||
      (b->lpre && b->pre_batch != 1 && b->pre_batch != b->n) || (b->lapp && b->app_batch != 1 && b->app_batch != b->n)) {
    napi_throw_range_error(env, PROMPTKD_CODE,
                           "promptkd native: vitBlock needs N ≥ 0, L, D, H, hidden ≥ 1, H dividing D and prefixes of batch N or 1");
    return 0;
  }
  return 1;
}

/*
 * The weights and prefixes from offsets o[0 .. 16): ln1g, ln1b, qkvW, qkvB, projW, projB, ln2g, ln2b, fc1W, fc1B, fc2W,
 * fc2B, preK, preV, appK, appV (the linear layers' biases and the prefixes optional at −1).
 */
static int block_operands(napi_env env, float *heap, size_t len, const int64_t *o, Block *b) {
  const int64_t dm = b->dm, hid = b->hidden, pre = b->pre_batch * b->lpre * dm, app = b->app_batch * b->lapp * dm;
  return operand(env, heap, len, o[0], dm, 0, &b->ln1g) && operand(env, heap, len, o[1], dm, 0, &b->ln1b) &&
         operand(env, heap, len, o[2], dm * 3 * dm, 0, &b->qkvw) && operand(env, heap, len, o[3], 3 * dm, 1, &b->qkvb) &&
         operand(env, heap, len, o[4], dm * dm, 0, &b->projw) && operand(env, heap, len, o[5], dm, 1, &b->projb) &&
         operand(env, heap, len, o[6], dm, 0, &b->ln2g) && operand(env, heap, len, o[7], dm, 0, &b->ln2b) &&
         operand(env, heap, len, o[8], dm * hid, 0, &b->fc1w) && operand(env, heap, len, o[9], hid, 1, &b->fc1b) &&
         operand(env, heap, len, o[10], hid * dm, 0, &b->fc2w) && operand(env, heap, len, o[11], dm, 1, &b->fc2b) &&
         operand(env, heap, len, o[12], pre, !b->lpre, &b->prek) && operand(env, heap, len, o[13], pre, !b->lpre, &b->prev) &&
         operand(env, heap, len, o[14], app, !b->lapp, &b->appk) && operand(env, heap, len, o[15], app, !b->lapp, &b->appv);
}

/* Samples per chunk: whole samples, a number fixed by the shapes alone. */
static int64_t chunk_samples(const Block *b) {
  const int64_t per = CHUNK_ROWS / b->l;
  return per < 1 ? 1 : per;
}

/* A chunk's work: samples [s0, s1) of `b` with a thread's scratch `base` and the call's `ctx`. */
typedef void (*ChunkFn)(const Block *b, float *base, void *ctx, int64_t s0, int64_t s1);

/* fn over the chunks of whole samples, split over the threads, each thread with a scratch of `floats`; 0 when out of memory. */
static int over_chunks(const Block *b, int64_t floats, ChunkFn fn, void *ctx) {
  const int64_t n = b->n, per = chunk_samples(b), chunks = (n + per - 1) / per;
  int failed = 0;
#pragma omp parallel if (chunks > 1)
  {
    float *base = (float *)malloc(sizeof(float) * (size_t)floats);
    if (!base) {
#pragma omp atomic write
      failed = 1;
    }
#pragma omp for schedule(static)
    for (int64_t c = 0; c < chunks; c++) {
      if (!base) continue;
      fn(b, base, ctx, c * per, c * per + per < n ? c * per + per : n);
    }
    free(base);
  }
  return !failed;
}

static void forward_chunk(const Block *b, float *base, void *kept, int64_t s0, int64_t s1) {
  const Scratch s = scratch_parts(base, b, chunk_samples(b) * b->l);
  block_chunk(b, &s, (const Kept *)kept, s0, s1);
}

/* What the backward's chunks share: the kept tensors, dy, dx and the prefix gradients. */
typedef struct {
  const Kept *kept;
  const float *dy;
  float *dx;
  const PrefixGrads *pg;
} GradArgs;

static void grad_chunk(const Block *b, float *base, void *args, int64_t s0, int64_t s1) {
  const GradArgs *g = (const GradArgs *)args;
  const GradScratch s = grad_scratch_parts(base, b, chunk_samples(b) * b->l);
  block_grad_chunk(b, &s, g->kept, g->dy, g->dx, g->pg, s0, s1);
}

/*
 * vitBlock(heap, N, L, D, H, hidden, Lpre, preBatch, Lapp, appBatch, x, ln1g, ln1b, qkvW, qkvB, projW, projB, ln2g, ln2b,
 * fc1W, fc1B, fc2W, fc2B, preK, preV, appK, appV, y, qkvKept, pKept, hKept, uKept, eps): x and y [N, L, D]; weights
 * [in, out]; prefix keys and values [preBatch, Lpre, D] and [appBatch, Lapp, D] (batch N or 1); absent biases and
 * prefixes at offset −1. The kept tensors ([N, L, 3D], [N, H, L, Lk], [N, L, D], [N, L, F]) all at −1 for a forward
 * that keeps nothing.
 */
static napi_value vit_block(napi_env env, napi_callback_info info) {
  napi_value a[33];
  float *heap;
  size_t len;
  int64_t v[31];
  double eps;
  if (!parse_heap_args(env, info, 33, a, &heap, &len, v, 31)) return NULL;
  if (!double_arg(env, a[32], &eps)) return NULL;
  Block b = {.n = v[0], .l = v[1], .dm = v[2], .heads = v[3], .hidden = v[4], .lpre = v[5], .pre_batch = v[6], .lapp = v[7], .app_batch = v[8], .eps = (float)eps};
  if (!sizes_ok(env, &b)) return NULL;
  const int64_t n = b.n, l = b.l, dm = b.dm, *o = v + 9, rows = n * l;
  Kept kept;
  const int keep = o[18] != -1;
  if (!operand(env, heap, len, o[0], rows * dm, 0, &b.x) || !block_operands(env, heap, len, o + 1, &b) || !output(env, heap, len, o[17], rows * dm, 0, &b.y) ||
      !output(env, heap, len, o[18], rows * 3 * dm, !keep, &kept.qkv) || !output(env, heap, len, o[19], n * b.heads * l * keys_of(&b), !keep, &kept.p) ||
      !output(env, heap, len, o[20], rows * dm, !keep, &kept.h) || !output(env, heap, len, o[21], rows * b.hidden, !keep, &kept.u))
    return NULL;
  if (n > 0 && !over_chunks(&b, scratch_floats(&b, chunk_samples(&b) * l), forward_chunk, keep ? &kept : NULL))
    napi_throw_error(env, PROMPTKD_CODE, "promptkd native: out of memory for the transformer block");
  return NULL;
}

/*
 * vitBlockGrad(heap, N, L, D, H, hidden, Lpre, Lapp, dy, x, <the 16 weight and prefix offsets of vitBlock>, qkvKept,
 * pKept, hKept, uKept, dx, dPreK, dPreV, dAppK, dAppV, eps): prefixes of batch N; the kept tensors of a vitBlock call
 * that kept them. The weights take no gradient.
 */
static napi_value vit_block_grad(napi_env env, napi_callback_info info) {
  napi_value a[36];
  float *heap;
  size_t len;
  int64_t v[34];
  double eps;
  if (!parse_heap_args(env, info, 36, a, &heap, &len, v, 34)) return NULL;
  if (!double_arg(env, a[35], &eps)) return NULL;
  Block b = {.n = v[0], .l = v[1], .dm = v[2], .heads = v[3], .hidden = v[4], .lpre = v[5], .pre_batch = v[0], .lapp = v[6], .app_batch = v[0], .eps = (float)eps};
  if (!sizes_ok(env, &b)) return NULL;
  const int64_t n = b.n, l = b.l, dm = b.dm, *o = v + 7, rows = n * l, pre = n * b.lpre * dm, app = n * b.lapp * dm;
  const float *dy;
  float *dx;
  Kept kept;
  PrefixGrads pg;
  if (!operand(env, heap, len, o[0], rows * dm, 0, &dy) || !operand(env, heap, len, o[1], rows * dm, 0, &b.x) || !block_operands(env, heap, len, o + 2, &b) ||
      !output(env, heap, len, o[18], rows * 3 * dm, 0, &kept.qkv) || !output(env, heap, len, o[19], n * b.heads * l * keys_of(&b), 0, &kept.p) ||
      !output(env, heap, len, o[20], rows * dm, 0, &kept.h) || !output(env, heap, len, o[21], rows * b.hidden, 0, &kept.u) ||
      !output(env, heap, len, o[22], rows * dm, 0, &dx) || !output(env, heap, len, o[23], pre, !b.lpre, &pg.prek) ||
      !output(env, heap, len, o[24], pre, !b.lpre, &pg.prev) || !output(env, heap, len, o[25], app, !b.lapp, &pg.appk) ||
      !output(env, heap, len, o[26], app, !b.lapp, &pg.appv))
    return NULL;
  GradArgs g = {&kept, dy, dx, &pg};
  if (n > 0 && !over_chunks(&b, grad_scratch_floats(&b, chunk_samples(&b) * l), grad_chunk, &g))
    napi_throw_error(env, PROMPTKD_CODE, "promptkd native: out of memory for the transformer block gradient");
  return NULL;
}

napi_value promptkd_register_transformer_block(napi_env env, napi_value exports) {
  napi_property_descriptor props[] = {
      {"vitBlock", NULL, vit_block, NULL, NULL, NULL, napi_default, NULL},
      {"vitBlockGrad", NULL, vit_block_grad, NULL, NULL, NULL, napi_default, NULL},
  };
  napi_define_properties(env, exports, sizeof(props) / sizeof(props[0]), props);
  return exports;
}
