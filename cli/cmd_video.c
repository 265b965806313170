/* vlp video: what is on screen when. `vlp video tag` gives zero-shot CLIP / SigLIP labels per
 * sampled frame (or merged into segments, or as WebVTT cues); `vlp video caption` a BLIP
 * caption per sampled frame. Frames come from FFmpeg's libraries through vlp_video_*. */
#include <stdlib.h>
#include <string.h>

#include "cli_video.h"
#include "labels.h"

static const char usage[] =
    "usage: vlp video tag -m CLIP_OR_SIGLIP_MODEL_DIR (--labels A,B,... | --labels-file FILE) "
    "[options] "
    "VIDEO...\n"
    "       vlp video caption -m BLIP_CAPTION_MODEL_DIR [options] VIDEO...\n\n"
    "tag prints {\"video\", \"t\", \"frame\", \"tags\": [{\"label\", \"score\"}, ...]} per "
    "sampled\n"
    "frame (t in seconds from the start of the stream, frame = round(t x frame rate));\n"
    "caption prints {\"video\", \"t\", \"frame\", \"caption\", \"tokens\"}. A video that cannot "
    "be\n"
    "read, or that is damaged part way, gives {\"video\", \"error\"} after the frames read\n"
    "before the damage; exit code 1.\n\n"
    "tag options:\n"
    "  --labels A,B,...        the labels, comma separated\n"
    "  --labels-file FILE      one label per line (blank lines skipped)\n"
    "  --template T            text for each label, \"{}\" standing for the label\n"
    "                          (default CLIP \"a photo of a {}.\", SigLIP\n"
    "                          \"This is a photo of {}.\")\n"
    "  --top K                 print only the K best labels\n"
    "  --segments              merge consecutive frames whose best label agrees into\n"
    "                          {\"video\", \"start\", \"end\", \"label\", \"score\"}: score = mean "
    "best\n"
    "                          score, end = time of the next sampled frame or the video's end\n"
    "  --format vtt            WebVTT cues instead of JSON lines (a cue per frame, or per\n"
    "                          segment with --segments); errors then go to stderr only\n"
    "  --image-size N          run the vision tower at N x N (interpolated positions)\n"
    "  --batch N               frames per forward pass (default 16)\n\n"
    "caption options: as `vlp caption` (--prompt, --beams, ...; see below)\n\n"
    "common options:\n"
    "  -o FILE                 write to FILE instead of stdout\n"
    "%s"
    "  --precision P           f32 (default, exact), bf16 or int8: faster, see README\n"
    "  --threads N             threads (default: VLP_THREADS or all cores)\n";

static void print_usage(void) {
  printf(usage, cli_shard_usage);
  printf("\n%s\n%s", cli_video_usage, cli_gen_usage);
}

/* ---- tag output: JSON lines, segments, WebVTT ----------------------------------------- */

typedef struct {
  FILE *out;
  const char *path;
  const label_list *labels;
  int segments, vtt, top;
  /* the open segment (or, without --segments, the last frame's cue for WebVTT) */
  int have, label;
  double start, sum;
  int n;
  char *text; /* WebVTT cue text of a per-frame cue */
} tag_writer;

static void write_vtt_time(FILE *f, double t) {
  if (t < 0) t = 0;
  long long ms = (long long)(t * 1000 + 0.5);
  fprintf(f, "%02lld:%02lld:%02lld.%03lld", ms / 3600000, ms / 60000 % 60, ms / 1000 % 60,
          ms % 1000);
}

/* Close the open segment / cue at time end. */
static void flush_pending(tag_writer *w, double end) {
  if (!w->have) return;
  w->have = 0;
  if (end < w->start) end = w->start;
  FILE *f = w->out;
  if (w->vtt) {
    write_vtt_time(f, w->start);
    fputs(" --> ", f);
    write_vtt_time(f, end);
    fputc('\n', f);
    if (w->segments)
      fprintf(f, "%s (%.2f)\n\n", w->labels->items[w->label], w->sum / w->n);
    else
      fprintf(f, "%s\n\n", w->text ? w->text : "");
  } else {
    fputs("{\"video\": ", f);
    json_write_str(f, w->path);
    fputs(", \"start\": ", f);
    cli_write_time(f, w->start);
    fputs(", \"end\": ", f);
    cli_write_time(f, end);
    fputs(", \"label\": ", f);
    json_write_str(f, w->labels->items[w->label]);
    fputs(", \"score\": ", f);
    json_write_float(f, (float)(w->sum / w->n));
    fputs("}\n", f);
  }
  cli_flush(f);
  free(w->text);
  w->text = NULL;
}

