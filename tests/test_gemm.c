/* test_gemm: every GEMM backend available here (core/gemm.h) against the naive product,
 * with prepared (packed) and unprepared weights, fused activations and accumulation, at
 * f32 (golden tolerance) and, where the CPU has the kernels, bf16 and int8 (error bounds
 * that a wrong kernel, layout or scale would exceed by far). */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/gemm.h"
#include "core/gemm_bound.h"
#include "core/gemm_panel.h"
#include "core/half.h"
#include "core/kernels.h"
#include "core/ops.h"
#include "core/threads.h"
#include "testlib.h"
#include "vlp.h"

/* The reference: act(x W^T + b) + (acc ? y0 : 0) with the naive kernels. */
static void reference(float *y, const float *y0, const float *x, const float *W, const float *b,
                      int n, int in, int out, gemm_act act, int acc) {
  size_t len = (size_t)n * out;
  op_linear_naive(y, x, W, b, n, in, out);
  if (act == GEMM_ACT_GELU_ERF) op_gelu_naive(y, len);
  if (act == GEMM_ACT_GELU_TANH) op_gelu_tanh_naive(y, len);
  if (act == GEMM_ACT_QUICK_GELU) op_quick_gelu_naive(y, len);
  for (size_t i = 0; acc && i < len; i++) y[i] += y0[i];
}

/* Relative error of the whole output: max |got - want| / max |want|. */
static double rel_err(const float *got, const float *want, size_t n) {
  double d = test_max_abs_diff(got, want, n), m = test_max_abs(want, n);
  return m > 0 ? d / m : d;
}

/* A product's random operands: x (n, in), W (out, in), b (out), y0 (n, out), and room for the
 * result and the reference. */
typedef struct {
  int n, in, out;
  size_t len; /* n * out */
  float *x, *W, *b, *y0, *y, *want;
} operands;

static operands operands_new(const int shape[3]) {
  operands o = {.n = shape[0], .in = shape[1], .out = shape[2]};
  o.len = (size_t)o.n * o.out;
  o.x = test_rand_buf((size_t)o.n * o.in, 1), o.W = test_rand_buf((size_t)o.out * o.in, 0.2f);
  o.b = test_rand_buf((size_t)o.out, 0.5f), o.y0 = test_rand_buf(o.len, 1);
  o.y = malloc(o.len * sizeof *o.y), o.want = malloc(o.len * sizeof *o.want);
  return o;
}

static void operands_free(operands *o) {
  free(o->x), free(o->W), free(o->b), free(o->y0), free(o->y), free(o->want);
}

static void run_backend(const char *name) {
  CHECK(gemm_select(name));
  printf("backend %s\n", gemm_backend_name());
  const int shapes[][3] = {{1, 96, 80}, {3, 100, 130}, {8, 768, 64}, {77, 64, 200}, {5, 1, 9}};
  const vlp_precision precs[] = {VLP_PRECISION_F32, VLP_PRECISION_BF16, VLP_PRECISION_INT8};
  for (int pi = 0; pi < 3; pi++) {
    vlp_precision prec = precs[pi];
    const char *why = NULL;
    if (!gemm_supports(prec, &why)) {
      printf("  %s: not here (%s)\n", gemm_precision_name(prec), why);
      CHECK(why && *why);
      /* preparing says why instead of failing silently */
      float w = 1;
      CHECK(gemm_prepare(&w, 1, 1, prec, NULL) == VLP_ERR_UNSUPPORTED);
      CHECK(strstr(vlp_last_error(), gemm_precision_name(prec)) != NULL);
      continue;
    }
    /* bounds relative to the output's size: bf16 keeps 8 bits of mantissa, int8 7 */
    double tol = prec == VLP_PRECISION_F32 ? 1e-5 : prec == VLP_PRECISION_BF16 ? 2e-2 : 4e-2;
    for (size_t s = 0; s < sizeof shapes / sizeof shapes[0]; s++) {
      operands o = operands_new(shapes[s]);
      int n = o.n, in = o.in, out = o.out;
      size_t len = o.len;
      float *x = o.x, *W = o.W, *b = o.b, *y0 = o.y0, *y = o.y, *want = o.want;
      size_t bytes = 0;
      vlp_status st = gemm_prepare(W, out, in, prec, &bytes);
      CHECK(st == VLP_OK);
      if (st) printf("  prepare: %s\n", vlp_last_error());
      for (int act = GEMM_ACT_NONE; act <= GEMM_ACT_QUICK_GELU; act++)
        for (int acc = 0; acc < 2; acc++)
          for (int withb = 0; withb < 2; withb++) {
            memcpy(y, y0, len * sizeof *y);
            gemm_linear(y, x, W, withb ? b : NULL, n, in, out, (gemm_act)act, acc);
            reference(want, y0, x, W, withb ? b : NULL, n, in, out, (gemm_act)act, acc);
            double e = rel_err(y, want, len);
            if (!(e <= tol))
              printf("  FAIL %s n=%d in=%d out=%d act=%d acc=%d bias=%d: rel err %.3g > %.3g\n",
                     gemm_precision_name(prec), n, in, out, act, acc, withb, e, tol);
            CHECK(e <= tol);
          }
      if (prec != VLP_PRECISION_F32) { /* not silently f32: the fast modes do round */
        gemm_linear(y, x, W, b, n, in, out, GEMM_ACT_NONE, 0);
        reference(want, y0, x, W, b, n, in, out, GEMM_ACT_NONE, 0);
        CHECK(in < 8 || rel_err(y, want, len) > 1e-6);
      }
      printf("  %s n=%d in=%d out=%d ok (packed %zu bytes)\n", gemm_precision_name(prec), n, in,
             out, bytes);
      gemm_forget(W);
      /* forgotten: the plain f32 path again */
      gemm_linear(y, x, W, b, n, in, out, GEMM_ACT_NONE, 0);
      reference(want, y0, x, W, b, n, in, out, GEMM_ACT_NONE, 0);
      CHECK(rel_err(y, want, len) <= 1e-5);
      operands_free(&o);
    }
  }
}

