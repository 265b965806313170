/* model_choice: the model a command runs when -m is not given (VLP_MODEL), and the message
 * when there is none: which models the caches hold and how to `vlp pull` one. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli.h"

const char *cli_default_model(void) {
  static char path[4096];
  const char *m = getenv("VLP_MODEL");
  if (!m || !m[0]) return NULL;
  /* a cached name resolves to its folder, as -m NAME does */
  if (vlp_resolve_model(m, path, sizeof path) == VLP_OK) return path;
  return m;
}

/* A checkpoint that suits the command, for the `vlp pull` example. */
static const char *suggestion(const char *cmd) {
  if (!strncmp(cmd, "vqa", 3)) return "Salesforce/blip-vqa-base";
  if (!strncmp(cmd, "itm", 3)) return "Salesforce/blip-itm-base-coco";
  if (!strcmp(cmd, "caption") || !strcmp(cmd, "video caption"))
    return "Salesforce/blip-image-captioning-base";
  return "openai/clip-vit-base-patch32";
}

void cli_no_model(const char *cmd) {
  vlp_cached_model *list = NULL;
  int n = 0;
  char cache[4096] = "";
  if (vlp_cache_dir(cache, sizeof cache)) snprintf(cache, sizeof cache, "the model cache");
  if (vlp_cache_list(&list, &n)) n = 0;
  fprintf(stderr,
          "vlp %s: no model: give -m MODEL (a model folder or a cached name) or set VLP_MODEL; ",
          cmd);
  if (!n) {
    fprintf(stderr, "no models in %s or the Hugging Face cache: download one with `vlp pull %s`\n",
            cache, suggestion(cmd));
  } else {
    fprintf(stderr, "models in the cache:");
    for (int i = 0; i < n; i++)
      fprintf(stderr, "%s %s%s%s", i ? "," : "", list[i].name,
              strcmp(list[i].revision, "main") ? "@" : "",
              strcmp(list[i].revision, "main") ? list[i].revision : "");
    fprintf(stderr, " (`vlp models` lists them; `vlp pull %s` downloads another)\n",
            suggestion(cmd));
  }
  vlp_cache_list_free(list, n);
}