static void tag_frame(tag_writer *w, double t, int64_t frame, const float *scores, const int *order,
                      int L) {
  int k = w->top && w->top < L ? w->top : L;
  if (!w->segments && !w->vtt) {
    fputc('{', w->out);
    cli_video_write_frame_fields(w->out, "video", w->path, t, frame);
    fputs(", \"tags\": [", w->out);
    for (int j = 0; j < k; j++) {
      fputs(j ? ", {\"label\": " : "{\"label\": ", w->out);
      json_write_str(w->out, w->labels->items[order[j]]);
      fputs(", \"score\": ", w->out);
      json_write_float(w->out, scores[order[j]]);
      fputc('}', w->out);
    }
    fputs("]}\n", w->out);
    cli_flush(w->out);
    return;
  }
  if (w->segments && w->have && w->label == order[0]) {
    w->sum += scores[order[0]];
    w->n++;
    return;
  }
  flush_pending(w, t);
  w->have = 1;
  w->label = order[0];
  w->start = t;
  w->sum = scores[order[0]];
  w->n = 1;
  if (w->vtt && !w->segments) {
    /* "label (score), ..." of the top labels (one unless --top says more) */
    size_t size = 0;
    FILE *m = open_memstream(&w->text, &size);
    if (m) {
      int kk = w->top ? k : 1;
      for (int j = 0; j < kk; j++)
        fprintf(m, "%s%s (%.2f)", j ? ", " : "", w->labels->items[order[j]], scores[order[j]]);
      fclose(m);
    }
  }
}

typedef struct {
  vlp_model *m;
  vlp_session *s;
  tag_writer w;
  const vlp_labels *set;
  float *scores;
  int *order;
  int L, image_size;
} tag_ctx;

/* Frames through the vision tower together (each alone when that fails, so that only the
 * frame at fault stops the video), then their tags in order. */
static int tag_frames(void *ctx, const char *path, const vlp_image *imgs, const double *t,
                      const int64_t *frame, int n) {
  tag_ctx *c = ctx;
  vlp_features *all = NULL;
  if (n > 1 && vlp_encode_images(c->s, imgs, n, c->image_size, &all)) all = NULL;
  for (int k = 0; k < n; k++) {
    vlp_features *one = NULL;
    vlp_status st = all ? VLP_OK : vlp_encode_images(c->s, &imgs[k], 1, c->image_size, &one);
    if (!st) st = labels_tag(c->s, all ? all : one, all ? k : 0, c->set, c->scores, c->order);
    vlp_features_free(one);
    if (st) {
      vlp_features_free(all);
      return k;
    }
    tag_frame(&c->w, t[k], frame[k], c->scores, c->order, c->L);
  }
  vlp_features_free(all);
  return n;
}

static void tag_end(void *ctx, double end) {
  flush_pending(&((tag_ctx *)ctx)->w, end);
}

static int video_tag(int argc, char **argv) {
  cli_args a;
  cli_common c = {0};
  cli_paths in = {0};
  label_list labels = {0};
  cli_shard shard = {0};
  cli_frame_loop loop = {.cmd = "video tag", .key = "video", .s = cli_video_default_sampling()};
  const char *opt, *pos, *tmpl = NULL, *format = "json";
  int top = 0, size = 0, segments = 0;
  loop.batch = CLI_BATCH_DEFAULT;
  cli_args_init(&a, argc, argv, "video tag");
  while (!a.failed && cli_next(&a, &opt, &pos)) {
    if (pos)
      cli_paths_add(&in, pos);
    else if (labels_opt(&a, opt, &labels, &tmpl, &top, &size))
      continue;
    else if (!strcmp(opt, "--segments"))
      segments = 1;
    else if (!strcmp(opt, "--format")) {
      if ((format = cli_value(&a)) && strcmp(format, "json") && strcmp(format, "vtt"))
        cli_usage_error(&a, "--format is json or vtt, not '%s'", format);
    } else if (!cli_video_opt(&a, opt, &loop.s, &loop.progress) &&
               !cli_shard_opt(&a, opt, &shard) && !cli_batch_opt(&a, opt, &loop.batch) &&
               !cli_common_opt(&a, opt, &c))
      cli_usage_error(&a, "unknown option %s", opt);
  }
  int rc = EXIT_USAGE;
  if (c.help) {
    print_usage();
    rc = EXIT_ALL_OK;
    goto out_args;
  }
  if (!a.failed && !labels.n) cli_usage_error(&a, "no labels: give --labels or --labels-file");
  if (!a.failed && !in.n) cli_usage_error(&a, "no videos given");
  if (!a.failed && (tmpl && !tmpl[0])) cli_usage_error(&a, "--template is empty");
  if (a.failed) goto out_args;
  cli_paths_keep_shard(&in, &shard, "video tag");
  tag_ctx t = {.L = labels.n, .image_size = size};
  FILE *out = cli_start("video tag", &c, ARCH(VLP_ARCH_CLIP) | ARCH(VLP_ARCH_SIGLIP), &t.m, &t.s);
  if (!out) goto out_args;
  int vtt = format && !strcmp(format, "vtt"), failed = 0;
  vlp_labels *set = NULL;
  t.scores = malloc((size_t)t.L * sizeof *t.scores);
  t.order = malloc((size_t)t.L * sizeof *t.order);
  if (!t.scores || !t.order) {
    fprintf(stderr, "vlp video tag: out of memory\n");
  } else if (labels_make(t.s, &labels, tmpl, &set)) {
    fprintf(stderr, "vlp video tag: labels: %s\n", vlp_last_error());
  } else {
    t.set = set;
    t.w = (tag_writer){.out = out, .labels = &labels, .segments = segments, .vtt = vtt, .top = top};
    loop.out = vtt ? NULL : out;
    loop.fit = t.m, loop.fit_size = size; /* a batch holds small images, not whole frames */
    if (vtt) fputs("WEBVTT\n\n", out);
    for (int i = 0; i < in.n && !ferror(out); i++) {
      t.w.path = in.paths[i];
      if (vtt && in.n > 1) fprintf(out, "NOTE %s\n\n", in.paths[i]);
      failed += cli_video_each_frame(&loop, in.paths[i], tag_frames, tag_end, &t);
    }
    rc = failed ? EXIT_SOME_FAILED : EXIT_ALL_OK;
  }
  if (cli_close_output(out)) rc = EXIT_USAGE;
  free(t.order);
  free(t.scores);
  vlp_labels_free(set);
  vlp_session_free(t.s);
  vlp_model_free(t.m);
out_args:
  labels_free(&labels);
  cli_paths_free(&in);
  return rc;
}

