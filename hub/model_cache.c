/* model_cache: the model cache folder (VLP_HOME) and the resolution of -m names to folders.
 * Layout (the Hugging Face hub cache's, so its folders work too):
 *   CACHE/models--ORG--NAME/refs/REVISION        holds the commit id
 *   CACHE/models--ORG--NAME/snapshots/COMMIT/... config.json, model.safetensors, ... */
#include "hub/model_cache.h"

#include <dirent.h>
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "core/error.h"

#define PATH_CAP 4096

vlp_status cache_path(char *out, size_t size, const char *fmt, ...) {
  va_list ap;
  va_start(ap, fmt);
  int n = vsnprintf(out, size, fmt, ap);
  va_end(ap);
  if (n < 0 || (size_t)n >= size)
    return vlp_fail(VLP_ERR_INVALID, "%.200s...: path too long", size ? out : "");
  return VLP_OK;
}

static int is_dir(const char *p) {
  struct stat sb;
  return stat(p, &sb) == 0 && S_ISDIR(sb.st_mode);
}

static int valid_part(const char *s, size_t n) {
  if (n == 0 || n > 96 || s[0] == '.' || s[0] == '-') return 0;
  for (size_t i = 0; i < n; i++) {
    char c = s[i];
    int ok = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
             c == '.' || c == '_' || c == '-';
    if (!ok) return 0;
    if (i && (c == '-' || c == '.') && s[i - 1] == c) return 0; /* "--", ".." */
  }
  return 1;
}

int cache_valid_repo_id(const char *id) {
  if (!id) return 0;
  const char *slash = strchr(id, '/');
  if (!slash) return valid_part(id, strlen(id));
  return !strchr(slash + 1, '/') && valid_part(id, (size_t)(slash - id)) &&
         valid_part(slash + 1, strlen(slash + 1));
}

vlp_status cache_repo_dir(const char *cache, const char *repo_id, char *out, size_t size) {
  if (!cache_valid_repo_id(repo_id))
    return vlp_fail(VLP_ERR_INVALID, "\"%.200s\" is not a repository id (ORG/NAME)", repo_id);
  const char *slash = strchr(repo_id, '/');
  if (!slash) return cache_path(out, size, "%s/models--%s", cache, repo_id);
  return cache_path(out, size, "%s/models--%.*s--%s", cache, (int)(slash - repo_id), repo_id,
                    slash + 1);
}

void cache_revision_folder(const char *revision, char *out, size_t size) {
  size_t k = 0;
  for (const char *p = revision; *p && k + 3 < size; p++) {
    if (*p == '/') {
      out[k++] = '-';
      out[k++] = '-';
    } else {
      out[k++] = *p;
    }
  }
  if (size) out[k] = 0;
}

vlp_status cache_mkdirs(const char *path) {
  char p[PATH_CAP];
  vlp_status st = cache_path(p, sizeof p, "%s", path);
  if (st) return st;
  for (char *s = p + 1;; s++) {
    if (*s != '/' && *s) continue;
    char keep = *s;
    *s = 0;
    if (mkdir(p, 0755) != 0 && errno != EEXIST)
      return vlp_fail(VLP_ERR_IO, "%s: cannot create folder: %s", p, strerror(errno));
    if (!keep) break;
    *s = keep;
  }
  if (!is_dir(path)) return vlp_fail(VLP_ERR_IO, "%s: not a folder", path);
  return VLP_OK;
}

vlp_status vlp_cache_dir(char *out, size_t size) {
  const char *home = getenv("VLP_HOME");
  if (home && home[0]) return cache_path(out, size, "%s", home);
  home = getenv("HOME");
  if (!home || !home[0])
    return vlp_fail(VLP_ERR_INVALID, "neither VLP_HOME nor HOME is set: no model cache folder");
  return cache_path(out, size, "%s/.cache/vlp", home);
}

/* The Hugging Face hub cache: HF_HUB_CACHE, HF_HOME/hub, XDG_CACHE_HOME/huggingface/hub or
 * ~/.cache/huggingface/hub. */
static int hf_cache_dir(char *out, size_t size) {
  const char *e;
  if ((e = getenv("HF_HUB_CACHE")) && e[0]) return !cache_path(out, size, "%s", e);
  if ((e = getenv("HF_HOME")) && e[0]) return !cache_path(out, size, "%s/hub", e);
  if ((e = getenv("XDG_CACHE_HOME")) && e[0])
    return !cache_path(out, size, "%s/huggingface/hub", e);
  if ((e = getenv("HOME")) && e[0]) return !cache_path(out, size, "%s/.cache/huggingface/hub", e);
  return 0;
}

/* The snapshot folder of repo_dir for revision rev: refs/REV names the commit; a commit id
 * can also be given directly. */
