/* api_info: vlp_model_info of vlp.h — a model folder's summary (architecture, sizes,
 * parameter count, dtype) from config.json and the safetensors headers, for `vlp info` and
 * `vlp models`. No model is built and no weights are read. */
#include <dirent.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "core/error.h"
#include "core/json.h"
#include "core/safetensors.h"
#include "hub/hub.h"
#include "text/bert.h"
#include "text/clip_text.h"
#include "vision/vit.h"
#include "vlp.h"

#define PATH_CAP 4096

/* Sizes from config.json with the defaults the model loaders use; mlp: the vision and text
 * towers' MLP widths. */
static vlp_status read_sizes(const cJSON *cfg, const char *path, vlp_model_summary *s, int mlp[2]) {
  const char *type = json_str(cfg, "model_type", "");
  snprintf(s->model_type, sizeof s->model_type, "%s", type);
  int siglip = !strcmp(type, "siglip") || (s->supported && s->arch == VLP_ARCH_SIGLIP);
  int clip = !siglip && (!strcmp(type, "clip") || (s->supported && s->arch == VLP_ARCH_CLIP));
  int blip = !siglip && !clip && (!strcmp(type, "blip") || s->supported);
  if (!clip && !blip && !siglip) return VLP_OK; /* an architecture vlp does not know */
  vit_config vc;
  vlp_status st = vit_config_from_json(json_obj(cfg, "vision_config"),
                                       siglip ? VIT_SIGLIP
                                       : clip ? VIT_CLIP
                                              : VIT_BLIP,
                                       path, &vc);
  if (st) return st;
  s->vision.hidden = vc.hidden;
  s->vision.layers = vc.layers;
  s->vision.heads = vc.heads;
  s->vision.image_size = vc.image_size;
  s->vision.patch_size = vc.patch_size;
  mlp[0] = vc.mlp;
  if (clip || siglip) {
    clip_text_config tc;
    if ((st = (siglip ? siglip_text_config_from_json : clip_text_config_from_json)(
             json_obj(cfg, "text_config"), path, &tc)))
      return st;
    s->text.hidden = tc.hidden;
    s->text.layers = tc.layers;
    s->text.heads = tc.heads;
    s->text.vocab_size = tc.vocab;
    s->text.max_positions = tc.max_pos;
    mlp[1] = tc.mlp;
    /* SigLIP has no projections: its embeddings are the vision width */
    s->projection_dim = siglip ? vc.hidden : json_int(cfg, "projection_dim", 512);
  } else {
    bert_config tc;
    if ((st = bert_config_from_json(json_obj(cfg, "text_config"), path, &tc))) return st;
    s->text.hidden = tc.hidden;
    s->text.layers = tc.layers;
    s->text.heads = tc.heads;
    s->text.vocab_size = tc.vocab;
    s->text.max_positions = tc.max_pos;
    mlp[1] = tc.mlp;
    if (s->supported && s->arch == VLP_ARCH_BLIP_ITM)
      s->projection_dim = json_int(cfg, "image_text_hidden_size", 256);
  }
  return VLP_OK;
}

/* Count the tensors of one safetensors file into s; by_dtype[d] counts elements per dtype. */
static vlp_status count_file(const char *path, vlp_model_summary *s, int64_t *by_dtype) {
  st_file *f;
  vlp_status st = st_open(path, &f);
  if (st) return st;
  for (int i = 0; i < f->n; i++) {
    int64_t n = 1;
    for (int d = 0; d < f->tensors[i].ndim; d++) n *= f->tensors[i].shape[d]; /* st_open checked */
    s->n_params += n;
    by_dtype[f->tensors[i].dtype] += n;
    s->weight_bytes += f->tensors[i].nbytes;
  }
  s->n_tensors += f->n;
  s->n_weight_files++;
  st_close(f);
  return VLP_OK;
}