/* A stack of 3 weights (one without a bias) against the naive product of each part, before
 * and after it is prepared, rows side by side in y. */
static void stacked(vlp_precision prec, double tol) {
  const int shapes[][3] = {{1, 96, 40}, {5, 64, 33}, {16, 200, 64}};
  for (size_t s = 0; s < sizeof shapes / sizeof shapes[0]; s++) {
    int n = shapes[s][0], in = shapes[s][1], rows = shapes[s][2], out = 3 * rows;
    float *x = test_rand_buf((size_t)n * in, 1), *W[3], *b[3];
    for (int i = 0; i < 3; i++) {
      W[i] = test_rand_buf((size_t)rows * in, 0.2f);
      b[i] = i == 1 ? NULL : test_rand_buf((size_t)rows, 0.5f);
    }
    float *y = malloc((size_t)n * out * sizeof *y), *want = malloc((size_t)n * rows * sizeof *want);
    gemm_stack *st = NULL;
    CHECK(gemm_stack_new((const float *const *)W, (const float *const *)b, 3, rows, in, &st) ==
          VLP_OK);
    for (int prepared = 0; prepared < 2 && st; prepared++) {
      size_t bytes = 0;
      if (prepared) CHECK(gemm_stack_prepare(st, prec, &bytes) == VLP_OK);
      gemm_stack_linear(y, x, st, n);
      double e = 0; /* unprepared: f32 parts one by one */
      for (int i = 0; i < 3; i++) {
        op_linear_naive(want, x, W[i], b[i], n, in, rows);
        float *got = malloc((size_t)n * rows * sizeof *got);
        for (int r = 0; r < n; r++)
          memcpy(got + (size_t)r * rows, y + (size_t)r * out + (size_t)i * rows,
                 (size_t)rows * sizeof *got);
        double ei = rel_err(got, want, (size_t)n * rows);
        e = ei > e ? ei : e;
        free(got);
      }
      double t = prepared ? tol : 1e-5;
      if (!(e <= t))
        printf("  FAIL stacked %s prepared=%d n=%d in=%d rows=%d: rel err %.3g > %.3g\n",
               gemm_precision_name(prec), prepared, n, in, rows, e, t);
      CHECK(e <= t);
      CHECK(!prepared || bytes > 0 || strcmp(gemm_backend_name(), "openblas") == 0);
    }
    gemm_stack_free(st);
    for (int i = 0; i < 3; i++) free(W[i]), free(b[i]);
    free(x), free(y), free(want);
  }
  printf("  stacked %s ok\n", gemm_precision_name(prec));
}

/* The 64-column panels on every kernel path this CPU has: all panels at once and split in
 * two parts (as two threads do), fused activation, bias, residual; each row's result the
 * same bits whatever the rows around it (batch invariance). */
