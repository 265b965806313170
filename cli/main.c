/* main: the vlp command — dispatches to one subcommand per file (cmd_*.c). */
#include <signal.h>
#include <stdio.h>
#include <string.h>

#include "caption_tool.h"
#include "cli.h"
#include "cli_index.h"
#include "cli_pull.h"
#include "cli_video.h"

static const struct {
  const char *name;
  int (*run)(int, char **);
  const char *what;
  int computes; /* runs a model: OpenMP workers, see wait_policy.c */
} commands[] = {
    {"caption", cmd_caption, "caption images (BLIP)", 1},
    {"merge", cmd_merge, "join vlp caption outputs (shards, resumed runs)", 0},
    {"vqa", cmd_vqa, "answer a question about an image (BLIP VQA)", 1},
    {"itm", cmd_itm, "image-text matching scores (BLIP retrieval)", 1},
    {"embed", cmd_embed, "image or text embeddings (CLIP, BLIP retrieval)", 1},
    {"tag", cmd_tag, "zero-shot labels for images (CLIP)", 1},
    {"video", cmd_video, "tag or caption the frames of videos, with timestamps", 1},
    {"index", cmd_index, "build or export a retrieval index (CLIP, BLIP retrieval)", 1},
    {"search", cmd_search, "search a retrieval index by text or image", 1},
    {"serve", cmd_serve, "HTTP service and search page over models and indexes", 1},
    {"pull", cmd_pull, "download a model from the Hugging Face hub into the cache", 0},
    {"models", cmd_models, "list the models in the cache", 0},
    {"info", cmd_info, "summary of a model: architecture, sizes, parameters, tasks", 0},
    {"tokenize", cmd_tokenize, "token ids of texts", 0},
    {"preprocess", cmd_preprocess, "pixel values of an image as .npy", 0},
    {"selftest", cmd_selftest, "check vlp against a golden reference set", 1},
    {"bench", cmd_bench, "time the model's workloads on this machine (vs its GEMM peak)", 1},
};

static void usage(FILE *f) {
  fprintf(f,
          "usage: vlp COMMAND [options]\n\n"
          "A vision-language pipeline: BLIP and CLIP models from Hugging Face folders.\n"
          "Results are JSON Lines on stdout; messages go to stderr.\n\ncommands:\n");
  for (size_t i = 0; i < sizeof commands / sizeof commands[0]; i++)
    fprintf(f, "  %-11s %s\n", commands[i].name, commands[i].what);
  fprintf(f,
          "\nEvery command takes -m MODEL (a folder, or a cached model name such as\n"
          "blip-image-captioning-base), --threads N (or VLP_THREADS), --precision f32|bf16|int8\n"
          "(or VLP_PRECISION) and --help.\n"
          "Exit codes: 0 all ok, 1 some inputs failed, 2 usage or model error.\n");
}

int main(int argc, char **argv) {
  if (argc < 2) {
    usage(stderr);
    return EXIT_USAGE;
  }
  if (!strcmp(argv[1], "--help") || !strcmp(argv[1], "-h") || !strcmp(argv[1], "help")) {
    usage(stdout);
    return EXIT_ALL_OK;
  }
  int cmd = -1;
  for (int i = 0; i < (int)(sizeof commands / sizeof commands[0]) && cmd < 0; i++)
    if (!strcmp(argv[1], commands[i].name)) cmd = i;
  if (cmd >= 0 && commands[cmd].computes) cli_wait_policy_default(argv);
  /* FFmpeg's messages become part of vlp's one-line errors (VLP_FFMPEG_LOG=1 shows them) */
  vlp_init(&(vlp_init_options){.capture_ffmpeg_log = 1});
  if (!strcmp(argv[1], "--version")) {
    printf("vlp %s\n", vlp_version());
    return EXIT_ALL_OK;
  }
  /* a closed pipe or a full file system (RLIMIT_FSIZE) is a write error that the commands
   * report and exit on, not a silent death by signal */
  signal(SIGPIPE, SIG_IGN);
  signal(SIGXFSZ, SIG_IGN);
  if (cmd >= 0) {
    int rc = commands[cmd].run(argc - 1, argv + 1);
    if (cli_check_stdout(commands[cmd].name) && rc == EXIT_ALL_OK) rc = EXIT_USAGE;
    return rc;
  }
  fprintf(stderr, "vlp: unknown command '%s' (vlp --help lists them)\n", argv[1]);
  return EXIT_USAGE;
}
