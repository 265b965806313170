/* serve: `vlp serve`, an HTTP service over loaded models and retrieval indexes (JSON API,
 * immich machine-learning and clip-retrieval compatible endpoints, a search page). */
#ifndef VLP_SERVE_H
#define VLP_SERVE_H

#include <stddef.h>

typedef struct {
  const char **models; /* "[NAME=]MODEL" each */
  int n_models;
  const char **indexes; /* "[NAME=]DIR" each */
  int n_indexes;
  const char *host; /* default 127.0.0.1 */
  int port;         /* 0: an ephemeral port */
  const char *api_key;
  const char *cors_origin; /* NULL: no CORS headers */
  int workers;             /* compute threads, each with its own sessions */
  int threads;             /* threads per compute call */
  int precision;           /* vlp_precision of every model */
  int max_batch;           /* items per model call; 1 turns dynamic batching off */
  int batch_wait_ms;       /* how long a batch waits for more requests */
  int queue_max;           /* waiting requests before 503 */
  size_t max_body;         /* bytes */
  int max_inputs;          /* images or texts per request */
  long max_image_pixels;
  int timeout_ms; /* a request not done this long after it was queued gets 503 */
  int thumb_size; /* longest side of a thumbnail */
  size_t thumb_cache;
  int quiet; /* no access log */
} serve_options;

serve_options serve_default_options(void);
/* Load everything, listen, serve until SIGTERM or SIGINT, drain, clean up. Prints
 * "vlp serve: listening on http://HOST:PORT" on stderr once ready. Returns an exit code
 * (0 after a clean shutdown, 2 when a model, index or the socket could not be set up). */
int serve_run(const serve_options *o);

#endif
