/* server: libmicrohttpd set-up, routing, request bodies, limits, authentication, CORS,
 * the access log, start-up (models, indexes, workers) and the SIGTERM drain. */
#include "server.h"

#include <arpa/inet.h>
#include <errno.h>
#include <netdb.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

const char *const endpoint_path[EP_COUNT] = {"/",
                                             "/v1/caption",
                                             "/v1/vqa",
                                             "/v1/itm",
                                             "/v1/tag",
                                             "/v1/embeddings",
                                             "/v1/search",
                                             "/v1/models",
                                             "/v1/indexes",
                                             "/predict",
                                             "/ping",
                                             "/knn-service",
                                             "/indices-list",
                                             "/healthz",
                                             "/metrics",
                                             "/thumb",
                                             "other"};

serve_options serve_default_options(void) {
  serve_options o = {0};
  o.host = "127.0.0.1";
  o.port = 8080;
  o.workers = 2;
  o.threads = 0;
  o.precision = VLP_PRECISION_F32;
  o.max_batch = 16;
  o.batch_wait_ms = 2;
  o.queue_max = 256;
  o.max_body = 32u << 20;
  o.max_inputs = 64;
  o.max_image_pixels = 40L * 1000 * 1000;
  o.timeout_ms = 30000;
  o.thumb_size = 256;
  o.thumb_cache = 64u << 20;
  return o;
}

double now_seconds(void) {
  struct timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return (double)ts.tv_sec + ts.tv_nsec * 1e-9;
}

/* ---- replies ------------------------------------------------------------------------ */

void reply_free(reply *r) {
  if (!r->is_static) free(r->body);
  memset(r, 0, sizeof *r);
}

void reply_json(reply *r, int status, sbuf *b) {
  reply_free(r);
  if (b->oom) {
    sb_free(b);
    reply_error(r, 503, "out of memory");
    return;
  }
  r->status = status;
  r->body = b->s ? b->s : strdup("{}");
  r->len = b->s ? b->n : 2;
  r->ctype = "application/json";
  memset(b, 0, sizeof *b);
}

static const char *error_type(int status) {
  switch (status) {
    case 401:
      return "authentication_error";
    case 404:
      return "not_found_error";
    case 413:
      return "request_too_large";
    case 503:
      return "overloaded_error";
    default:
      return status >= 500 ? "server_error" : "invalid_request_error";
  }
}

void reply_error(reply *r, int status, const char *fmt, ...) {
  char msg[600];
  va_list ap;
  va_start(ap, fmt);
  vsnprintf(msg, sizeof msg, fmt, ap);
  va_end(ap);
  sbuf b = {0};
  sb_puts(&b, "{\"error\": {\"message\": ");
  sb_json_str(&b, msg);
  sb_printf(&b, ", \"type\": \"%s\", \"code\": %d}}", error_type(status), status);
  reply_free(r);
  if (b.oom) { /* last resort: a static body */
    sb_free(&b);
    r->status = 503;
    r->body = (char *)"{\"error\": {\"message\": \"out of memory\", \"code\": 503}}";
    r->len = strlen(r->body);
    r->is_static = 1;
    r->ctype = "application/json";
    return;
  }
  r->status = status;
  r->body = b.s;
  r->len = b.n;
  r->ctype = "application/json";
}

void reply_detail(reply *r, int status, const char *msg) {
  sbuf b = {0};
  sb_puts(&b, "{\"detail\": ");
  sb_json_str(&b, msg);
  sb_puts(&b, "}");
  reply_json(r, status, &b);
  r->status = status;
}

/* ---- lookups ------------------------------------------------------------------------ */

static const char *base_name(const char *p) {
  const char *s = strrchr(p, '/');
  return s && s[1] ? s + 1 : p;
}

srv_model *find_model(server *s, const char *name) {
  for (int i = 0; i < s->n_models; i++)
    if (!strcmp(s->models[i].name, name)) return &s->models[i];
  for (int i = 0; i < s->n_models; i++)
    if (!strcmp(base_name(s->models[i].path), name)) return &s->models[i];
  return NULL;
}

srv_model *default_model(server *s, unsigned mask) {
  for (int i = 0; i < s->n_models; i++)
    if (mask & (1u << s->models[i].arch)) return &s->models[i];
  return NULL;
}

srv_index *find_index(server *s, const char *name) {
  for (int i = 0; i < s->n_indexes; i++)
    if (!strcmp(srv_index_name(s->indexes[i]), name)) return s->indexes[i];
  return NULL;
}

