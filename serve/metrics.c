/* metrics: request counters, latency histograms per endpoint, batch sizes, and the gauges
 * of GET /metrics, in the Prometheus text exposition format. */
#include <stdio.h>
#include <stdlib.h>
#include <unistd.h>

#include "server.h"

static const double lat_le[] = {0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1,
                                0.25,  0.5,    1,     2.5,  5,     10};
enum { N_LAT = sizeof lat_le / sizeof lat_le[0] };
static const int batch_le[] = {1, 2, 4, 8, 16, 32, 64, 128};
enum { N_BATCH = sizeof batch_le / sizeof batch_le[0] };
static const int codes[] = {200, 204, 400, 401, 404, 405, 413, 415, 422, 500, 503};
enum { N_CODES = sizeof codes / sizeof codes[0] + 1 }; /* + "other" */
static const char *const kind_name[] = {"embed_image", "embed_text", "caption", "other"};

struct metrics {
  pthread_mutex_t lock;
  uint64_t req[EP_COUNT][N_CODES];
  uint64_t lat[EP_COUNT][N_LAT + 1];
  double lat_sum[EP_COUNT];
  uint64_t batch[4][N_BATCH + 1];
  uint64_t batch_items[4];
};

metrics *metrics_new(void) {
  metrics *m = calloc(1, sizeof *m);
  if (m) pthread_mutex_init(&m->lock, NULL);
  return m;
}

void metrics_free(metrics *m) {
  if (!m) return;
  pthread_mutex_destroy(&m->lock);
  free(m);
}

void metrics_request(metrics *m, endpoint ep, int status, double seconds) {
  int c = N_CODES - 1;
  for (int i = 0; i < N_CODES - 1; i++)
    if (codes[i] == status) c = i;
  int b = 0;
  while (b < N_LAT && seconds > lat_le[b]) b++;
  pthread_mutex_lock(&m->lock);
  m->req[ep][c]++;
  m->lat[ep][b]++;
  m->lat_sum[ep] += seconds;
  pthread_mutex_unlock(&m->lock);
}

void metrics_batch(metrics *m, job_kind kind, int items) {
  int b = 0;
  while (b < N_BATCH && items > batch_le[b]) b++;
  pthread_mutex_lock(&m->lock);
  m->batch[kind][b]++;
  m->batch_items[kind] += (uint64_t)items;
  pthread_mutex_unlock(&m->lock);
}

static long rss_bytes(void) {
  long pages = 0, rss = 0;
  FILE *f = fopen("/proc/self/statm", "r");
  if (!f) return 0;
  if (fscanf(f, "%ld %ld", &pages, &rss) != 2) rss = 0;
  fclose(f);
  return rss * sysconf(_SC_PAGESIZE);
}