static vlp_status count_weights(const char *dir, vlp_model_summary *s) {
  char path[PATH_CAP];
  int64_t by_dtype[ST_BOOL + 1] = {0};
  vlp_status st = VLP_OK;
  struct stat sb;
  if (snprintf(path, sizeof path, "%s/model.safetensors", dir) >= (int)sizeof path)
    return vlp_fail(VLP_ERR_INVALID, "%s: path too long", dir);
  if (stat(path, &sb) == 0) {
    st = count_file(path, s, by_dtype);
  } else {
    char index[PATH_CAP], **shards = NULL;
    int n = 0;
    if (snprintf(index, sizeof index, "%s/model.safetensors.index.json", dir) >= (int)sizeof index)
      return vlp_fail(VLP_ERR_INVALID, "%s: path too long", dir);
    if (stat(index, &sb) != 0)
      return vlp_fail(VLP_ERR_MODEL, "%s: no model.safetensors or model.safetensors.index.json",
                      dir);
    st = hub_index_shards(index, &shards, &n);
    for (int i = 0; i < n; i++) {
      if (!st && snprintf(path, sizeof path, "%s/%s", dir, shards[i]) < (int)sizeof path)
        st = count_file(path, s, by_dtype);
      free(shards[i]);
    }
    free(shards);
  }
  if (st) return st;
  int best = 0;
  for (int d = 1; d <= ST_BOOL; d++)
    if (by_dtype[d] > by_dtype[best]) best = d;
  snprintf(s->dtype, sizeof s->dtype, "%s", s->n_params ? st_dtype_name((st_dtype)best) : "");
  return VLP_OK;
}

/* Bytes of the regular files of a folder (symlinks followed, as in a hub cache snapshot). */
static uint64_t folder_bytes(const char *dir) {
  DIR *d = opendir(dir);
  if (!d) return 0;
  uint64_t total = 0;
  struct dirent *e;
  while ((e = readdir(d))) {
    char p[PATH_CAP];
    struct stat sb;
    if (e->d_name[0] == '.' || snprintf(p, sizeof p, "%s/%s", dir, e->d_name) >= (int)sizeof p)
      continue;
    if (stat(p, &sb) == 0 && S_ISREG(sb.st_mode)) total += (uint64_t)sb.st_size;
  }
  closedir(d);
  return total;
}

/* The summary's sizes from the folder's config.json; dir: the resolved folder (PATH_CAP). */
static vlp_status read_config(const char *name_or_path, char *dir, vlp_model_summary *s,
                              int mlp[2]) {
  memset(s, 0, sizeof *s);
  mlp[0] = mlp[1] = 0;
  char path[PATH_CAP + 16];
  vlp_status st = vlp_resolve_model(name_or_path, dir, PATH_CAP);
  if (st) return st;
  cJSON *cfg;
  if ((st = json_load_config(dir, path, sizeof path, &cfg))) return st;
  const char *arch = json_architecture(cfg);
  snprintf(s->architecture, sizeof s->architecture, "%s", arch ? arch : "");
  for (int a = VLP_ARCH_BLIP_CAPTION; arch && a <= VLP_ARCH_SIGLIP; a++) {
    if (!strcmp(arch, vlp_arch_name((vlp_arch)a))) {
      s->supported = 1;
      s->arch = (vlp_arch)a;
    }
  }
  st = read_sizes(cfg, path, s, mlp);
  cJSON_Delete(cfg);
  return st;
}

vlp_status vlp_model_info(const char *name_or_path, vlp_model_summary *s) {
  char dir[PATH_CAP];
  int mlp[2];
  vlp_status st = read_config(name_or_path, dir, s, mlp);
  if (st) return st;
  st = count_weights(dir, s);
  s->disk_bytes = folder_bytes(dir);
  return st;
}

vlp_status vlp_model_mlp_widths(const char *name_or_path, int *vision, int *text) {
  char dir[PATH_CAP];
  int mlp[2];
  vlp_model_summary s;
  vlp_status st = read_config(name_or_path, dir, &s, mlp);
  if (vision) *vision = st ? 0 : mlp[0];
  if (text) *text = st ? 0 : mlp[1];
  return st;
}