/* ---- routing ------------------------------------------------------------------------ */

static endpoint route(const char *url, int *is_get_ok, int *is_post_ok) {
  *is_get_ok = *is_post_ok = 0;
  static const struct {
    const char *path;
    endpoint ep;
    int get, post;
  } table[] = {
      {"/", EP_PAGE, 1, 0},
      {"/index.html", EP_PAGE, 1, 0},
      {"/v1/caption", EP_CAPTION, 0, 1},
      {"/v1/vqa", EP_VQA, 0, 1},
      {"/v1/itm", EP_ITM, 0, 1},
      {"/v1/tag", EP_TAG, 0, 1},
      {"/v1/embeddings", EP_EMBED, 0, 1},
      {"/v1/search", EP_SEARCH, 0, 1},
      {"/v1/models", EP_MODELS, 1, 0},
      {"/v1/indexes", EP_INDEXES, 1, 0},
      {"/predict", EP_PREDICT, 0, 1},
      {"/ping", EP_PING, 1, 0},
      {"/knn-service", EP_KNN, 0, 1},
      {"/indices-list", EP_INDICES_LIST, 1, 0},
      {"/healthz", EP_HEALTHZ, 1, 0},
      {"/metrics", EP_METRICS, 1, 0},
  };
  for (size_t i = 0; i < sizeof table / sizeof table[0]; i++)
    if (!strcmp(url, table[i].path)) {
      *is_get_ok = table[i].get;
      *is_post_ok = table[i].post;
      return table[i].ep;
    }
  if (!strncmp(url, "/thumb/", 7)) {
    *is_get_ok = 1;
    return EP_THUMB;
  }
  return EP_OTHER;
}

/* Constant-time comparison of the bearer token. */
static int authorized(request *r) {
  const char *key = r->srv->o.api_key;
  if (!key) return 1;
  if (r->ep == EP_PAGE || r->ep == EP_HEALTHZ || r->ep == EP_PING) return 1;
  const char *h = MHD_lookup_connection_value(r->conn, MHD_HEADER_KIND, "Authorization");
  if (!h || strncasecmp(h, "Bearer ", 7)) return 0;
  h += 7;
  size_t a = strlen(h), b = strlen(key);
  unsigned diff = (unsigned)(a != b);
  for (size_t i = 0; i < a && i < b; i++) diff |= (unsigned)(h[i] ^ key[i]);
  return diff == 0;
}

static enum MHD_Result send_reply(request *r) {
  reply *p = &r->rep;
  struct MHD_Response *resp;
  if (p->is_static)
    resp = MHD_create_response_from_buffer(p->len, p->body, MHD_RESPMEM_PERSISTENT);
  else {
    resp = MHD_create_response_from_buffer(p->len, p->body, MHD_RESPMEM_MUST_FREE);
    if (resp) p->body = NULL; /* the response owns it now */
  }
  if (!resp) return MHD_NO;
  MHD_add_response_header(resp, "Content-Type", p->ctype ? p->ctype : "application/json");
  MHD_add_response_header(resp, "X-Content-Type-Options", "nosniff");
  if (p->retry_after) {
    char v[16];
    snprintf(v, sizeof v, "%d", p->retry_after);
    MHD_add_response_header(resp, "Retry-After", v);
  }
  if (p->status == 401) MHD_add_response_header(resp, "WWW-Authenticate", "Bearer");
  if (p->cache_seconds) {
    char v[48];
    snprintf(v, sizeof v, "private, max-age=%d", p->cache_seconds);
    MHD_add_response_header(resp, "Cache-Control", v);
  } else {
    MHD_add_response_header(resp, "Cache-Control", "no-store");
  }
  if (r->srv->o.cors_origin) {
    MHD_add_response_header(resp, "Access-Control-Allow-Origin", r->srv->o.cors_origin);
    MHD_add_response_header(resp, "Vary", "Origin");
  }
  if (r->ep == EP_PAGE)
    MHD_add_response_header(resp, "Content-Security-Policy",
                            "default-src 'self'; img-src 'self' blob: data:; "
                            "style-src 'self' 'unsafe-inline'; script-src 'self' 'unsafe-inline'");
  /* counted before the client can read the reply, so a /metrics read after it sees it */
  metrics_request(r->srv->met, r->ep, p->status, now_seconds() - r->t0);
  r->counted = 1;
  enum MHD_Result ret = MHD_queue_response(r->conn, (unsigned)p->status, resp);
  MHD_destroy_response(resp);
  return ret;
}

