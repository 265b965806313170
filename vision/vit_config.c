/* vit_config: the vision_config object of a BLIP / CLIP / SigLIP config.json -> vit_config,
 * with the transformers 4.47 defaults of BlipVisionConfig / CLIPVisionConfig /
 * SiglipVisionConfig for absent fields. */
#include <math.h>
#include <string.h>

#include "core/error.h"
#include "vision/vit.h"

/* An integer field: absent -> def; present but not an integral number in [lo, hi] -> error. */
static vlp_status get_int(const cJSON *obj, const char *key, int def, int lo, int hi,
                          const char *path, int *out) {
  const cJSON *it = obj ? cJSON_GetObjectItemCaseSensitive(obj, key) : NULL;
  if (!it || cJSON_IsNull(it)) {
    *out = def;
    return VLP_OK;
  }
  if (!cJSON_IsNumber(it))
    return vlp_fail(VLP_ERR_MODEL, "%s: vision_config.%s is not a number", path, key);
  double v = it->valuedouble;
  if (!(v >= lo && v <= hi) || v != floor(v))
    return vlp_fail(VLP_ERR_MODEL, "%s: vision_config.%s = %g is not an integer in [%d, %d]", path,
                    key, v, lo, hi);
  *out = (int)v;
  return VLP_OK;
}

vlp_status vit_config_from_json(const cJSON *vc, vit_kind kind, const char *path, vit_config *out) {
  const int blip = kind == VIT_BLIP, siglip = kind == VIT_SIGLIP;
  vit_config c = {.kind = kind};
  vlp_status st;
  if (vc && !cJSON_IsObject(vc))
    return vlp_fail(VLP_ERR_MODEL, "%s: vision_config is not an object", path);
  if ((st = get_int(vc, "hidden_size", 768, 1, 1 << 16, path, &c.hidden)) ||
      (st = get_int(vc, "num_hidden_layers", 12, 1, 1024, path, &c.layers)) ||
      (st = get_int(vc, "num_attention_heads", 12, 1, 1 << 16, path, &c.heads)) ||
      (st = get_int(vc, "intermediate_size", 3072, 1, 1 << 20, path, &c.mlp)) ||
      (st = get_int(vc, "image_size", blip ? 384 : 224, 1, 1 << 14, path, &c.image_size)) ||
      (st = get_int(vc, "patch_size", blip || siglip ? 16 : 32, 1, 1 << 12, path, &c.patch_size)) ||
      (st = get_int(vc, "num_channels", 3, 1, 64, path, &c.channels)))
    return st;
  if (c.hidden % c.heads)
    return vlp_fail(VLP_ERR_MODEL,
                    "%s: vision_config.hidden_size %d is not divisible by num_attention_heads %d",
                    path, c.hidden, c.heads);
  if (c.image_size % c.patch_size && !siglip) /* SigLIP: floor(image / patch) patches */
    return vlp_fail(VLP_ERR_MODEL,
                    "%s: vision_config.image_size %d is not a multiple of patch_size %d", path,
                    c.image_size, c.patch_size);
  if ((long long)c.channels * c.patch_size * c.patch_size > (1 << 24))
    return vlp_fail(VLP_ERR_MODEL, "%s: vision_config.patch_size %d is too large", path,
                    c.patch_size);

  const cJSON *eps = vc ? cJSON_GetObjectItemCaseSensitive(vc, "layer_norm_eps") : NULL;
  double e = siglip ? 1e-6 : 1e-5;
  if (eps && !cJSON_IsNull(eps)) {
    if (!cJSON_IsNumber(eps))
      return vlp_fail(VLP_ERR_MODEL, "%s: vision_config.layer_norm_eps is not a number", path);
    e = eps->valuedouble;
  }
  if (!(e > 0 && e < 1))
    return vlp_fail(VLP_ERR_MODEL, "%s: vision_config.layer_norm_eps = %g is out of range", path,
                    e);
  c.eps = (float)e;

  const cJSON *act = vc ? cJSON_GetObjectItemCaseSensitive(vc, "hidden_act") : NULL;
  const char *a = blip ? "gelu" : siglip ? "gelu_pytorch_tanh" : "quick_gelu";
  if (act && !cJSON_IsNull(act)) {
    if (!cJSON_IsString(act))
      return vlp_fail(VLP_ERR_MODEL, "%s: vision_config.hidden_act is not a string", path);
    a = act->valuestring;
  }
  if (!strcmp(a, "gelu"))
    c.act = ACT_GELU;
  else if (!strcmp(a, "quick_gelu"))
    c.act = ACT_QUICK_GELU;
  else if (!strcmp(a, "gelu_pytorch_tanh") || (siglip && !strcmp(a, "gelu_new")))
    c.act = ACT_GELU_TANH;
  else
    return vlp_fail(VLP_ERR_UNSUPPORTED, "%s: vision_config.hidden_act \"%s\" is not supported",
                    path, a);
  *out = c;
  return VLP_OK;
}