void metrics_write(metrics *m, server *s, sbuf *b) {
  metrics c;
  pthread_mutex_lock(&m->lock);
  c = *m;
  pthread_mutex_unlock(&m->lock);
  sb_puts(b,
          "# HELP vlp_requests_total HTTP requests by endpoint and status code.\n"
          "# TYPE vlp_requests_total counter\n");
  for (int e = 0; e < EP_COUNT; e++)
    for (int k = 0; k < N_CODES; k++) {
      if (!c.req[e][k]) continue;
      sb_printf(b, "vlp_requests_total{endpoint=\"%s\",code=\"", endpoint_path[e]);
      if (k < N_CODES - 1)
        sb_printf(b, "%d", codes[k]);
      else
        sb_puts(b, "other");
      sb_printf(b, "\"} %llu\n", (unsigned long long)c.req[e][k]);
    }
  sb_puts(b,
          "# HELP vlp_request_errors_total HTTP requests answered with a 4xx or 5xx status.\n"
          "# TYPE vlp_request_errors_total counter\n");
  for (int e = 0; e < EP_COUNT; e++) {
    uint64_t n = 0;
    for (int k = 0; k < N_CODES; k++)
      if (k == N_CODES - 1 || codes[k] >= 400) n += c.req[e][k];
    sb_printf(b, "vlp_request_errors_total{endpoint=\"%s\"} %llu\n", endpoint_path[e],
              (unsigned long long)n);
  }
  sb_puts(b,
          "# HELP vlp_request_duration_seconds Time from a request's first byte to its reply.\n"
          "# TYPE vlp_request_duration_seconds histogram\n");
  for (int e = 0; e < EP_COUNT; e++) {
    uint64_t cum = 0;
    for (int i = 0; i <= N_LAT; i++) {
      cum += c.lat[e][i];
      if (i < N_LAT)
        sb_printf(b, "vlp_request_duration_seconds_bucket{endpoint=\"%s\",le=\"%g\"} %llu\n",
                  endpoint_path[e], lat_le[i], (unsigned long long)cum);
      else
        sb_printf(b, "vlp_request_duration_seconds_bucket{endpoint=\"%s\",le=\"+Inf\"} %llu\n",
                  endpoint_path[e], (unsigned long long)cum);
    }
    sb_printf(b, "vlp_request_duration_seconds_sum{endpoint=\"%s\"} %.6f\n", endpoint_path[e],
              c.lat_sum[e]);
    sb_printf(b, "vlp_request_duration_seconds_count{endpoint=\"%s\"} %llu\n", endpoint_path[e],
              (unsigned long long)cum);
  }
  sb_puts(b,
          "# HELP vlp_batch_size Items per model call (dynamic batching gathers requests).\n"
          "# TYPE vlp_batch_size histogram\n");
  for (int k = 0; k < 4; k++) {
    uint64_t cum = 0;
    for (int i = 0; i <= N_BATCH; i++) {
      cum += c.batch[k][i];
      if (i < N_BATCH)
        sb_printf(b, "vlp_batch_size_bucket{task=\"%s\",le=\"%d\"} %llu\n", kind_name[k],
                  batch_le[i], (unsigned long long)cum);
      else
        sb_printf(b, "vlp_batch_size_bucket{task=\"%s\",le=\"+Inf\"} %llu\n", kind_name[k],
                  (unsigned long long)cum);
    }
    sb_printf(b, "vlp_batch_size_sum{task=\"%s\"} %llu\n", kind_name[k],
              (unsigned long long)c.batch_items[k]);
    sb_printf(b, "vlp_batch_size_count{task=\"%s\"} %llu\n", kind_name[k], (unsigned long long)cum);
  }
  pthread_mutex_lock(&s->qlock);
  int qlen = s->qlen;
  pthread_mutex_unlock(&s->qlock);
  sb_printf(b,
            "# HELP vlp_queue_depth Requests waiting for a worker.\n"
            "# TYPE vlp_queue_depth gauge\nvlp_queue_depth %d\n"
            "# HELP vlp_queue_capacity Requests that may wait before 503.\n"
            "# TYPE vlp_queue_capacity gauge\nvlp_queue_capacity %d\n"
            "# HELP vlp_inflight_requests Requests being read, queued or computed.\n"
            "# TYPE vlp_inflight_requests gauge\nvlp_inflight_requests %d\n",
            qlen, s->o.queue_max, atomic_load(&s->inflight));
  sb_puts(b,
          "# HELP vlp_model_memory_bytes Weight bytes of each loaded model (memory-mapped).\n"
          "# TYPE vlp_model_memory_bytes gauge\n");
  for (int i = 0; i < s->n_models; i++) {
    sb_puts(b, "vlp_model_memory_bytes{model=");
    sb_json_str(b, s->models[i].name);
    sb_printf(b, "} %llu\n", (unsigned long long)s->models[i].weight_bytes);
  }
  sb_printf(b,
            "# HELP vlp_thumbnail_cache_bytes Bytes of cached thumbnails.\n"
            "# TYPE vlp_thumbnail_cache_bytes gauge\nvlp_thumbnail_cache_bytes %zu\n"
            "# HELP vlp_resident_memory_bytes Resident set size of the process.\n"
            "# TYPE vlp_resident_memory_bytes gauge\nvlp_resident_memory_bytes %ld\n",
            thumb_cache_bytes(s->thumbs), rss_bytes());
}