static vlp_status snapshot_of(const char *repo_dir, const char *rev, char *out, size_t size) {
  char ref[PATH_CAP], commit[256] = "";
  if (strstr(rev, "..") || rev[0] == '/')
    return vlp_fail(VLP_ERR_INVALID, "%s: bad revision \"%.200s\"", repo_dir, rev);
  vlp_status st = cache_path(ref, sizeof ref, "%s/refs/%s", repo_dir, rev);
  if (st) return st;
  FILE *f = fopen(ref, "r");
  if (f) {
    if (!fgets(commit, sizeof commit, f)) commit[0] = 0;
    fclose(f);
    commit[strcspn(commit, " \t\r\n")] = 0;
    if (!commit[0] || strchr(commit, '/') || strstr(commit, ".."))
      return vlp_fail(VLP_ERR_FORMAT, "%s: not a commit id", ref);
    if ((st = cache_path(out, size, "%s/snapshots/%s", repo_dir, commit))) return st;
    if (is_dir(out)) return VLP_OK;
    return vlp_fail(VLP_ERR_IO, "%s: refs/%s names commit %s but there is no snapshot %s", repo_dir,
                    rev, commit, out);
  }
  char folder[256];
  cache_revision_folder(rev, folder, sizeof folder);
  if ((st = cache_path(out, size, "%s/snapshots/%s", repo_dir, folder))) return st;
  if (is_dir(out)) return VLP_OK;
  return vlp_fail(VLP_ERR_IO, "%s: no snapshot for revision %s (no refs/%s)", repo_dir, rev, rev);
}

/* Find the repo folder of name ("ORG/NAME" or "NAME") in root. Returns 1 and fills out when
 * found, 0 when not, -1 on an error (ambiguous name). */
static int find_repo(const char *root, const char *name, char *out, size_t size) {
  if (strchr(name, '/') || !is_dir(root)) {
    if (cache_repo_dir(root, name, out, size)) return 0;
    return is_dir(out);
  }
  DIR *d = opendir(root);
  if (!d) return 0;
  size_t nl = strlen(name);
  int found = 0;
  char first[512] = "";
  struct dirent *e;
  while ((e = readdir(d))) {
    const char *s = e->d_name;
    if (strncmp(s, "models--", 8)) continue;
    s += 8;
    size_t sl = strlen(s);
    int match = !strcmp(s, name) ||
                (sl > nl + 2 && !strcmp(s + sl - nl, name) && !strncmp(s + sl - nl - 2, "--", 2));
    if (!match) continue;
    char full[PATH_CAP];
    if (cache_path(full, sizeof full, "%s/%s", root, e->d_name) || !is_dir(full)) continue;
    if (found++) {
      vlp_fail(VLP_ERR_INVALID,
               "%s: several cached models have this name (%s, %s, ...): give ORG/NAME", name, first,
               e->d_name);
      closedir(d);
      return -1;
    }
    snprintf(first, sizeof first, "%s", e->d_name);
    snprintf(out, size, "%s", full);
  }
  closedir(d);
  return found;
}

vlp_status vlp_resolve_model(const char *name, char *out, size_t size) {
  if (!name || !name[0]) return vlp_fail(VLP_ERR_INVALID, "no model given");
  struct stat sb;
  char tmp[PATH_CAP];
  if (stat(name, &sb) == 0) {
    /* A hub cache repo folder (models--ORG--NAME) stands for its main snapshot. */
    if (S_ISDIR(sb.st_mode) && !cache_path(tmp, sizeof tmp, "%s/config.json", name) &&
        stat(tmp, &sb) != 0 && !cache_path(tmp, sizeof tmp, "%s/snapshots", name) && is_dir(tmp) &&
        !cache_path(tmp, sizeof tmp, "%s/refs", name) && is_dir(tmp))
      return snapshot_of(name, "main", out, size);
    return cache_path(out, size, "%s", name);
  }
  /* Not a path: a cache name NAME or ORG/NAME, with an optional @REVISION. */
  char repo[256], rev[256] = "main";
  const char *at = strrchr(name, '@');
  size_t rl = at ? (size_t)(at - name) : strlen(name);
  if (rl >= sizeof repo || (at && (!at[1] || strlen(at + 1) >= sizeof rev)))
    return cache_path(out, size, "%s", name);
  memcpy(repo, name, rl);
  repo[rl] = 0;
  if (at) snprintf(rev, sizeof rev, "%s", at + 1);
  if (!cache_valid_repo_id(repo)) return cache_path(out, size, "%s", name); /* a missing path */

  char roots[2][PATH_CAP];
  int nroots = 0;
  if (!vlp_cache_dir(roots[nroots], sizeof roots[0])) nroots++;
  if (hf_cache_dir(roots[nroots], sizeof roots[0])) nroots++;
  for (int i = 0; i < nroots; i++) {
    int r = find_repo(roots[i], repo, tmp, sizeof tmp);
    if (r < 0) return VLP_ERR_INVALID;
    if (r > 0) return snapshot_of(tmp, rev, out, size);
  }
  return vlp_fail(VLP_ERR_IO,
                  "%s: no such model folder, and no cached model of that name in %s%s%s "
                  "(vlp pull ORG/NAME downloads one)",
                  name, nroots > 0 ? roots[0] : "VLP_HOME", nroots > 1 ? " or " : "",
                  nroots > 1 ? roots[1] : "");
}

