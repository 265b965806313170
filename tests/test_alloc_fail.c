/* test_alloc_fail: allocation failure injected in model loading, and in encoding an image
 * (preprocessing, the vision tower), gives an error, not a crash.
 * This program replaces malloc & co. (glibc allows a program to define them) with versions
 * that fail the Nth allocation; it loads each tiny golden model once to count its
 * allocations, then again with the 1st, 2nd, ... allocation failing (every one for the first
 * 200, then a spread up to the total): each load must return an error with a message, never
 * crash, and a normal load afterwards must still work. Not built with sanitizers (their
 * allocator replaces malloc too). Runs once per GEMM backend (VLP_GEMM): oneDNN packs the
 * weights at load, through its own C++ allocations. */
#include <errno.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include "testlib.h"
#include "vlp.h"

extern void *__libc_malloc(size_t);
extern void *__libc_calloc(size_t, size_t);
extern void *__libc_realloc(void *, size_t);
extern void *__libc_memalign(size_t, size_t);
extern void __libc_free(void *);

static long countdown = -1; /* allocations left before the failing one; -1: never fail */
static long counted;        /* allocations made while counting */
static int failed_once;     /* the injected failure happened */

/* Atomic: a library may allocate from other threads (OpenMP workers) meanwhile. */
static int fail_now(void) {
  __atomic_fetch_add(&counted, 1, __ATOMIC_RELAXED);
  if (__atomic_load_n(&countdown, __ATOMIC_RELAXED) < 0) return 0;
  if (__atomic_sub_fetch(&countdown, 1, __ATOMIC_RELAXED) == -1) {
    failed_once = 1;
    return 1;
  }
  return 0;
}

void *malloc(size_t n) {
  if (fail_now()) {
    errno = ENOMEM;
    return NULL;
  }
  return __libc_malloc(n);
}

void *calloc(size_t a, size_t b) {
  if (fail_now()) {
    errno = ENOMEM;
    return NULL;
  }
  return __libc_calloc(a, b);
}

void *realloc(void *p, size_t n) {
  if (n && fail_now()) {
    errno = ENOMEM;
    return NULL;
  }
  return __libc_realloc(p, n);
}

void free(void *p) {
  __libc_free(p);
}

int posix_memalign(void **out, size_t align, size_t n) {
  if (fail_now()) return ENOMEM;
  void *p = __libc_memalign(align, n);
  if (!p) return ENOMEM;
  *out = p;
  return 0;
}

void *aligned_alloc(size_t align, size_t n) {
  if (fail_now()) {
    errno = ENOMEM;
    return NULL;
  }
  return __libc_memalign(align, n);
}

void *memalign(size_t align, size_t n) {
  return aligned_alloc(align, n);
}

/* What a call with allocation `at` failing came to: 1 done, 0 failed with a message, -1
 * failed without one (said on stderr, naming `what`). */
static int outcome(vlp_status st, const char *what, long at) {
  if (st == VLP_OK) return 1;
  const char *msg = vlp_last_error();
  if (msg && msg[0]) return 0;
  fprintf(stderr, "FAIL: %s: allocation %ld failed: error %d without a message\n", what, at, st);
  return -1;
}

/* Load with the allocation `at` failing (-1: none): outcome(). */
static int load(const char *dir, long at, vlp_model **m) {
  countdown = at;
  failed_once = 0;
  counted = 0;
  vlp_status st = vlp_model_load(dir, m);
  countdown = -1;
  return outcome(st, dir, at);
}

static void check_model(const char *dir) {
  vlp_model *m = NULL;
  if (load(dir, -1, &m) != 1) {
    fprintf(stderr, "FAIL: %s does not load: %s\n", dir, vlp_last_error());
    CHECK(0);
    return;
  }
  long total = counted;
  vlp_model_free(m);
  int errors = 0, survived = 0, tried = 0;
  for (long at = 0; at < total; at += at < 200 ? 1 : 1 + total / 300) {
    m = NULL;
    int r = load(dir, at, &m);
    tried++;
    if (r < 0) errors++;
    if (r == 1) { /* the failed allocation was optional (a cache, a fallback): still fine */
      survived++;
      vlp_model_free(m);
    }
  }
  CHECK(errors == 0); /* every injected failure gives an error with a message */
  m = NULL;
  CHECK(load(dir, -1, &m) == 1); /* and loading works again afterwards */
  vlp_model_free(m);
  printf("%s: %ld allocations, %d failure points tried, %d loads survived a failure\n", dir, total,
         tried, survived);
}

/* One decoded image through a new session's preprocessing (resize: per-thread buffers) and
 * vision tower (workspace, GEMM scratch) with allocation `at` failing (-1: none):
 * outcome(). */
static int encode(const vlp_model *m, const vlp_image *img, long at) {
  vlp_session *s = NULL;
  vlp_features *f = NULL;
  countdown = at;
  failed_once = 0;
  counted = 0;
  vlp_status st = vlp_session_new(m, NULL, &s);
  if (!st) st = vlp_encode_images(s, img, 1, 0, &f);
  countdown = -1;
  vlp_features_free(f);
  vlp_session_free(s);
  return outcome(st, "encode", at);
}

