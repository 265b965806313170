/* search: loaded retrieval indexes (through the index API of vlp.h).
 * Every entry of every index has a global id = the index's base + its row; clients name
 * files only by these ids, never by path. */
#include <stdlib.h>
#include <string.h>

#include "server.h"

struct srv_index {
  char *name;
  vlp_index *ix;
  srv_model *model;
  int64_t base;
};

vlp_status srv_index_open(server *s, const char *spec, srv_index **out) {
  (void)s;
  *out = NULL;
  const char *eq = strchr(spec, '=');
  const char *dir = eq ? eq + 1 : spec;
  srv_index *x = calloc(1, sizeof *x);
  if (!x) return VLP_ERR_NOMEM;
  vlp_status st = vlp_index_open(dir, &x->ix);
  if (st) {
    free(x);
    return st;
  }
  if (eq) {
    x->name = strndup(spec, (size_t)(eq - spec));
  } else {
    size_t n = strlen(dir);
    while (n > 1 && dir[n - 1] == '/') n--;
    size_t b = n;
    while (b > 0 && dir[b - 1] != '/') b--;
    x->name = strndup(dir + b, n - b);
  }
  if (!x->name) {
    srv_index_free(x);
    return VLP_ERR_NOMEM;
  }
  *out = x;
  return VLP_OK;
}

void srv_index_free(srv_index *x) {
  if (!x) return;
  vlp_index_close(x->ix);
  free(x->name);
  free(x);
}

const char *srv_index_name(const srv_index *x) {
  return x->name;
}
int64_t srv_index_count(const srv_index *x) {
  return x->ix->count;
}
int srv_index_dim(const srv_index *x) {
  return x->ix->dim;
}
const char *srv_index_model_path(const srv_index *x) {
  return x->ix->model;
}
const char *srv_index_arch(const srv_index *x) {
  return x->ix->arch;
}
int64_t srv_index_base(const srv_index *x) {
  return x->base;
}
void srv_index_set_base(srv_index *x, int64_t base) {
  x->base = base;
}
void srv_index_set_model(srv_index *x, srv_model *m) {
  x->model = m;
}
srv_model *srv_index_model(const srv_index *x) {
  return x->model;
}

static srv_index *owner(server *s, int64_t id, int64_t *row) {
  for (int i = 0; i < s->n_indexes; i++) {
    srv_index *x = s->indexes[i];
    if (id >= x->base && id < x->base + x->ix->count) {
      *row = id - x->base;
      return x;
    }
  }
  return NULL;
}

const char *srv_index_path_of(server *s, int64_t id) {
  int64_t row;
  srv_index *x = owner(s, id, &row);
  return x ? x->ix->entries[row].path : NULL;
}

int srv_index_embedding_of(server *s, int64_t id, srv_index **ix, float *q) {
  int64_t row;
  srv_index *x = owner(s, id, &row);
  if (!x) return -1;
  memcpy(q, x->ix->emb + (size_t)row * (size_t)x->ix->dim, (size_t)x->ix->dim * sizeof *q);
  *ix = x;
  return 0;
}

int srv_index_search(srv_index *x, const float *q, int k, int64_t *ids, float *scores) {
  int n = vlp_index_search(x->ix, q, k, ids, scores);
  for (int i = 0; i < n; i++) ids[i] += x->base;
  return n;
}