/* ---- listing ------------------------------------------------------------------------- */

static int cmp_model(const void *a, const void *b) {
  const vlp_cached_model *x = a, *y = b;
  int c = strcmp(x->name, y->name);
  return c ? c : strcmp(x->revision, y->revision);
}

static vlp_status add_model(vlp_cached_model **list, int *n, int *cap, const char *name,
                            const char *rev, const char *path) {
  if (*n == *cap) {
    int nc = *cap ? 2 * *cap : 16;
    vlp_cached_model *l = realloc(*list, (size_t)nc * sizeof *l);
    if (!l) return vlp_fail(VLP_ERR_NOMEM, "out of memory listing the model cache");
    *list = l;
    *cap = nc;
  }
  vlp_cached_model *m = &(*list)[*n];
  m->name = strdup(name);
  m->revision = strdup(rev);
  m->path = strdup(path);
  if (!m->name || !m->revision || !m->path) {
    free(m->name), free(m->revision), free(m->path);
    return vlp_fail(VLP_ERR_NOMEM, "out of memory listing the model cache");
  }
  (*n)++;
  return VLP_OK;
}

/* Add the models of one cache folder (the hub layout) to the list. */
static vlp_status scan_cache(const char *cache, vlp_cached_model **list, int *n, int *cap) {
  DIR *d = opendir(cache);
  if (!d)
    return errno == ENOENT ? VLP_OK
                           : vlp_fail(VLP_ERR_IO, "%s: cannot read: %s", cache, strerror(errno));
  vlp_status st = VLP_OK;
  struct dirent *e;
  while (!st && (e = readdir(d))) {
    if (strncmp(e->d_name, "models--", 8) || !e->d_name[8]) continue;
    /* models--ORG--NAME -> ORG/NAME */
    char name[512], repo_dir[PATH_CAP], refs[PATH_CAP];
    snprintf(name, sizeof name, "%s", e->d_name + 8);
    char *sep = strstr(name, "--");
    if (sep) memmove(sep + 1, sep + 2, strlen(sep + 2) + 1), *sep = '/';
    if (cache_path(repo_dir, sizeof repo_dir, "%s/%s", cache, e->d_name) ||
        cache_path(refs, sizeof refs, "%s/refs", repo_dir))
      continue;
    DIR *rd = opendir(refs);
    if (!rd) continue;
    struct dirent *r;
    while (!st && (r = readdir(rd))) {
      if (r->d_name[0] == '.') continue;
      char snap[PATH_CAP], ref_path[PATH_CAP];
      struct stat sb;
      if (cache_path(ref_path, sizeof ref_path, "%s/%s", refs, r->d_name) ||
          stat(ref_path, &sb) != 0 || !S_ISREG(sb.st_mode))
        continue; /* nested refs (refs/pr/N) are not listed */
      if (snapshot_of(repo_dir, r->d_name, snap, sizeof snap)) continue;
      st = add_model(list, n, cap, name, r->d_name, snap);
    }
    closedir(rd);
  }
  closedir(d);
  return st;
}

vlp_status vlp_cache_list(vlp_cached_model **out, int *n_out) {
  *out = NULL;
  *n_out = 0;
  char cache[PATH_CAP], hf[PATH_CAP];
  vlp_status st = vlp_cache_dir(cache, sizeof cache);
  if (st) return st;
  vlp_cached_model *list = NULL;
  int n = 0, cap = 0;
  st = scan_cache(cache, &list, &n, &cap);
  /* the Hugging Face hub cache too: -m finds its snapshots, so `vlp models` lists them */
  if (!st && hf_cache_dir(hf, sizeof hf) && strcmp(hf, cache)) {
    st = scan_cache(hf, &list, &n, &cap);
    if (st == VLP_ERR_IO) st = VLP_OK; /* an unreadable hub cache just adds nothing */
  }
  if (st) {
    vlp_cache_list_free(list, n);
    return st;
  }
  vlp_clear_error();
  if (n) qsort(list, (size_t)n, sizeof *list, cmp_model);
  *out = list;
  *n_out = n;
  return VLP_OK;
}

void vlp_cache_list_free(vlp_cached_model *list, int n) {
  for (int i = 0; list && i < n; i++) {
    free(list[i].name);
    free(list[i].revision);
    free(list[i].path);
  }
  free(list);
}