static void panels(void) {
  const int shapes[][3] = {{1, 96, 80}, {3, 100, 130}, {5, 768, 64}, {9, 64, 200},
                           {4, 1, 9},   {13, 33, 65},  {19, 200, 70}};
  const char *paths[3];
  int npaths = vk_available(paths, 3);
  for (int pi = 0; pi < npaths; pi++) {
    CHECK(vk_force(paths[pi]));
    for (size_t s = 0; s < sizeof shapes / sizeof shapes[0]; s++) {
      operands o = operands_new(shapes[s]);
      int n = o.n, in = o.in, out = o.out;
      size_t len = o.len;
      float *x = o.x, *W = o.W, *b = o.b, *y0 = o.y0, *y = o.y, *want = o.want;
      gemm_panel g;
      CHECK(gemm_panel_pack(&g, W, out, in) == VLP_OK);
      CHECK(g.panels == (out + 63) / 64);
      double worst = 0;
      for (int act = GEMM_ACT_NONE; act <= GEMM_ACT_QUICK_GELU; act++)
        for (int acc = 0; acc < 2; acc++)
          for (int split = 0; split < 2; split++) {
            memcpy(y, y0, len * sizeof *y);
            int mid = split ? g.panels / 2 : g.panels;
            const float *res = acc ? y : NULL;
            gemm_panel_part(&g, y, out, x, in, n, act ? b : NULL, (gemm_act)act, res, out, 0, mid);
            gemm_panel_part(&g, y, out, x, in, n, act ? b : NULL, (gemm_act)act, res, out, mid,
                            g.panels);
            reference(want, y0, x, W, act ? b : NULL, n, in, out, (gemm_act)act, acc);
            double e = rel_err(y, want, len);
            worst = e > worst ? e : worst;
          }
      if (!(worst <= 1e-5))
        printf("  FAIL panels %s n=%d in=%d out=%d: rel err %.3g\n", paths[pi], n, in, out, worst);
      CHECK(worst <= 1e-5);
      /* row by row: the same bits as in the batch */
      gemm_panel_part(&g, y, out, x, in, n, b, GEMM_ACT_GELU_ERF, NULL, out, 0, g.panels);
      int same = 1;
      for (int r = 0; r < n; r++) {
        gemm_panel_part(&g, want, out, x + (size_t)r * in, in, 1, b, GEMM_ACT_GELU_ERF, NULL, out,
                        0, g.panels);
        same &= memcmp(want, y + (size_t)r * out, (size_t)out * sizeof *y) == 0;
      }
      CHECK(same);
      gemm_panel_free(&g);
      operands_free(&o);
    }
    printf("  panels on the %s path ok\n", paths[pi]);
  }
  vk_force(paths[0]);
  /* through the registry: a few-row weight goes to panels where they are wanted */
  int in = 70, out = 100, n = 2;
  float *x = test_rand_buf((size_t)n * in, 1), *W = test_rand_buf((size_t)out * in, 0.2f);
  float *b = test_rand_buf((size_t)out, 0.5f), *y = malloc((size_t)n * out * sizeof *y);
  float *want = malloc((size_t)n * out * sizeof *want);
  size_t bytes = 0;
  CHECK(gemm_prepare_few_rows(W, out, in, VLP_PRECISION_F32, &bytes) == VLP_OK);
  int panel = gemm_panel_wanted() && strcmp(gemm_backend_name(), "openblas") != 0;
  CHECK((gemm_panel_of(W) != NULL) == panel);
  CHECK(!panel || bytes == (size_t)2 * in * 64 * sizeof(float));
  gemm_linear(y, x, W, b, n, in, out, GEMM_ACT_GELU_TANH, 0);
  reference(want, NULL, x, W, b, n, in, out, GEMM_ACT_GELU_TANH, 0);
  CHECK(rel_err(y, want, (size_t)n * out) <= 1e-5);
  gemm_forget(W);
  CHECK(gemm_panel_of(W) == NULL);
  /* bf16 / int8 stay on the backend's kernels */
  if (gemm_supports(VLP_PRECISION_BF16, NULL)) {
    CHECK(gemm_prepare_few_rows(W, out, in, VLP_PRECISION_BF16, NULL) == VLP_OK);
    CHECK(gemm_panel_of(W) == NULL);
    gemm_forget(W);
  }
  /* a stack */
  const float *parts[2] = {W, W + (size_t)50 * in}, *biases[2] = {b, NULL}, *sb = NULL;
  gemm_stack *st = NULL;
  CHECK(gemm_stack_new(parts, biases, 2, 50, in, &st) == VLP_OK);
  CHECK(st && gemm_stack_prepare_few_rows(st, VLP_PRECISION_F32, NULL) == VLP_OK);
  CHECK(st && (gemm_stack_panel(st, &sb) != NULL) == panel);
  if (st) gemm_stack_linear(y, x, st, n);
  float b2[100];
  memcpy(b2, b, 50 * sizeof *b2);
  memset(b2 + 50, 0, 50 * sizeof *b2);
  reference(want, NULL, x, W, b2, n, in, out, GEMM_ACT_NONE, 0);
  CHECK(rel_err(y, want, (size_t)n * out) <= 1e-5);
  gemm_stack_free(st);
  free(x), free(W), free(b), free(y), free(want);
}