static void h_healthz(request *r) {
  server *s = r->srv;
  sbuf b = {0};
  int draining = atomic_load(&s->draining);
  sb_printf(&b, "{\"status\": \"%s\", \"models\": %d, \"indexes\": %d}",
            draining ? "draining" : "ok", s->n_models, s->n_indexes);
  reply_json(&r->rep, draining ? 503 : 200, &b);
}

static void h_metrics(request *r) {
  sbuf b = {0};
  metrics_write(r->srv->met, r->srv, &b);
  reply_json(&r->rep, 200, &b);
  r->rep.ctype = "text/plain; version=0.0.4";
}

static void h_ping(request *r) {
  reply_free(&r->rep);
  r->rep.status = 200;
  r->rep.body = (char *)"pong";
  r->rep.len = 4;
  r->rep.is_static = 1;
  r->rep.ctype = "text/plain; charset=utf-8";
}

/* The complete request is here: dispatch it. Sets r->rep or submits a job. */
static void handle(request *r) {
  server *s = r->srv;
  if (r->too_large) {
    reply_error(&r->rep, 413, "request body larger than %zu bytes", s->o.max_body);
    return;
  }
  switch (r->ep) {
    case EP_PAGE:
      h_page(r);
      return;
    case EP_MODELS:
      h_models(r);
      return;
    case EP_INDEXES:
      h_indexes(r);
      return;
    case EP_INDICES_LIST:
      h_indices_list(r);
      return;
    case EP_HEALTHZ:
      h_healthz(r);
      return;
    case EP_METRICS:
      h_metrics(r);
      return;
    case EP_PING:
      h_ping(r);
      return;
    case EP_THUMB:
      h_thumb(r);
      return;
    default:
      break;
  }
  form f;
  if (form_parse(r, &f) == 0) {
    switch (r->ep) {
      case EP_CAPTION:
        h_caption(r, &f);
        break;
      case EP_VQA:
        h_vqa(r, &f);
        break;
      case EP_ITM:
        h_itm(r, &f);
        break;
      case EP_TAG:
        h_tag(r, &f);
        break;
      case EP_EMBED:
        h_embeddings(r, &f);
        break;
      case EP_SEARCH:
        h_search(r, &f);
        break;
      case EP_PREDICT:
        h_predict(r, &f);
        break;
      case EP_KNN:
        h_knn(r, &f);
        break;
      default:
        reply_error(&r->rep, 404, "no such endpoint");
    }
  }
  form_free(&f);
}

static enum MHD_Result on_request(void *cls, struct MHD_Connection *conn, const char *url,
                                  const char *method, const char *version, const char *upload_data,
                                  size_t *upload_size, void **con_cls) {
  server *s = cls;
  request *r = *con_cls;
  if (!r) { /* the headers are here */
    r = calloc(1, sizeof *r);
    if (!r) return MHD_NO;
    *con_cls = r;
    atomic_fetch_add(&s->inflight, 1);
    r->srv = s;
    r->conn = conn;
    r->t0 = now_seconds();
    snprintf(r->url, sizeof r->url, "%s", url);
    int get_ok, post_ok;
    r->ep = route(url, &get_ok, &post_ok);
    r->is_post = !strcmp(method, "POST");
    int is_get = !strcmp(method, "GET") || !strcmp(method, "HEAD");
    if (atomic_load(&s->draining) && r->ep != EP_HEALTHZ) {
      reply_error(&r->rep, 503, "the server is shutting down");
      r->rep.retry_after = 1;
    } else if (r->ep == EP_OTHER) {
      reply_error(&r->rep, 404, "no such endpoint: %s %.100s", method, url);
    } else if (!strcmp(method, "OPTIONS") && s->o.cors_origin) {
      reply_free(&r->rep);
      r->rep.status = 204;
      r->rep.body = (char *)"";
      r->rep.is_static = 1;
    } else if (!(is_get && get_ok) && !(r->is_post && post_ok)) {
      reply_error(&r->rep, 405, "%s needs %s", endpoint_path[r->ep], get_ok ? "GET" : "POST");
    } else if (!authorized(r)) {
      reply_error(&r->rep, 401, "missing or wrong API key (Authorization: Bearer KEY)");
    } else {
      const char *cl = MHD_lookup_connection_value(conn, MHD_HEADER_KIND, "Content-Length");
      if (cl && strtoull(cl, NULL, 10) > s->o.max_body)
        reply_error(&r->rep, 413, "request body larger than %zu bytes", s->o.max_body);
    }
    if (r->rep.status) return send_reply(r); /* refused before reading the body */
    r->receiving = 1;
    atomic_fetch_add(&s->receiving, 1);
    return MHD_YES;
  }
  if (*upload_size) { /* a piece of the body */
    size_t n = *upload_size;
    *upload_size = 0;
    if (r->too_large) return MHD_YES;
    if (r->len + n > s->o.max_body) {
      r->too_large = 1;
      free(r->body);
      r->body = NULL;
      r->len = r->cap = 0;
      return MHD_YES;
    }
    if (r->len + n + 1 > r->cap) {
      size_t cap = r->cap ? r->cap : 4096;
      while (cap < r->len + n + 1) cap *= 2;
      if (cap > s->o.max_body + 1) cap = s->o.max_body + 1;
      uint8_t *b = realloc(r->body, cap);
      if (!b) return MHD_NO;
      r->body = b;
      r->cap = cap;
    }
    memcpy(r->body + r->len, upload_data, n);
    r->len += n;
    r->body[r->len] = 0;
    return MHD_YES;
  }
  if (r->suspended) { /* resumed by a worker */
    if (!atomic_load(&r->done)) return MHD_YES;
    r->suspended = 0;
    return send_reply(r);
  }
  if (!r->rep.status) handle(r); /* a job it queues stops counting as receiving */
  if (r->receiving) {
    r->receiving = 0;
    atomic_fetch_sub(&s->receiving, 1);
  }
  if (r->job) return MHD_YES; /* suspended until a worker answers */
  if (!r->rep.status) reply_error(&r->rep, 500, "no reply");
  free(r->body); /* not needed any more */
  r->body = NULL;
  r->len = r->cap = 0;
  return send_reply(r);
}

