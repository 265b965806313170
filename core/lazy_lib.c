/* lazy_lib: optional shared libraries opened at their first use (see lazy_lib.h). */
#include "core/lazy_lib.h"

#include <dlfcn.h>
#include <stdio.h>
#include <string.h>

enum { LIBS_MAX = 8, NAMES_MAX = 64, NAME_LEN = 256 };

/* dlopen the first of the '|'-separated alternatives in spec that opens (its name into
 * name, NAME_LEN bytes); NULL with the first one's error in why otherwise. */
static void *open_one(const char *spec, char *name, char *why, size_t why_size) {
  int first = 1;
  for (const char *p = spec; *p;) {
    size_t len = strcspn(p, "|");
    snprintf(name, NAME_LEN, "%.*s", (int)len, p);
    void *h = dlopen(name, RTLD_NOW | RTLD_LOCAL);
    if (h) return h;
    const char *e = dlerror(); /* names the file and the reason */
    if (first) snprintf(why, why_size, "%s", e ? e : name);
    first = 0;
    p += len + (p[len] == '|');
  }
  return NULL;
}

static int open_all(lazy_lib *l) {
  void *lib[LIBS_MAX], *fn[NAMES_MAX];
  char opened[LIBS_MAX][NAME_LEN];
  if (l->nlibs > LIBS_MAX || l->n > NAMES_MAX) {
    snprintf(l->why, sizeof l->why, "lazy_lib: too many libraries or functions");
    return -1;
  }
  for (int i = 0; i < l->nlibs; i++)
    if (!(lib[i] = open_one(l->libs[i], opened[i], l->why, sizeof l->why))) return -1;
  for (int f = 0; f < l->n; f++) {
    fn[f] = NULL;
    for (int i = 0; i < l->nlibs && !fn[f]; i++) fn[f] = dlsym(lib[i], l->names[f]);
    if (!fn[f]) { /* name every library searched: "a, b has no function f" */
      size_t at = 0;
      for (int i = 0; i < l->nlibs && at < sizeof l->why; i++)
        at += (size_t)snprintf(l->why + at, sizeof l->why - at, "%s%s", i ? ", " : "", opened[i]);
      if (at < sizeof l->why)
        snprintf(l->why + at, sizeof l->why - at, " has no function %s", l->names[f]);
      return -1;
    }
  }
  memcpy(l->table, fn, (size_t)l->n * sizeof fn[0]); /* POSIX: as function pointers */
  return 0;
}

int lazy_lib_load(lazy_lib *l, const char **why) {
  pthread_mutex_lock(&l->lock);
  if (!l->tried) l->tried = 1, l->failed = open_all(l) != 0;
  int failed = l->failed;
  pthread_mutex_unlock(&l->lock);
  if (failed && why) *why = l->why;
  return failed ? -1 : 0;
}