/* A product over 577 rows on two threads (oneDNN: each thread runs its own half, see
 * core/gemm_dnnl.c) with every epilogue against the naive product; where the kernels are
 * batch invariant, rows on both sides of the halves' seam also bit for bit equal to the same
 * rows computed alone. */
static void split_rows(vlp_precision prec, double tol) {
  int prev = threads_enter(2);
  operands o = operands_new((const int[3]){577, 48, 40});
  CHECK(gemm_prepare(o.W, o.out, o.in, prec, NULL) == VLP_OK);
  for (int act = GEMM_ACT_NONE; act <= GEMM_ACT_QUICK_GELU; act++)
    for (int acc = 0; acc < 2; acc++) {
      memcpy(o.y, o.y0, o.len * sizeof *o.y);
      gemm_linear(o.y, o.x, o.W, o.b, o.n, o.in, o.out, (gemm_act)act, acc);
      reference(o.want, o.y0, o.x, o.W, o.b, o.n, o.in, o.out, (gemm_act)act, acc);
      CHECK(rel_err(o.y, o.want, o.len) <= tol);
    }
  if (gemm_batch_invariant()) {
    float row[40];
    gemm_linear(o.y, o.x, o.W, o.b, o.n, o.in, o.out, GEMM_ACT_GELU_ERF, 0);
    const int rows[] = {0, 287, 288, 289, 576};
    for (int i = 0; i < 5; i++) {
      int r = rows[i];
      gemm_linear(row, o.x + (size_t)r * o.in, o.W, o.b, 1, o.in, o.out, GEMM_ACT_GELU_ERF, 0);
      CHECK(memcmp(row, o.y + (size_t)r * o.out, sizeof row) == 0);
    }
  }
  printf("  %s n=577 on 2 threads ok\n", gemm_precision_name(prec));
  gemm_forget(o.W);
  operands_free(&o);
  threads_leave(prev);
}

/* f32 weights with 2 x 128 columns or more are packed in one column part per thread when
 * prepared on 2 threads with VLP_GEMM_PARTS=1: the threads share out the parts' rows (n = 50: one
 * chunk per part; 200: chunks; 577: a head and chunks), or run the parts one after the other (n =
 * 1100 rows, a product too small for two threads, or 1 thread). */
static void column_parts(void) {
  int prev = threads_enter(2);
  operands o = operands_new((const int[3]){1100, 40, 300});
  /* By default the same weight is packed whole: oneDNN's brgemm kernels on an AVX-512 CPU,
   * batch invariant (parts would make it run gemm:jit, which is not). */
  CHECK(gemm_prepare(o.W, o.out, o.in, VLP_PRECISION_F32, NULL) == VLP_OK);
  gemm_linear(o.y, o.x, o.W, o.b, 577, o.in, o.out, GEMM_ACT_NONE, 0);
  if (!strcmp(vk_get()->name, "avx512") && !getenv("ONEDNN_MAX_CPU_ISA") &&
      !getenv("DNNL_MAX_CPU_ISA"))
    CHECK(gemm_batch_invariant());
  gemm_forget(o.W);
  setenv("VLP_GEMM_PARTS", "1", 1); /* read when the weight is packed */
  CHECK(gemm_prepare(o.W, o.out, o.in, VLP_PRECISION_F32, NULL) == VLP_OK);
  unsetenv("VLP_GEMM_PARTS");
  const int ns[] = {50, 577, 1100, 3, 200};
  for (int threads = 2; threads >= 1; threads--) {
    int inner = threads_enter(threads);
    for (int i = 0; i < 5; i++)
      for (int act = GEMM_ACT_NONE; act <= GEMM_ACT_QUICK_GELU; act++)
        for (int acc = 0; acc < 2; acc++) {
          size_t len = (size_t)ns[i] * o.out;
          memcpy(o.y, o.y0, len * sizeof *o.y);
          const float *b = acc && i == 0 ? NULL : o.b; /* and once without a bias */
          gemm_linear(o.y, o.x, o.W, b, ns[i], o.in, o.out, (gemm_act)act, acc);
          reference(o.want, o.y0, o.x, o.W, b, ns[i], o.in, o.out, (gemm_act)act, acc);
          CHECK(rel_err(o.y, o.want, len) <= 1e-5);
        }
    threads_leave(inner);
  }
  { /* the same bits on every run, whichever thread takes which chunk (any kernel) */
    size_t len = (size_t)577 * o.out;
    float *first = malloc(len * sizeof *first);
    CHECK(first != NULL);
    for (int r = 0; first && r < 20; r++) {
      memcpy(o.y, o.y0, len * sizeof *o.y);
      gemm_linear(o.y, o.x, o.W, o.b, 577, o.in, o.out, GEMM_ACT_GELU_ERF, 1);
      if (r == 0) memcpy(first, o.y, len * sizeof *first);
      CHECK(memcmp(first, o.y, len * sizeof *first) == 0);
    }
    free(first);
  }
  if (gemm_batch_invariant()) { /* a row alone (one thread, small) as within 50 or 577 rows
                                   (in the head, a chunk, the last chunk) */
    float row[300];
    const int within[][2] = {{50, 0}, {50, 49}, {577, 0}, {577, 300}, {577, 576}};
    for (int i = 0; i < 5; i++) {
      int n = within[i][0], r = within[i][1];
      gemm_linear(o.y, o.x, o.W, o.b, n, o.in, o.out, GEMM_ACT_NONE, 0);
      gemm_linear(row, o.x + (size_t)r * o.in, o.W, o.b, 1, o.in, o.out, GEMM_ACT_NONE, 0);
      CHECK(memcmp(row, o.y + (size_t)r * o.out, sizeof row) == 0);
    }
  }
  printf("  f32 column parts on 2 threads ok\n");
  gemm_forget(o.W);
  operands_free(&o);
  threads_leave(prev);
}