/* Every allocation of an encode failing in turn: an error with a message or a result, never
 * a crash; a normal encode afterwards works. */
static void check_encode(const char *dir, const char *image) {
  vlp_model *m = NULL;
  vlp_image img = {0};
  CHECK(vlp_model_load(dir, &m) == VLP_OK && vlp_image_load(image, &img) == VLP_OK);
  if (!m || !img.rgb) return;
  CHECK(encode(m, &img, -1) == 1);
  long total = counted;
  int errors = 0, failed = 0, tried = 0;
  for (long at = 0; at < total; at++, tried++) {
    int r = encode(m, &img, at);
    errors += r < 0;
    failed += r == 0;
  }
  CHECK(errors == 0);
  CHECK(failed > 0); /* the injection reached the encode */
  CHECK(encode(m, &img, -1) == 1);
  printf("%s: encode of %s: %ld allocations, %d failure points tried, %d gave errors\n", dir, image,
         total, tried, failed);
  vlp_image_free(&img);
  vlp_model_free(m);
}

/* Decoding an image file with each of its allocations failing in turn: an error with a
 * message or the image, never a crash (libpng and libjpeg report a failed allocation through
 * their error handlers, which must unwind cleanly). */
static void check_decode(const char *path) {
  vlp_image img = {0};
  countdown = -1;
  counted = 0;
  CHECK(vlp_image_load(path, &img) == VLP_OK);
  vlp_image_free(&img);
  long total = counted;
  int errors = 0, failed = 0;
  for (long at = 0; at < total; at++) {
    countdown = at;
    vlp_status st = vlp_image_load(path, &img);
    countdown = -1;
    int r = outcome(st, path, at);
    if (r == 1) vlp_image_free(&img);
    errors += r < 0;
    failed += r == 0;
  }
  CHECK(errors == 0 && failed > 0);
  printf("%s: %ld allocations, %d failures gave errors\n", path, total, failed);
}

/* The first load in a process also sets up the libraries (oneDNN's engine, its JIT and
 * caches, OpenMP's threads): each failure point there gets a fresh process from fork(),
 * which must exit normally (0: loaded or failed with a message), never on a signal. */
static void check_first_load(const char *dir) {
  int fd[2];
  long total = 0;
  CHECK(pipe(fd) == 0);
  pid_t pid = fork();
  if (pid == 0) {
    vlp_model *m = NULL;
    int r = load(dir, -1, &m);
    long n = counted;
    _exit(r == 1 && write(fd[1], &n, sizeof n) == sizeof n ? 0 : 1);
  }
  int ws = 0;
  waitpid(pid, &ws, 0);
  CHECK(WIFEXITED(ws) && WEXITSTATUS(ws) == 0 && read(fd[0], &total, sizeof total) == sizeof total);
  close(fd[0]), close(fd[1]);
  int crashes = 0, tried = 0;
  for (long at = 0; at < total; at++, tried++) {
    fflush(stdout);
    fflush(stderr);
    if ((pid = fork()) == 0) {
      vlp_model *m = NULL;
      _exit(load(dir, at, &m) < 0 ? 1 : 0);
    }
    waitpid(pid, &ws, 0);
    if (!WIFEXITED(ws) || WEXITSTATUS(ws) != 0) {
      fprintf(stderr, "FAIL: %s: first load, allocation %ld failed: %s %d\n", dir, at,
              WIFSIGNALED(ws) ? "killed by signal" : "exit",
              WIFSIGNALED(ws) ? WTERMSIG(ws) : WEXITSTATUS(ws));
      crashes++;
    }
  }
  CHECK(tried > 0 && crashes == 0);
  printf("%s: first load in a fresh process: %ld allocations, %d failure points tried\n", dir,
         total, tried);
}

int main(void) {
  /* the GEMM backend comes from VLP_GEMM: ctest runs this once per backend */
  const char *gemm = getenv("VLP_GEMM");
  printf("GEMM backend: %s\n", gemm ? gemm : "default");
  check_first_load("golden/models/clip-tiny"); /* before anything else initialises vlp */
  check_model("golden/models/blip-caption-tiny");
  check_model("golden/models/clip-tiny");
  check_model("golden/models/blip-itm-tiny");
  static const char *const files[] = {"golden/images/coffee.jpg",
                                      "golden/images/edge_progressive.jpg",
                                      "golden/images/edge_cmyk.jpg",
                                      "golden/images/edge_exif_rot90.jpg",
                                      "golden/images/chelsea_cat.png",
                                      "golden/images/edge_interlaced.png",
                                      "golden/images/edge_palette.png",
                                      "golden/images/edge_gray16.png",
                                      "golden/images/edge_rgba_transparent.png"};
  for (size_t i = 0; i < sizeof files / sizeof files[0]; i++) check_decode(files[i]);
  check_encode("golden/models/clip-tiny", "golden/images/coffee.jpg");
  check_encode("golden/models/blip-caption-tiny", "golden/images/chelsea_cat.png");
  return test_done();
}
