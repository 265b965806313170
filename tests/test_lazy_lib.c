/* test_lazy_lib: core/lazy_lib.c opens libraries at run time and fills a table of their
 * functions; a missing library or function fails with a message naming it, every time. */
#include <string.h>

#include "core/lazy_lib.h"
#include "testlib.h"

typedef struct {
  double (*cos)(double);
  size_t (*strlen)(const char *);
} table;

int main(void) {
  const char *why = NULL;

  /* each function from the first library that has it; an alternative that is missing */
  static const char *const libs[] = {"libvlp-no-such-library.so.1|libm.so.6", "libc.so.6"};
  static const char *const names[] = {"cos", "strlen"};
  table t = {0};
  lazy_lib ok = LAZY_LIB(libs, names, &t);
  CHECK(ok.nlibs == 2 && ok.n == 2);
  CHECK(lazy_lib_load(&ok, &why) == 0);
  CHECK(t.cos && t.cos(0.0) == 1.0);
  CHECK(t.strlen && t.strlen("four") == 4);
  CHECK(lazy_lib_load(&ok, &why) == 0); /* loaded once, then the same answer */

  static const char *const missing_fn[] = {"cos", "vlp_no_such_function"};
  table u = {0};
  lazy_lib nofn = LAZY_LIB(libs, missing_fn, &u);
  CHECK(lazy_lib_load(&nofn, &why) == -1);
  /* every library searched, by the name that opened */
  CHECK(why && strstr(why, "libm.so.6, libc.so.6 has no function vlp_no_such_function"));
  CHECK(u.cos == NULL); /* nothing filled on failure */

  static const char *const nolib[] = {"libm.so.6", "libvlp-no-such-library.so.1"};
  lazy_lib none = LAZY_LIB(nolib, names, &u);
  why = NULL;
  CHECK(lazy_lib_load(&none, &why) == -1);
  CHECK(why && strstr(why, "libvlp-no-such-library.so.1"));
  why = NULL;
  CHECK(lazy_lib_load(&none, &why) == -1); /* still failing, still saying why */
  CHECK(why && strstr(why, "libvlp-no-such-library.so.1"));
  CHECK(lazy_lib_load(&none, NULL) == -1);
  return test_done();
}