/* gemm_mlp, y = y0 + act(x W1^T + b1) W2^T + b2, against the naive products and against the
 * two products through an f32 intermediate (bf16: the intermediate is kept in bf16 by the
 * backend; both round it the same way, so they agree far more closely than either agrees
 * with the naive f32 result). */
static void mlp(vlp_precision prec, double tol) {
  const int shapes[][3] = {{1, 64, 256}, {5, 96, 384}, {77, 64, 200}, {300, 32, 128}};
  for (size_t s = 0; s < sizeof shapes / sizeof shapes[0]; s++) {
    int n = shapes[s][0], in = shapes[s][1], mid = shapes[s][2];
    size_t len = (size_t)n * in;
    float *x = test_rand_buf(len, 1), *W1 = test_rand_buf((size_t)mid * in, 0.2f);
    float *W2 = test_rand_buf((size_t)in * mid, 0.1f), *b1 = test_rand_buf((size_t)mid, 0.5f);
    float *b2 = test_rand_buf((size_t)in, 0.5f), *y0 = test_rand_buf(len, 1);
    float *h = malloc((size_t)n * mid * sizeof *h), *y = malloc(len * sizeof *y);
    float *two = malloc(len * sizeof *two), *want = malloc(len * sizeof *want);
    CHECK(gemm_prepare(W1, mid, in, prec, NULL) == VLP_OK);
    CHECK(gemm_prepare(W2, in, mid, prec, NULL) == VLP_OK);
    for (int act = GEMM_ACT_NONE; act <= GEMM_ACT_QUICK_GELU; act++) {
      memcpy(y, y0, len * sizeof *y);
      gemm_mlp(y, x, h, W1, b1, W2, b2, n, in, mid, (gemm_act)act);
      memcpy(two, y0, len * sizeof *two);
      gemm_linear(h, x, W1, b1, n, in, mid, (gemm_act)act, 0);
      gemm_linear(two, h, W2, b2, n, mid, in, GEMM_ACT_NONE, 1);
      reference(h, NULL, x, W1, b1, n, in, mid, (gemm_act)act, 0);
      reference(want, y0, h, W2, b2, n, mid, in, GEMM_ACT_NONE, 1);
      double e = rel_err(y, want, len), e2 = rel_err(y, two, len);
      if (!(e <= tol) || !(e2 <= 1e-3))
        printf("  FAIL mlp %s n=%d in=%d mid=%d act=%d: rel err %.3g (naive), %.3g (two)\n",
               gemm_precision_name(prec), n, in, mid, act, e, e2);
      CHECK(e <= tol);
      CHECK(e2 <= 1e-3);
    }
    gemm_forget(W1), gemm_forget(W2);
    free(x), free(W1), free(W2), free(b1), free(b2), free(y0), free(h), free(y), free(two);
    free(want);
  }
  printf("  mlp %s ok\n", gemm_precision_name(prec));
}

/* The _norm products against op_layernorm and then the plain product: the same bits at every
 * precision, y aliasing x in the MLP (a residual stream); with bf16 weights the normalised
 * rows are left in xn in bf16 (the fused pass ran), and a row wider than the fused pass
 * takes goes the f32 way. */