static void on_completed(void *cls, struct MHD_Connection *conn, void **con_cls,
                         enum MHD_RequestTerminationCode toe) {
  server *s = cls;
  request *r = *con_cls;
  if (!r) return;
  if (r->receiving) atomic_fetch_sub(&s->receiving, 1); /* the client went away mid-body */
  double dt = now_seconds() - r->t0;
  int status = r->rep.status ? r->rep.status : 499;
  if (!r->counted) metrics_request(s->met, r->ep, status, dt); /* the client went away */
  if (!s->o.quiet)
    fprintf(stderr, "vlp serve: %s %.100s %d %.1f ms\n", r->is_post ? "POST" : "GET", r->url,
            status, dt * 1e3);
  reply_free(&r->rep);
  free(r->body);
  free(r);
  *con_cls = NULL;
  atomic_fetch_sub(&s->inflight, 1);
}

/* ---- start-up ----------------------------------------------------------------------- */

static int is_loopback(const char *host) {
  return !strcmp(host, "127.0.0.1") || !strcmp(host, "::1") || !strcmp(host, "localhost") ||
         !strncmp(host, "127.", 4);
}

static int load_model(server *s, const char *spec) {
  srv_model *m = &s->models[s->n_models];
  const char *eq = strchr(spec, '=');
  const char *src = eq ? eq + 1 : spec;
  char path[4096];
  vlp_model_params mp = vlp_model_default_params();
  mp.n_threads = s->o.threads;
  mp.precision = (vlp_precision)s->o.precision;
  if (vlp_resolve_model(src, path, sizeof path) || vlp_model_load_with(path, &mp, &m->m)) {
    fprintf(stderr, "vlp serve: %s\n", vlp_last_error());
    return -1;
  }
  /* clients call it NAME=, else a folder's name, else the cache name as given */
  struct stat sb;
  if (eq)
    m->name = strndup(spec, (size_t)(eq - spec));
  else if (!stat(src, &sb) && S_ISDIR(sb.st_mode))
    m->name = strdup(base_name(path));
  else
    m->name = strdup(src);
  m->path = strdup(path);
  m->arch = vlp_model_arch(m->m);
  m->precision = mp.precision;
  m->dim = m->arch == VLP_ARCH_CLIP || m->arch == VLP_ARCH_SIGLIP || m->arch == VLP_ARCH_BLIP_ITM
               ? vlp_model_embed_dim(m->m)
               : 0;
  vlp_model_summary sum;
  if (!vlp_model_info(path, &sum)) m->weight_bytes = sum.weight_bytes;
  s->n_models++;
  if (!m->name || !m->path) {
    fprintf(stderr, "vlp serve: out of memory\n");
    return -1;
  }
  for (int i = 0; i + 1 < s->n_models; i++)
    if (!strcmp(s->models[i].name, m->name)) {
      fprintf(stderr, "vlp serve: two models are called '%s'; name them with -m NAME=MODEL\n",
              m->name);
      return -1;
    }
  return 0;
}

