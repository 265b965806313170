/* fuzz_util: scratch files for the fuzz targets (see fuzz_util.h). */
#include "fuzz_util.h"

#include <dirent.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

static char scratch[256];

static void remove_tree(const char *path) {
  DIR *d = opendir(path);
  if (d) {
    for (struct dirent *e; (e = readdir(d));) {
      if (!strcmp(e->d_name, ".") || !strcmp(e->d_name, "..")) continue;
      char p[1024];
      snprintf(p, sizeof p, "%s/%s", path, e->d_name);
      remove_tree(p);
    }
    closedir(d);
    rmdir(path);
  } else {
    unlink(path);
  }
}

static void cleanup(void) {
  if (scratch[0]) remove_tree(scratch);
}

const char *fuzz_dir(void) {
  if (!scratch[0]) {
    const char *tmp = getenv("TMPDIR");
    snprintf(scratch, sizeof scratch, "%s/vlp_fuzz_XXXXXX", tmp && *tmp ? tmp : "/tmp");
    if (!mkdtemp(scratch)) abort();
    atexit(cleanup);
  }
  return scratch;
}

int fuzz_put(const char *dir, const char *name, const uint8_t *data, size_t size) {
  char p[1024];
  snprintf(p, sizeof p, "%s/%s", dir, name);
  unlink(p);  // it may be a link into the golden data: never write through it
  FILE *f = fopen(p, "wb");
  if (!f) return -1;
  size_t n = size ? fwrite(data, 1, size, f) : 0;
  return (fclose(f) || n != size) ? -1 : 0;
}

char *fuzz_write(const char *name, const uint8_t *data, size_t size) {
  char p[1024];
  snprintf(p, sizeof p, "%s/%s", fuzz_dir(), name);
  if (fuzz_put(fuzz_dir(), name, data, size)) return NULL;
  return strdup(p);
}

char *fuzz_model_dir(const char *sub, const char *model, const char *const *except) {
  char dir[1024], src[1024];
  snprintf(dir, sizeof dir, "%s/%s", fuzz_dir(), sub);
  snprintf(src, sizeof src, "%s/models/%s", VLP_FUZZ_GOLDEN, model);
  remove_tree(dir);
  if (mkdir(dir, 0700)) return NULL;
  DIR *d = opendir(src);
  if (!d) return NULL;
  for (struct dirent *e; (e = readdir(d));) {
    if (e->d_name[0] == '.') continue;
    int skip = 0;
    for (int i = 0; except && except[i]; i++) skip |= !strcmp(except[i], e->d_name);
    if (skip) continue;
    char from[2048], to[2048];
    snprintf(from, sizeof from, "%s/%s", src, e->d_name);
    snprintf(to, sizeof to, "%s/%s", dir, e->d_name);
    if (symlink(from, to)) {
      closedir(d);
      return NULL;
    }
  }
  closedir(d);
  return strdup(dir);
}