static void normed(vlp_precision prec) {
  const int shapes[][3] = {{1, 64, 96}, {7, 96, 200}, {300, 32, 64}, {2, 8200, 8}};
  for (size_t s = 0; s < sizeof shapes / sizeof shapes[0]; s++) {
    int n = shapes[s][0], in = shapes[s][1], out = shapes[s][2], mid = 2 * out;
    size_t len = (size_t)n * in;
    float *x = test_rand_buf(len, 1), *g = test_rand_buf((size_t)in, 1);
    float *beta = test_rand_buf((size_t)in, 0.5f), *W = test_rand_buf((size_t)out * in, 0.2f);
    float *b = test_rand_buf((size_t)out, 0.5f), *W1 = test_rand_buf((size_t)mid * in, 0.2f);
    float *W2 = test_rand_buf((size_t)in * mid, 0.1f), *b1 = test_rand_buf((size_t)mid, 0.5f);
    float *xn = malloc(len * sizeof *xn), *ref = malloc(len * sizeof *ref);
    float *h = malloc((size_t)n * mid * sizeof *h), *y = malloc((size_t)n * 3 * out * sizeof *y);
    size_t wide = (size_t)n * (3 * out > in ? 3 * out : in); /* want: a stack's or an MLP's */
    float *want = malloc(wide * sizeof *want), *xy = malloc(len * sizeof *xy);
    float *y0 = test_rand_buf((size_t)n * out, 1);
    const gemm_norm ln = {g, beta, 1e-5f};
    const float *Ws[3] = {W, W1, W}, *bs[3] = {b, NULL, b};
    gemm_stack *st = NULL;
    CHECK(gemm_stack_new(Ws, bs, 3, out, in, &st) == VLP_OK);
    CHECK(gemm_prepare(W, out, in, prec, NULL) == VLP_OK);
    CHECK(gemm_prepare(W1, mid, in, prec, NULL) == VLP_OK);
    CHECK(gemm_prepare(W2, in, mid, prec, NULL) == VLP_OK);
    CHECK(st && gemm_stack_prepare(st, prec, NULL) == VLP_OK);
    op_layernorm(ref, x, g, beta, n, in, ln.eps);
    int fused = prec == VLP_PRECISION_BF16 && in <= 8192;
    for (int act = GEMM_ACT_NONE; act <= GEMM_ACT_QUICK_GELU; act++) {
      memcpy(y, y0, (size_t)n * out * sizeof *y), memcpy(want, y0, (size_t)n * out * sizeof *want);
      gemm_linear_norm(y, x, &ln, xn, W, b, n, in, out, (gemm_act)act, act == GEMM_ACT_NONE);
      gemm_linear(want, ref, W, b, n, in, out, (gemm_act)act, act == GEMM_ACT_NONE);
      CHECK(memcmp(y, want, (size_t)n * out * sizeof *y) == 0);
      int same = 1; /* the rows the fused pass left in xn */
      for (size_t i = 0; fused && i < len; i++) same &= ((uint16_t *)xn)[i] == f32_to_bf16(ref[i]);
      CHECK(same);
      memcpy(xy, x, len * sizeof *xy), memcpy(want, x, len * sizeof *want);
      gemm_mlp_norm(xy, xy, &ln, xn, h, W1, b1, W2, NULL, n, in, mid, (gemm_act)act);
      gemm_mlp(want, ref, h, W1, b1, W2, NULL, n, in, mid, (gemm_act)act);
      CHECK(memcmp(xy, want, len * sizeof *xy) == 0);
    }
    gemm_stack_linear_norm(y, x, &ln, xn, st, n);
    gemm_stack_linear(want, ref, st, n);
    CHECK(memcmp(y, want, (size_t)n * 3 * out * sizeof *y) == 0);
    /* rows in bf16 out of (the stack's, W's) and into (W's) a bf16 product: the f32 rows
     * above rounded; and the product of bf16 rows the same bits as of their f32 values */
    uint16_t *y16 = malloc((size_t)n * 3 * out * sizeof *y16);
    CHECK(gemm_stack_bf16_rows(st) == fused && gemm_bf16_rows(W) == fused);
    CHECK(gemm_stack_linear_norm_to_bf16(y16, x, &ln, xn, st, n) == fused);
    int same = 1;
    for (size_t i = 0; fused && i < (size_t)n * 3 * out; i++) same &= y16[i] == f32_to_bf16(y[i]);
    CHECK(same);
    CHECK(gemm_linear_norm_to_bf16(y16, x, &ln, xn, W, b, n, in, out) == fused);
    gemm_linear_norm(want, x, &ln, xn, W, b, n, in, out, GEMM_ACT_NONE, 0);
    for (size_t i = 0; fused && i < (size_t)n * out; i++) same &= y16[i] == f32_to_bf16(want[i]);
    CHECK(same);
    if (fused) {
      uint16_t *x16 = malloc(len * sizeof *x16);
      for (size_t i = 0; i < len; i++) x16[i] = f32_to_bf16(x[i]), xy[i] = bf16_to_f32(x16[i]);
      memcpy(y, y0, (size_t)n * out * sizeof *y), memcpy(want, y0, (size_t)n * out * sizeof *want);
      CHECK(gemm_linear_from_bf16(y, x16, W, b, n, in, out, GEMM_ACT_GELU_ERF, 1));
      gemm_linear(want, xy, W, b, n, in, out, GEMM_ACT_GELU_ERF, 1);
      CHECK(memcmp(y, want, (size_t)n * out * sizeof *y) == 0);
      free(x16);
    } else { /* f32 or int8 weights, or rows too wide */
      CHECK(!gemm_linear_from_bf16(y, (const uint16_t *)xn, W, b, n, in, out, GEMM_ACT_NONE, 0));
    }
    free(y16);
    gemm_stack_free(st);
    gemm_forget(W), gemm_forget(W1), gemm_forget(W2);
    free(x), free(g), free(beta), free(W), free(b), free(W1), free(W2), free(b1), free(xn);
    free(ref), free(h), free(y), free(want), free(xy), free(y0);
  }
  printf("  normed %s ok\n", gemm_precision_name(prec));
}