/* ---- caption ---------------------------------------------------------------------------- */

typedef struct {
  vlp_model *m;
  vlp_session *s;
  FILE *out;
  vlp_gen_params p;
  int image_size;
} caption_ctx;

static int caption_one(caption_ctx *c, const char *path, const vlp_image *img, double t,
                       int64_t frame) {
  vlp_text_result r = {0};
  vlp_features *f = NULL;
  vlp_status st = vlp_encode_images(c->s, img, 1, c->image_size, &f);
  if (!st) st = vlp_caption(c->s, f, &c->p, &r);
  vlp_features_free(f);
  if (st) return -1;
  fputc('{', c->out);
  cli_video_write_frame_fields(c->out, "video", path, t, frame);
  fputs(", \"caption\": ", c->out);
  json_write_str(c->out, r.text);
  fputs(", \"tokens\": ", c->out);
  json_write_ints(c->out, r.ids, r.n_ids);
  fputs("}\n", c->out);
  cli_flush(c->out);
  vlp_text_result_free(&r);
  return 0;
}

static int caption_frames(void *ctx, const char *path, const vlp_image *imgs, const double *t,
                          const int64_t *frame, int n) {
  for (int k = 0; k < n; k++)
    if (caption_one(ctx, path, &imgs[k], t[k], frame[k])) return k;
  return n;
}

static int video_caption(int argc, char **argv) {
  cli_args a;
  cli_common c = {0};
  cli_paths in = {0};
  caption_ctx cc = {.p = vlp_gen_default_params()};
  cli_shard shard = {0};
  cli_frame_loop loop = {.cmd = "video caption", .key = "video", .s = cli_video_default_sampling()};
  const char *opt, *pos;
  cli_args_init(&a, argc, argv, "video caption");
  while (!a.failed && cli_next(&a, &opt, &pos)) {
    if (pos)
      cli_paths_add(&in, pos);
    else if (!cli_gen_opt(&a, opt, &cc.p, &cc.image_size) &&
             !cli_video_opt(&a, opt, &loop.s, &loop.progress) && !cli_shard_opt(&a, opt, &shard) &&
             !cli_common_opt(&a, opt, &c))
      cli_usage_error(&a, "unknown option %s", opt);
  }
  if (c.help) {
    print_usage();
    cli_paths_free(&in);
    return EXIT_ALL_OK;
  }
  if (!a.failed && !in.n) cli_usage_error(&a, "no videos given");
  if (!a.failed && cc.p.prompt && !cc.p.prompt[0]) cli_usage_error(&a, "--prompt is empty");
  if (a.failed) {
    cli_paths_free(&in);
    return EXIT_USAGE;
  }
  cli_paths_keep_shard(&in, &shard, "video caption");
  FILE *out = cli_start("video caption", &c, ARCH(VLP_ARCH_BLIP_CAPTION), &cc.m, &cc.s);
  if (!out) {
    cli_paths_free(&in);
    return EXIT_USAGE;
  }
  cc.out = loop.out = out;
  int failed = 0;
  for (int i = 0; i < in.n && !ferror(out); i++)
    failed += cli_video_each_frame(&loop, in.paths[i], caption_frames, NULL, &cc);
  int bad_out = cli_close_output(out);
  vlp_session_free(cc.s);
  vlp_model_free(cc.m);
  cli_paths_free(&in);
  return bad_out ? EXIT_USAGE : failed ? EXIT_SOME_FAILED : EXIT_ALL_OK;
}

int cmd_video(int argc, char **argv) {
  if (argc >= 2 && !strcmp(argv[1], "tag")) return video_tag(argc - 1, argv + 1);
  if (argc >= 2 && !strcmp(argv[1], "caption")) return video_caption(argc - 1, argv + 1);
  if (argc >= 2 && (!strcmp(argv[1], "--help") || !strcmp(argv[1], "-h"))) {
    print_usage();
    return EXIT_ALL_OK;
  }
  fprintf(stderr, "vlp video: %s (vlp video --help)\n",
          argc < 2 ? "say tag or caption" : "unknown subcommand; say tag or caption");
  return EXIT_USAGE;
}