/* The model an index was built with: a loaded one of the same architecture and width
 * (preferring the same folder), else the recorded folder is loaded. */
static int attach_index_model(server *s, srv_index *x) {
  srv_model *best = NULL;
  for (int i = 0; i < s->n_models; i++) {
    srv_model *m = &s->models[i];
    if (strcmp(vlp_arch_name(m->arch), srv_index_arch(x)) || m->dim != srv_index_dim(x)) continue;
    if (!best || !strcmp(m->path, srv_index_model_path(x))) best = m;
  }
  if (!best) {
    if (load_model(s, srv_index_model_path(x))) return -1;
    best = &s->models[s->n_models - 1];
    if (strcmp(vlp_arch_name(best->arch), srv_index_arch(x)) || best->dim != srv_index_dim(x)) {
      fprintf(stderr, "vlp serve: index %s: its model %s is no longer a %s with %d dimensions\n",
              srv_index_name(x), srv_index_model_path(x), srv_index_arch(x), srv_index_dim(x));
      return -1;
    }
  }
  srv_index_set_model(x, best);
  return 0;
}

static int bind_address(const char *host, int port, struct sockaddr_storage *ss) {
  struct addrinfo hints = {0}, *res = NULL;
  hints.ai_family = AF_UNSPEC;
  hints.ai_socktype = SOCK_STREAM;
  hints.ai_flags = AI_PASSIVE | AI_NUMERICSERV;
  char p[16];
  snprintf(p, sizeof p, "%d", port);
  if (getaddrinfo(host, p, &hints, &res) || !res) return -1;
  memcpy(ss, res->ai_addr, res->ai_addrlen);
  freeaddrinfo(res);
  return 0;
}

static void server_free(server *s) {
  for (int i = 0; i < s->n_indexes; i++) srv_index_free(s->indexes[i]);
  free(s->indexes);
  for (int i = 0; i < s->n_models; i++) {
    vlp_model_free(s->models[i].m);
    free(s->models[i].name);
    free(s->models[i].path);
  }
  free(s->models);
  metrics_free(s->met);
  thumb_cache_free(s->thumbs);
  pthread_mutex_destroy(&s->qlock);
  pthread_cond_destroy(&s->qcond);
}

static int sig_pipe[2] = {-1, -1};

static void on_signal(int sig) {
  int saved = errno;
  unsigned char c = (unsigned char)sig;
  if (write(sig_pipe[1], &c, 1) < 0) { /* the pipe is full: a signal is already pending */
  }
  errno = saved;
}

