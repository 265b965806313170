/* vlp serve: the HTTP service (serve/serve.h) with its options. */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "cli.h"
#include "serve.h" /* serve/: vlp_serve's interface */

static const char usage[] =
    "usage: vlp serve -m [NAME=]MODEL [-m ...] [--index [NAME=]DIR ...] [options]\n\n"
    "An HTTP service over the models and retrieval indexes, and a search page at /.\n"
    "JSON API: POST /v1/caption /v1/vqa /v1/itm /v1/tag /v1/embeddings /v1/search,\n"
    "GET /v1/models /v1/indexes; immich machine-learning: POST /predict, GET /ping;\n"
    "clip-retrieval: POST /knn-service, GET /indices-list; GET /healthz /metrics /thumb/ID.\n"
    "Images come as multipart files, raw bytes or base64 in JSON, never from URLs.\n"
    "SIGTERM or Ctrl-C finishes the requests in flight, then exits.\n\n"
    "options:\n"
    "  -m [NAME=]MODEL         a model (folder or cache name); clients call it NAME (default:\n"
    "                          MODEL as given); repeat for more models\n"
    "  --index [NAME=]DIR      an index from `vlp index build` (default NAME: the folder's\n"
    "                          name); its model is loaded when no -m model fits\n"
    "  --host HOST             address to listen on (default 127.0.0.1)\n"
    "  --port N                port (default 8080; 0: any free port, printed at start)\n"
    "  --api-key KEY           require Authorization: Bearer KEY (needed for a host that is\n"
    "                          not loopback; also read from VLP_API_KEY)\n"
    "  --cors ORIGIN           allow this browser origin (default: no CORS headers)\n"
    "  --workers N             compute workers (default 2)\n"
    "  --threads N             threads per model call (default: cores / workers)\n"
    "  --precision P           f32 (default, exact), bf16 or int8 for every model: faster,\n"
    "                          see README (also VLP_PRECISION)\n"
    "  --batch N               dynamic batching: at most N images or texts per model call\n"
    "                          (default 16; 1 turns batching off)\n"
    "  --batch-wait MS         how long a batch waits for more requests (default 2)\n"
    "  --queue N               requests that may wait; more get 503 (default 256)\n"
    "  --timeout MS            a request not done after this long (queue + compute) gets 503\n"
    "                          (default 30000)\n"
    "  --max-body MB           largest request body (default 32)\n"
    "  --max-inputs N          images or texts per request (default 64)\n"
    "  --max-pixels N          largest image in pixels (default 40000000)\n"
    "  --thumb-size N          longest side of thumbnails (default 256)\n"
    "  --quiet                 no access log on stderr\n";

int cmd_serve(int argc, char **argv) {
  cli_args a;
  const char *opt, *pos;
  serve_options o = serve_default_options();
  const char **models = calloc((size_t)argc, sizeof *models);
  const char **indexes = calloc((size_t)argc, sizeof *indexes);
  int help = 0, threads = 0, max_mb = 32, max_pixels = 40000000, precision = 0;
  if (!models || !indexes) {
    fprintf(stderr, "vlp serve: out of memory\n");
    free(models);
    free(indexes);
    return EXIT_USAGE;
  }
  o.api_key = getenv("VLP_API_KEY");
  if (o.api_key && !o.api_key[0]) o.api_key = NULL;
  cli_args_init(&a, argc, argv, "serve");
  while (!a.failed && cli_next(&a, &opt, &pos)) {
    const char *v;
    if (pos)
      cli_usage_error(&a, "unexpected argument '%s'", pos);
    else if (!strcmp(opt, "-m") || !strcmp(opt, "--model")) {
      if ((v = cli_value(&a))) models[o.n_models++] = v;
    } else if (!strcmp(opt, "--index")) {
      if ((v = cli_value(&a))) indexes[o.n_indexes++] = v;
    } else if (!strcmp(opt, "--host")) {
      if ((v = cli_value(&a))) o.host = v;
    } else if (!strcmp(opt, "--port"))
      cli_int(&a, 0, 65535, &o.port);
    else if (!strcmp(opt, "--api-key")) {
      if ((v = cli_value(&a))) o.api_key = v;
      if (v && !v[0]) cli_usage_error(&a, "--api-key is empty");
    } else if (!strcmp(opt, "--cors"))
      o.cors_origin = cli_value(&a);
    else if (!strcmp(opt, "--workers"))
      cli_int(&a, 1, 64, &o.workers);
    else if (!strcmp(opt, "--threads"))
      cli_int(&a, 1, 1024, &threads);
    else if (!strcmp(opt, "--precision"))
      precision = cli_precision_opt(&a);
    else if (!strcmp(opt, "--batch"))
      cli_int(&a, 1, 1024, &o.max_batch);
    else if (!strcmp(opt, "--batch-wait"))
      cli_int(&a, 0, 1000, &o.batch_wait_ms);
    else if (!strcmp(opt, "--queue"))
      cli_int(&a, 1, 100000, &o.queue_max);
    else if (!strcmp(opt, "--timeout"))
      cli_int(&a, 1, 3600000, &o.timeout_ms);
    else if (!strcmp(opt, "--max-body"))
      cli_int(&a, 1, 4096, &max_mb);
    else if (!strcmp(opt, "--max-inputs"))
      cli_int(&a, 1, 4096, &o.max_inputs);
    else if (!strcmp(opt, "--max-pixels"))
      cli_int(&a, 1, 1 << 30, &max_pixels);
    else if (!strcmp(opt, "--thumb-size"))
      cli_int(&a, 16, 2048, &o.thumb_size);
    else if (!strcmp(opt, "--quiet"))
      o.quiet = 1;
    else if (!strcmp(opt, "--help") || !strcmp(opt, "-h"))
      help = 1;
    else
      cli_usage_error(&a, "unknown option %s", opt);
  }
  int rc = EXIT_USAGE;
  if (help) {
    fputs(usage, stdout);
    rc = EXIT_ALL_OK;
  } else if (!a.failed && !o.n_models && !o.n_indexes) {
    cli_usage_error(&a, "no model: give -m MODEL or --index DIR");
  } else if (!a.failed && (o.precision = cli_precision("serve", precision)) >= 0) {
    o.models = models;
    o.indexes = indexes;
    o.max_body = (size_t)max_mb << 20;
    o.max_image_pixels = max_pixels;
    o.threads = threads;
    if (!threads) {
      o.threads = vlp_default_threads() / o.workers;
      if (o.threads < 1) o.threads = 1;
    }
    rc = serve_run(&o) ? EXIT_USAGE : EXIT_ALL_OK;
  }
  free(models);
  free(indexes);
  return rc;
}
