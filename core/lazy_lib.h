/* lazy_lib: optional shared libraries opened at their first use (dlopen) instead of when vlp
 * starts. Each library that vlp links costs every run start-up time, twice (vlp runs itself
 * again, cli/wait_policy.c), even a run that never uses it. On our 2-core machine: FFmpeg's
 * ~130 libraries ~60 ms, libcurl's ~30 ~11 ms, libheif with its decoders ~7 ms.
 * media/ffmpeg_lazy.h, media/heif_lazy.h and hub/curl_lazy.h build their function tables on
 * this: a struct of typed pointers, one per name, filled by lazy_lib_load (LAZY_LIB_DEFINE). */
#ifndef VLP_CORE_LAZY_LIB_H
#define VLP_CORE_LAZY_LIB_H

#include <pthread.h>
#include <stddef.h>

typedef struct {
  /* set by the user of the library */
  const char *const *libs; /* file names, a library's dependencies before it; "A|B": A, else B */
  int nlibs;
  const char *const *names; /* the functions, in the order of the pointers in *table */
  int n;
  void *table; /* n function pointers, filled on success */
  /* state */
  pthread_mutex_t lock;
  int tried, failed;
  char why[512];
} lazy_lib;

/* A lazy_lib for static storage: LAZY_LIB(libs, names, &table). */
#define LAZY_LIB(libs, names, table)                                                       \
  {                                                                                        \
    (libs), sizeof(libs) / sizeof((libs)[0]), (names), sizeof(names) / sizeof((names)[0]), \
        (table), PTHREAD_MUTEX_INITIALIZER, 0, 0, ""                                       \
  }

/* Define `int LOAD(const char **why)`, lazy_lib_load over a static lazy_lib that fills TABLE
 * (a struct of typed function pointers) with the functions of the X-macro list FUNCTIONS
 * (X(name) for each, in the order of TABLE's members) from LIBS (a static array). */
#define LAZY_LIB_NAME_(name) #name,
#define LAZY_LIB_DEFINE(LOAD, TABLE, FUNCTIONS, LIBS)                                            \
  static const char *const LOAD##_names[] = {FUNCTIONS(LAZY_LIB_NAME_)};                         \
  _Static_assert(sizeof(TABLE) == sizeof LOAD##_names / sizeof LOAD##_names[0] * sizeof(void *), \
                 "one pointer per name");                                                        \
  static lazy_lib LOAD##_lib = LAZY_LIB(LIBS, LOAD##_names, &(TABLE));                           \
  int LOAD(const char **why) {                                                                   \
    return lazy_lib_load(&LOAD##_lib, why);                                                      \
  }

/* Open the libraries and look up every name, each in the first library that has it, the
 * first time (thread-safe); they stay open for the life of the process, as linked ones do.
 * 0 when all were found; else -1, every time, and *why (may be NULL) says which library or
 * function is missing. */
int lazy_lib_load(lazy_lib *l, const char **why);

#endif