/* gemm_panel_columns: the bits of gemm_panel_part's columns, whatever the order of the ids
 * asked (ascending, repeated, scattered), on every kernel path. */
static void panel_columns(void) {
  const char *paths[3];
  int npaths = vk_available(paths, 3);
  const int in = 77, out = 300, n = 3;
  float *x = test_rand_buf((size_t)n * in, 1), *W = test_rand_buf((size_t)out * in, 0.2f);
  float *b = test_rand_buf((size_t)out, 0.5f), *y = malloc((size_t)out * sizeof *y);
  int ids[400];
  float got[400];
  gemm_panel g;
  CHECK(gemm_panel_pack(&g, W, out, in) == VLP_OK);
  for (int pi = 0; pi < npaths; pi++) {
    CHECK(vk_force(paths[pi]));
    int same = 1;
    for (int r = 0; r < n; r++) {
      gemm_panel_part(&g, y, out, x + (size_t)r * in, in, 1, r ? b : NULL, GEMM_ACT_NONE, NULL, out,
                      0, g.panels);
      for (int i = 0; i < out; i++) ids[i] = i;                             /* every column */
      for (int i = 0; i < 100; i++) ids[out + i] = (i * 97 + r * 13) % out; /* scattered */
      ids[out + 50] = ids[out + 49];                                        /* repeated */
      gemm_panel_columns(&g, got, x + (size_t)r * in, r ? b : NULL, ids, 400);
      for (int i = 0; i < 400; i++) same &= memcmp(&got[i], &y[ids[i]], sizeof(float)) == 0;
    }
    CHECK(same);
  }
  vk_force(paths[0]);
  printf("  panel columns ok\n");
  gemm_panel_free(&g);
  free(x), free(W), free(b), free(y);
}

/* gemm_bound: on shapes with ragged inputs and outputs, every output of the f32 panels and
 * the exact (double) product lie within est +- rad; the radii stay under a tenth of
 * sum |x_i w_i| (a bound that says nothing would prune nothing); a row with a NaN gets
 * infinite radii. */
