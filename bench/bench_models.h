/* bench_models: helpers for the full-size model benchmarks (bench_blip, bench_caption,
 * bench_clip): a temporary model folder, config JSON editing, a safetensors writer that
 * scales up every tensor of a tiny reference model, the BLIP-base folder, a child
 * process's peak RSS. Benchmark code: errors print and exit. */
#ifndef VLP_BENCH_MODELS_H
#define VLP_BENCH_MODELS_H

#include <cjson/cJSON.h>
#include <stddef.h>
#include <stdint.h>

/* Print "bench: <message>" to stderr and exit(1). */
void bm_die(const char *fmt, ...);

/* Tiny -> full dimension map, one per tensor-name prefix. add() refuses a tiny value
 * already mapped to another full value (the tiny model would be ambiguous). */
#define BM_MAX_DIMS 24
typedef struct {
  const char *prefix; /* tensors whose name starts with this use this map */
  int layers;         /* full number of encoder layers under this prefix */
  int n;
  int64_t from[BM_MAX_DIMS], to[BM_MAX_DIMS];
} bm_dim_map;
void bm_map_add(bm_dim_map *m, int64_t tiny, int64_t full);

/* Write dst (a .safetensors file) with every tensor name of the tiny file src (layer 0's
 * tensors repeated for each of the map's `layers`; the tiny file's other layers dropped), each dim
 * mapped through the map of the longest matching prefix (a dim not in the map is fatal).
 * Values: LayerNorm weights 1, LayerNorm biases 0, logit_scale 2.6592, everything else
 * uniform with standard deviation 0.02. Returns the file size. */
size_t bm_write_scaled_safetensors(const char *src, const char *dst, const bm_dim_map *maps,
                                   int n_maps);

/* A whole JSON file (fatal when unreadable or not JSON); free with cJSON_Delete. */
cJSON *bm_read_json(const char *path);
/* Write j (pretty-printed) to dir/name. */
void bm_write_json(const cJSON *j, const char *dir, const char *name);
/* tiny/config.json, with its vision_config and text_config (fatal when missing). */
cJSON *bm_read_config(const char *tiny, cJSON **vc, cJSON **tc);
/* obj[key] as an int (fatal when missing or not a number). */
int bm_get_int(const cJSON *obj, const char *key);
/* Replace obj[key] (which must exist) by the number v. */
void bm_set_num(cJSON *obj, const char *key, double v);

/* BLIP-base (Salesforce/blip-image-captioning-base) sizes: vision tower (V), text decoder (T). */
enum { BLIP_DV = 768, BLIP_LV = 12, BLIP_HV = 12, BLIP_FV = 3072, BLIP_IMG = 384, BLIP_PATCH = 16 };
enum {
  BLIP_DT = 768,
  BLIP_LT = 12,
  BLIP_HT = 12,
  BLIP_FT = 3072,
  BLIP_VOCAB = 30524,
  BLIP_DENC = 768,
  BLIP_MAXPOS = 512
};
/* Write a BLIP-base captioning (or VQA) folder in dir from the tiny captioning (or VQA)
 * folder `tiny`: its config.json and preprocessor_config.json with BLIP-base sizes, its
 * tokenizer files, and model.safetensors scaled up (bm_write_scaled_safetensors). Returns
 * the safetensors size. */
size_t bm_make_blip_base(const char *tiny, const char *dir);

/* CLIP ViT-B/32 (openai/clip-vit-base-patch32) sizes: vision tower (V), text tower (T). */
enum { CLIP_DV = 768, CLIP_LV = 12, CLIP_HV = 12, CLIP_FV = 3072, CLIP_IMG = 224 };
enum {
  CLIP_DT = 512,
  CLIP_LT = 12,
  CLIP_HT = 8,
  CLIP_FT = 2048,
  CLIP_VOCAB = 49408,
  CLIP_MAXPOS = 77,
  CLIP_PROJ = 512
};
/* Write a CLIP ViT-B/<patch> folder (patch 32 or 16) in dir from the tiny CLIP folder `tiny`:
 * config.json and a 224 preprocessor_config.json with these sizes, its tokenizer files, and
 * model.safetensors scaled up (bm_write_scaled_safetensors). Returns the safetensors size. */
size_t bm_make_clip_base(const char *tiny, const char *dir, int patch);

/* mkdtemp under $TMPDIR or /tmp; result malloc'd. */
char *bm_make_tmpdir(const char *tag);
/* Copy src_dir/name to dst_dir/name. */
void bm_copy(const char *src_dir, const char *dst_dir, const char *name);
/* Remove the files in a flat folder, then the folder. */
void bm_remove_dir(const char *dir);
/* Run argv (argv[0] a path) with stdout to /dev/null; returns its exit status, stores its
 * peak RSS in bytes (wait4 rusage ru_maxrss) and wall seconds. */
int bm_run_child(char *const argv[], size_t *peak_rss, double *seconds);
/* Path of the vlp binary: argv1 if given, else ../vlp next to the running bench binary. */
char *bm_find_vlp(const char *argv0, const char *argv1);
size_t bm_file_size(const char *path);

/* Fast uniform floats in [-a, a] (xorshift64*). */
typedef struct {
  uint64_t s;
} bm_rng;
float bm_uniform(bm_rng *r, float a);

/* FLOPs of one transformer encoder layer over T tokens of width D (mlp F): the four
 * D x D projections, the two MLP GEMMs and attention's QK^T and AV (2*m*n*k each). */
double bm_layer_flops(double T, double D, double F);

#endif