int serve_run(const serve_options *o) {
  server srv = {0}, *s = &srv;
  s->o = *o;
  if (s->o.workers < 1) s->o.workers = 1;
  if (s->o.workers > 64) s->o.workers = 64;
  if (s->o.max_batch < 1) s->o.max_batch = 1;
  pthread_mutex_init(&s->qlock, NULL);
  pthread_cond_init(&s->qcond, NULL);
  int rc = 2;
  /* SIGTERM / SIGINT: any thread may take the signal (OpenBLAS starts threads before main),
   * so the handler only writes to a pipe the main thread waits on; a second signal during
   * the drain is ignored */
  if (pipe(sig_pipe)) {
    fprintf(stderr, "vlp serve: cannot create a pipe\n");
    goto done;
  }
  struct sigaction sa = {0};
  sa.sa_handler = on_signal;
  sigemptyset(&sa.sa_mask);
  sa.sa_flags = SA_RESTART;
  sigaction(SIGTERM, &sa, NULL);
  sigaction(SIGINT, &sa, NULL);
  signal(SIGPIPE, SIG_IGN);
  if (!is_loopback(o->host) && !o->api_key) {
    fprintf(stderr,
            "vlp serve: listening on %s (not loopback) needs --api-key KEY (clients send "
            "Authorization: Bearer KEY)\n",
            o->host);
    goto done;
  }
  s->met = metrics_new();
  s->thumbs = thumb_cache_new(o->thumb_cache);
  s->models = calloc((size_t)(o->n_models + o->n_indexes + 1), sizeof *s->models);
  s->indexes = calloc((size_t)(o->n_indexes + 1), sizeof *s->indexes);
  if (!s->met || !s->thumbs || !s->models || !s->indexes) {
    fprintf(stderr, "vlp serve: out of memory\n");
    goto done;
  }
  for (int i = 0; i < o->n_models; i++)
    if (load_model(s, o->models[i])) goto done;
  int64_t base = 0;
  for (int i = 0; i < o->n_indexes; i++) {
    srv_index *x;
    if (srv_index_open(s, o->indexes[i], &x)) {
      fprintf(stderr, "vlp serve: %s\n", vlp_last_error());
      goto done;
    }
    s->indexes[s->n_indexes++] = x;
    srv_index_set_base(x, base);
    base += srv_index_count(x);
    for (int k = 0; k + 1 < s->n_indexes; k++)
      if (!strcmp(srv_index_name(s->indexes[k]), srv_index_name(x))) {
        fprintf(stderr, "vlp serve: two indexes are called '%s'; name them with --index NAME=DIR\n",
                srv_index_name(x));
        goto done;
      }
    if (attach_index_model(s, x)) goto done;
  }
  if (!s->n_models) {
    fprintf(stderr, "vlp serve: no model: give -m MODEL or --index DIR (vlp serve --help)\n");
    goto done;
  }
  struct sockaddr_storage addr;
  if (bind_address(o->host, o->port, &addr)) {
    fprintf(stderr, "vlp serve: cannot resolve host '%s'\n", o->host);
    goto done;
  }
  if (workers_start(s)) {
    fprintf(stderr, "vlp serve: cannot start the workers\n");
    workers_stop(s);
    goto done;
  }
  unsigned flags = MHD_USE_INTERNAL_POLLING_THREAD | MHD_USE_POLL | MHD_ALLOW_SUSPEND_RESUME |
                   MHD_USE_ITC | MHD_USE_ERROR_LOG;
  if (addr.ss_family == AF_INET6) flags |= MHD_USE_IPv6;
  s->d =
      MHD_start_daemon(flags, (uint16_t)o->port, NULL, NULL, on_request, s, MHD_OPTION_SOCK_ADDR,
                       (struct sockaddr *)&addr, MHD_OPTION_THREAD_POOL_SIZE, (unsigned)2,
                       MHD_OPTION_CONNECTION_LIMIT, (unsigned)512, MHD_OPTION_CONNECTION_TIMEOUT,
                       (unsigned)60, MHD_OPTION_NOTIFY_COMPLETED, on_completed, s, MHD_OPTION_END);
  if (!s->d) {
    fprintf(stderr, "vlp serve: cannot listen on %s port %d (in use? permission?)\n", o->host,
            o->port);
    workers_stop(s);
    goto done;
  }
  const union MHD_DaemonInfo *info = MHD_get_daemon_info(s->d, MHD_DAEMON_INFO_BIND_PORT);
  int port = info ? info->port : o->port;
  int v6 = addr.ss_family == AF_INET6;
  fprintf(stderr, "vlp serve: listening on http://%s%s%s:%d (%d models, %d indexes, %d workers)\n",
          v6 ? "[" : "", o->host, v6 ? "]" : "", port, s->n_models, s->n_indexes, s->o.workers);
  fflush(stderr);

  unsigned char sig = 0;
  while (read(sig_pipe[0], &sig, 1) < 0 && errno == EINTR) continue;

  /* drain: stop accepting, let every request in flight finish, then stop */
  fprintf(stderr, "vlp serve: %s: finishing %d requests in flight\n",
          sig == SIGINT ? "SIGINT" : "SIGTERM", atomic_load(&s->inflight));
  atomic_store(&s->draining, 1);
  MHD_socket lfd = MHD_quiesce_daemon(s->d);
  if (lfd != MHD_INVALID_SOCKET) close(lfd);
  double until = now_seconds() + o->timeout_ms / 1000.0 + 5;
  while (atomic_load(&s->inflight) > 0 && now_seconds() < until) usleep(10000);
  MHD_stop_daemon(s->d);
  workers_stop(s);
  fprintf(stderr, "vlp serve: stopped\n");
  rc = 0;
done:
  signal(SIGTERM, SIG_DFL);
  signal(SIGINT, SIG_DFL);
  if (sig_pipe[0] >= 0) {
    close(sig_pipe[0]);
    close(sig_pipe[1]);
    sig_pipe[0] = sig_pipe[1] = -1;
  }
  server_free(s);
  return rc;
}