static void bounds(void) {
  if (!gemm_bound_available()) {
    printf("  int8 bounds: no AVX512_VNNI on this CPU (greedy steps read the f32 head)\n");
    return;
  }
  const int shapes[][3] = {{1, 768, 300}, {3, 37, 130}, {8, 64, 64}, {5, 130, 65}, {2, 3, 70}};
  for (size_t s = 0; s < sizeof shapes / sizeof shapes[0]; s++) {
    const int n = shapes[s][0], in = shapes[s][1], out = shapes[s][2];
    float *x = test_rand_buf((size_t)n * in, 1), *W = test_rand_buf((size_t)out * in, 0.05f);
    float *b = test_rand_buf((size_t)out, 0.5f), *y = malloc((size_t)n * out * sizeof *y);
    float *est = malloc((size_t)n * out * sizeof *est),
          *rad = malloc((size_t)n * out * sizeof *rad);
    x[in / 2] = 9.0f; /* an outlier in the first row */
    gemm_panel g;
    gemm_bound q;
    CHECK(gemm_panel_pack(&g, W, out, in) == VLP_OK);
    CHECK(gemm_bound_make(&q, &g, 1) == VLP_OK);
    unsigned char *u = malloc((size_t)n * gemm_bound_row_bytes(&q));
    gemm_bound_row st[8];
    gemm_bound_quantize(&q, x, in, n, u, st);
    gemm_bound_part(&q, est, rad, out, u, st, n, b, 0, q.panels / 2);
    gemm_bound_part(&q, est, rad, out, u, st, n, b, q.panels / 2, q.panels);
    gemm_panel_part(&g, y, out, x, in, n, b, GEMM_ACT_NONE, NULL, out, 0, g.panels);
    int inside = 1;
    double rsum = 0, ysum = 0;
    for (int r = 0; r < n; r++)
      for (int j = 0; j < out; j++) {
        double exact = b[j], worst = 0;
        for (int k = 0; k < in; k++) {
          double xw = (double)x[(size_t)r * in + k] * W[(size_t)j * in + k];
          exact += xw, worst += fabs(xw);
        }
        size_t at = (size_t)r * out + j;
        inside &= fabs(y[at] - est[at]) <= rad[at] && fabs(exact - est[at]) <= rad[at];
        rsum += rad[at], ysum += worst;
      }
    if (!inside || !(rsum < 0.1 * ysum))
      printf("  FAIL bounds n=%d in=%d out=%d: inside %d, mean radius %.3g of mean |x|.|w| %.3g\n",
             n, in, out, inside, rsum / n / out, ysum / n / out);
    CHECK(inside);
    CHECK(rsum < 0.1 * ysum);
    x[1] = NAN;
    gemm_bound_quantize(&q, x, in, 1, u, st);
    gemm_bound_part(&q, est, rad, out, u, st, 1, b, 0, q.panels);
    CHECK(isinf(rad[0]) && isinf(rad[out - 1]));
    gemm_bound_free(&q);
    gemm_panel_free(&g);
    free(x), free(W), free(b), free(y), free(est), free(rad), free(u);
  }
  printf("  int8 bounds ok\n");
}

int main(void) {
  panel_columns();
  bounds();
  run_backend("openblas");
  stacked(VLP_PRECISION_F32, 1e-5);
  {
    gemm_stack *st = NULL; /* a part without data is refused */
    const float *none[2] = {NULL, NULL};
    CHECK(gemm_stack_new(none, NULL, 2, 4, 4, &st) == VLP_ERR_INVALID && st == NULL);
    float w[16] = {0}, bias[4] = {1, 2, 3, 4}; /* after a part whose bias was copied */
    const float *ws[2] = {w, NULL}, *bs[2] = {bias, NULL};
    CHECK(gemm_stack_new(ws, bs, 2, 4, 4, &st) == VLP_ERR_INVALID && st == NULL);
  }
  panels();
  mlp(VLP_PRECISION_F32, 1e-5);
  normed(VLP_PRECISION_F32);
  if (gemm_select("dnnl")) {
    run_backend("dnnl");
    split_rows(VLP_PRECISION_F32, 1e-5);
    column_parts();
    panels();
    stacked(VLP_PRECISION_F32, 1e-5);
    mlp(VLP_PRECISION_F32, 1e-5);
    if (gemm_supports(VLP_PRECISION_BF16, NULL)) stacked(VLP_PRECISION_BF16, 2e-2);
    if (gemm_supports(VLP_PRECISION_BF16, NULL)) mlp(VLP_PRECISION_BF16, 3e-2);
    if (gemm_supports(VLP_PRECISION_INT8, NULL)) mlp(VLP_PRECISION_INT8, 6e-2);
    if (gemm_supports(VLP_PRECISION_INT8, NULL)) stacked(VLP_PRECISION_INT8, 4e-2);
    normed(VLP_PRECISION_F32);
    if (gemm_supports(VLP_PRECISION_BF16, NULL)) normed(VLP_PRECISION_BF16);
    if (gemm_supports(VLP_PRECISION_INT8, NULL)) normed(VLP_PRECISION_INT8);
  } else
    printf("dnnl backend not available here\n");
  CHECK(gemm_fallbacks() == 0); /* every prepared product ran on its own backend */
  CHECK(!gemm_select("no-such-backend"));
  CHECK(gemm_precision_parse("bf16") == VLP_PRECISION_BF16);
  CHECK(gemm_precision_parse("fp8") == -1);
  return test_done();
}
