/* hub: downloads from a Hugging Face-compatible hub with libcurl (vlp_pull of vlp.h).
 *
 * Per file: a HEAD request without following redirects gives what the hub knows (status,
 * X-Repo-Commit, X-Linked-Etag = the sha256 of an LFS file, X-Linked-Size), then a GET
 * following redirects writes FILE.incomplete in the snapshot folder, resuming with a Range
 * request from what an earlier attempt left there. The finished file is checked (size,
 * sha256 when the hub gives one) and renamed into place; a wrong checksum removes it. */
#include <ctype.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/stat.h>
#include <unistd.h>

#include "core/error.h"
#include "core/json.h"
#include "hub/curl_lazy.h"
#include "hub/hub.h"
#include "hub/model_cache.h"
#include "hub/sha256.h"

#define PATH_CAP 4096
#define URL_CAP 8192
#define MAX_ATTEMPTS 5 /* GET attempts per file; each one resumes where the last stopped */

static int64_t file_size(const char *path) {
  struct stat sb;
  return stat(path, &sb) == 0 && S_ISREG(sb.st_mode) ? (int64_t)sb.st_size : -1;
}

/* ---- HTTP --------------------------------------------------------------------------------- */

/* What one response said (headers of the last response in a redirect chain). */
typedef struct {
  long status;
  char commit[128], linked_etag[160], etag[160], content_range[128], error_code[64];
  int64_t linked_size, content_length;
} hub_resp;

static void resp_reset(hub_resp *r) {
  memset(r, 0, sizeof *r);
  r->linked_size = r->content_length = -1;
}

static size_t on_header(char *buf, size_t size, size_t nitems, void *ud) {
  hub_resp *r = ud;
  size_t n = size * nitems;
  char line[512];
  size_t k = n < sizeof line - 1 ? n : sizeof line - 1;
  memcpy(line, buf, k);
  line[k] = 0;
  line[strcspn(line, "\r\n")] = 0;
  if (!strncmp(line, "HTTP/", 5)) { /* a new response (after a redirect) */
    resp_reset(r);
    const char *sp = strchr(line, ' ');
    r->status = sp ? strtol(sp + 1, NULL, 10) : 0;
    return n;
  }
  char *colon = strchr(line, ':');
  if (!colon) return n;
  *colon = 0;
  char *v = colon + 1;
  while (*v == ' ' || *v == '\t') v++;
  struct {
    const char *name;
    char *dst;
    size_t cap;
  } fields[] = {
      {"X-Repo-Commit", r->commit, sizeof r->commit},
      {"X-Linked-Etag", r->linked_etag, sizeof r->linked_etag},
      {"ETag", r->etag, sizeof r->etag},
      {"Content-Range", r->content_range, sizeof r->content_range},
      {"X-Error-Code", r->error_code, sizeof r->error_code},
  };
  for (size_t i = 0; i < sizeof fields / sizeof fields[0]; i++)
    if (!strcasecmp(line, fields[i].name)) snprintf(fields[i].dst, fields[i].cap, "%s", v);
  if (!strcasecmp(line, "X-Linked-Size")) r->linked_size = strtoll(v, NULL, 10);
  if (!strcasecmp(line, "Content-Length")) r->content_length = strtoll(v, NULL, 10);
  return n;
}

typedef struct {
  CURL *curl;
  const char *repo, *revision;
  char endpoint[1024];
  char rev_esc[512];
  struct curl_slist *headers;
  const vlp_pull_options *o;
  char repo_dir[PATH_CAP], snap[PATH_CAP];
  char errbuf[CURL_ERROR_SIZE];
  vlp_pull_result *res;
} puller;

/* One GET's state: where the body goes. */
typedef struct {
  hub_resp resp;
  int fd;
  int started;
  int64_t offset;  /* bytes of the file before this attempt's body */
  int64_t written; /* bytes this attempt wrote */
  int64_t total;   /* expected size, -1 unknown */
  int bad_range;
  int write_errno;
  const puller *p;
  const char *file;
  int cancelled; /* the progress callback asked to stop */
} dl_state;

static size_t on_body(char *data, size_t size, size_t nmemb, void *ud) {
  dl_state *s = ud;
  size_t n = size * nmemb;
  if (s->resp.status < 200 || s->resp.status >= 300) return n; /* an error page: ignored */
  if (!s->started) {
    s->started = 1;
    if (s->resp.status == 206) {
      long long a = -1;
      if (sscanf(s->resp.content_range, "bytes %lld-", &a) != 1 || a != s->offset) {
        s->bad_range = 1;
        return 0;
      }
    } else if (ftruncate(s->fd, 0) != 0) { /* 200: the whole file, from the start */
      s->write_errno = errno;
      return 0;
    } else {
      s->offset = 0;
    }
    if (lseek(s->fd, (off_t)s->offset, SEEK_SET) < 0) {
      s->write_errno = errno;
      return 0;
    }
  }
  for (size_t done = 0; done < n;) {
    ssize_t w = write(s->fd, data + done, n - done);
    if (w < 0 && errno == EINTR) continue;
    if (w <= 0) {
      s->write_errno = w < 0 ? errno : EIO;
      return 0;
    }
    done += (size_t)w;
  }
  s->written += (int64_t)n;
  return n;
}

static vlp_status cancelled(const puller *p, const char *file) {
  return vlp_fail(VLP_ERR_CANCELLED,
                  "%s: %s: download cancelled (what arrived is kept: run vlp pull again to resume)",
                  p->repo, file);
}

/* The progress callback: nonzero when it asks to stop. */
static int report(const puller *p, const char *file, int64_t done, int64_t total) {
  return p->o->progress && p->o->progress(p->o->progress_ctx, file, (uint64_t)(done > 0 ? done : 0),
                                          (uint64_t)(total > 0 ? total : 0));
}

static int on_progress(void *ud, curl_off_t dltotal, curl_off_t dlnow, curl_off_t ultotal,
                       curl_off_t ulnow) {
  (void)ultotal, (void)ulnow;
  dl_state *s = ud;
  if (!s->started || s->resp.status < 200 || s->resp.status >= 300) return 0;
  int64_t total = s->total >= 0 ? s->total : (dltotal > 0 ? s->offset + dltotal : 0);
  if (total > 0 && s->offset + dlnow >= total) return 0; /* completion is reported once, by fetch */
  if (s->p->o->progress(s->p->o->progress_ctx, s->file, (uint64_t)(s->offset + dlnow),
                        (uint64_t)total))
    s->cancelled = 1;
  return s->cancelled; /* nonzero: curl stops the transfer */
}

static vlp_status make_url(const puller *p, const char *file, char *url, size_t size) {
  char *f = curl_easy_escape(p->curl, file, 0);
  if (!f) return vlp_fail(VLP_ERR_NOMEM, "out of memory");
  vlp_status st = cache_path(url, size, "%s/%s/resolve/%s/%s", p->endpoint, p->repo, p->rev_esc, f);
  curl_free(f);
  return st;
}

static void setup(puller *p, const char *url, hub_resp *r) {
  CURL *c = p->curl;
  curl_easy_reset(c);
  curl_easy_setopt(c, CURLOPT_URL, url);
  curl_easy_setopt(c, CURLOPT_HTTPHEADER, p->headers);
  char agent[48];
  snprintf(agent, sizeof agent, "vlp/%s", vlp_version());
  curl_easy_setopt(c, CURLOPT_USERAGENT, agent); /* curl keeps a copy */
  curl_easy_setopt(c, CURLOPT_ERRORBUFFER, p->errbuf);
  curl_easy_setopt(c, CURLOPT_NOSIGNAL, 1L);
  curl_easy_setopt(c, CURLOPT_CONNECTTIMEOUT, 30L);
  curl_easy_setopt(c, CURLOPT_LOW_SPEED_LIMIT, 1L); /* a stalled transfer fails after 60 s */
  curl_easy_setopt(c, CURLOPT_LOW_SPEED_TIME, 60L);
  curl_easy_setopt(c, CURLOPT_MAXREDIRS, 10L);
#if LIBCURL_VERSION_NUM >= 0x075500
  curl_easy_setopt(c, CURLOPT_PROTOCOLS_STR, "http,https");
  curl_easy_setopt(c, CURLOPT_REDIR_PROTOCOLS_STR, "http,https");
#else
  curl_easy_setopt(c, CURLOPT_PROTOCOLS, (long)(CURLPROTO_HTTP | CURLPROTO_HTTPS));
  curl_easy_setopt(c, CURLOPT_REDIR_PROTOCOLS, (long)(CURLPROTO_HTTP | CURLPROTO_HTTPS));
#endif
  curl_easy_setopt(c, CURLOPT_HEADERFUNCTION, on_header);
  curl_easy_setopt(c, CURLOPT_HEADERDATA, r);
  p->errbuf[0] = 0;
  resp_reset(r);
}

static vlp_status curl_error(const puller *p, const char *url, CURLcode rc) {
  return vlp_fail(VLP_ERR_IO, "%s: %s", url, p->errbuf[0] ? p->errbuf : curl_easy_strerror(rc));
}

/* An HTTP error status as a message naming the repository and the file. */
static vlp_status http_error(const puller *p, const char *file, const char *url,
                             const hub_resp *r) {
  const char *why = "";
  if (r->status == 404 && !strcmp(r->error_code, "RevisionNotFound"))
    why = ": no such revision";
  else if (r->status == 404)
    why = ": not found (check the repository id and the revision)";
  else if (!strcmp(r->error_code, "GatedRepo"))
    why = ": gated repository: accept its conditions on the hub and set HF_TOKEN";
  else if (r->status == 401 || r->status == 403)
    why = ": the repository does not exist or needs a token (set HF_TOKEN)";
  return vlp_fail(VLP_ERR_IO, "%s: %s: HTTP %ld%s (%s)", p->repo, file, r->status, why, url);
}

static vlp_status head(puller *p, const char *url, hub_resp *r) {
  setup(p, url, r);
  curl_easy_setopt(p->curl, CURLOPT_NOBODY, 1L);
  curl_easy_setopt(p->curl, CURLOPT_FOLLOWLOCATION, 0L);
  CURLcode rc = curl_easy_perform(p->curl);
  if (rc != CURLE_OK) return curl_error(p, url, rc);
  return VLP_OK;
}

/* One GET attempt into tmp, resuming from its current size. */
static vlp_status get_once(puller *p, const char *file, const char *url, const char *tmp,
                           int64_t total, dl_state *s) {
  memset(s, 0, sizeof *s);
  s->p = p;
  s->file = file;
  s->total = total;
  int64_t have = file_size(tmp);
  s->offset = have > 0 ? have : 0;
  s->fd = open(tmp, O_WRONLY | O_CREAT | O_CLOEXEC, 0644);
  if (s->fd < 0) return vlp_fail(VLP_ERR_IO, "%s: cannot write: %s", tmp, strerror(errno));
  setup(p, url, &s->resp);
  CURL *c = p->curl;
  curl_easy_setopt(c, CURLOPT_FOLLOWLOCATION, 1L);
  curl_easy_setopt(c, CURLOPT_WRITEFUNCTION, on_body);
  curl_easy_setopt(c, CURLOPT_WRITEDATA, s);
  char range[64];
  if (s->offset > 0) {
    snprintf(range, sizeof range, "%lld-", (long long)s->offset);
    curl_easy_setopt(c, CURLOPT_RANGE, range);
  }
  if (p->o->progress) {
    curl_easy_setopt(c, CURLOPT_NOPROGRESS, 0L);
    curl_easy_setopt(c, CURLOPT_XFERINFOFUNCTION, on_progress);
    curl_easy_setopt(c, CURLOPT_XFERINFODATA, s);
  }
  CURLcode rc = curl_easy_perform(c);
  int close_bad = close(s->fd) != 0;
  p->res->bytes_downloaded += (uint64_t)s->written;
  if (s->write_errno || close_bad)
    return vlp_fail(VLP_ERR_IO, "%s: write error: %s", tmp,
                    strerror(s->write_errno ? s->write_errno : errno));
  if (s->bad_range)
    return vlp_fail(VLP_ERR_IO, "%s: %s: the server resumed at the wrong offset (%s)", p->repo,
                    file, s->resp.content_range);
  if (s->cancelled) return cancelled(p, file);
  if (rc != CURLE_OK) return curl_error(p, url, rc);
  return VLP_OK;
}

static vlp_status add_file(puller *p, const char *file) {
  vlp_pull_result *r = p->res;
  char **f = realloc(r->files, (size_t)(r->n_files + 1) * sizeof *f);
  if (!f) return vlp_fail(VLP_ERR_NOMEM, "out of memory");
  r->files = f;
  if (!(f[r->n_files] = strdup(file))) return vlp_fail(VLP_ERR_NOMEM, "out of memory");
  r->n_files++;
  return VLP_OK;
}

/* Download one file into the snapshot folder. *present = 0 when an optional file is not on
 * the hub. The first file's HEAD (X-Repo-Commit) chooses the snapshot folder. */
static vlp_status fetch(puller *p, const char *file, int required, int *present) {
  char url[URL_CAP], final[PATH_CAP], tmp[PATH_CAP], sha[65] = "";
  hub_resp h;
  vlp_status st = make_url(p, file, url, sizeof url);
  if (!st) st = head(p, url, &h);
  if (st) return st;
  if (present) *present = 1;
  if ((h.status == 404 || h.status == 410) && !required) {
    if (present) *present = 0;
    return VLP_OK;
  }
  if (h.status < 200 || h.status >= 400) return http_error(p, file, url, &h);
  if (!p->snap[0]) { /* the first file fixes the snapshot folder */
    char commit[256];
    int ok = h.commit[0] && strlen(h.commit) <= 64;
    for (const char *c = h.commit; ok && *c; c++) ok = isalnum((unsigned char)*c);
    if (ok)
      snprintf(commit, sizeof commit, "%s", h.commit);
    else
      cache_revision_folder(p->revision, commit, sizeof commit);
    if (!(p->res->commit = strdup(commit))) return vlp_fail(VLP_ERR_NOMEM, "out of memory");
    if ((st = cache_path(p->snap, sizeof p->snap, "%s/snapshots/%s", p->repo_dir, commit)) ||
        (st = cache_mkdirs(p->snap))) {
      p->snap[0] = 0;
      return st;
    }
  }
  int has_sha = hub_sha256_from_etag(h.linked_etag, sha) ||
                (h.status < 300 && hub_sha256_from_etag(h.etag, sha));
  int64_t total = h.linked_size >= 0 ? h.linked_size : h.status < 300 ? h.content_length : -1;
  if ((st = cache_path(final, sizeof final, "%s/%s", p->snap, file)) ||
      (st = cache_path(tmp, sizeof tmp, "%s/%s.incomplete", p->snap, file)))
    return st;

  int64_t have = file_size(final);
  if (have >= 0 && (total < 0 || have == total)) { /* already cached */
    if (report(p, file, have, have)) return cancelled(p, file);
    return add_file(p, file);
  }
  if (have >= 0) unlink(final);

  int restarted = 0;
  for (int attempt = 0;; attempt++) {
    int64_t part = file_size(tmp);
    if (total >= 0 && part > total) unlink(tmp), part = -1;
    if (total >= 0 && part == total) break; /* complete already: verify below */
    dl_state s;
    st = get_once(p, file, url, tmp, total, &s);
    if (s.resp.status == 416 && !restarted) { /* our partial file does not fit: start over */
      unlink(tmp);
      restarted = 1;
      vlp_clear_error();
      continue;
    }
    if (st == VLP_ERR_CANCELLED) return st;
    if (!st && s.resp.status >= 200 && s.resp.status < 300) break;
    if (!st || (s.resp.status >= 300 && s.resp.status != 416)) {
      /* an HTTP error: the file is not there (any more) */
      if (file_size(tmp) == 0) unlink(tmp);
      return http_error(p, file, url, &s.resp);
    }
    /* a transfer error: retry (resuming) while attempts make progress */
    if (s.written <= 0 || attempt + 1 >= MAX_ATTEMPTS)
      return vlp_fail_prefix(st, "%s: %s: download interrupted (run vlp pull again to resume)",
                             p->repo, file);
  }
  int64_t got = file_size(tmp);
  if (total >= 0 && got != total)
    return vlp_fail(VLP_ERR_IO, "%s: %s: got %lld of %lld bytes (run vlp pull again to resume)",
                    p->repo, file, (long long)got, (long long)total);
  if (has_sha) {
    char actual[65];
    if ((st = sha256_file(tmp, actual))) return st;
    if (strcmp(actual, sha)) {
      unlink(tmp);
      return vlp_fail(VLP_ERR_FORMAT,
                      "%s: %s: checksum mismatch: sha256 of the download is %s, the hub says %s; "
                      "the download was removed",
                      p->repo, file, actual, sha);
    }
  }
  if (rename(tmp, final) != 0)
    return vlp_fail(VLP_ERR_IO, "%s: cannot rename to %s: %s", tmp, final, strerror(errno));
  if (report(p, file, got, got)) return cancelled(p, file);
  return add_file(p, file);
}

/* refs/REVISION <- commit, atomically. */
static vlp_status write_ref(const puller *p) {
  char ref[PATH_CAP], tmp[PATH_CAP];
  vlp_status st = cache_path(ref, sizeof ref, "%s/refs/%s", p->repo_dir, p->revision);
  if (!st) st = cache_path(tmp, sizeof tmp, "%s.tmp%ld", ref, (long)getpid());
  if (st) return st;
  char dir[PATH_CAP];
  snprintf(dir, sizeof dir, "%s", ref);
  *strrchr(dir, '/') = 0;
  if ((st = cache_mkdirs(dir))) return st;
  FILE *f = fopen(tmp, "w");
  if (!f) return vlp_fail(VLP_ERR_IO, "%s: cannot write: %s", tmp, strerror(errno));
  int bad = fputs(p->res->commit, f) < 0;
  bad |= fclose(f) != 0;
  if (bad || rename(tmp, ref) != 0) {
    unlink(tmp);
    return vlp_fail(VLP_ERR_IO, "%s: cannot write", ref);
  }
  return VLP_OK;
}

static int snap_has(const puller *p, const char *file) {
  char path[PATH_CAP];
  return !cache_path(path, sizeof path, "%s/%s", p->snap, file) && file_size(path) >= 0;
}

static vlp_status pull_files(puller *p) {
  int present = 0;
  vlp_status st = fetch(p, "config.json", 1, NULL);
  if (!st) st = fetch(p, "model.safetensors", 0, &present);
  if (!st && !present) {
    st = fetch(p, "model.safetensors.index.json", 0, &present);
    if (!st && !present)
      return vlp_fail(VLP_ERR_UNSUPPORTED,
                      "%s: no model.safetensors or model.safetensors.index.json at revision %s "
                      "(vlp reads safetensors checkpoints only)",
                      p->repo, p->revision);
    char index[PATH_CAP], **shards = NULL;
    int n = 0;
    if (!st) st = cache_path(index, sizeof index, "%s/model.safetensors.index.json", p->snap);
    if (!st) st = hub_index_shards(index, &shards, &n);
    for (int i = 0; i < n; i++) {
      if (!st) st = fetch(p, shards[i], 1, NULL);
      free(shards[i]);
    }
    free(shards);
  }
  if (!st) st = fetch(p, "preprocessor_config.json", 1, NULL);
  static const char *const optional[] = {"vocab.txt",
                                         "vocab.json",
                                         "merges.txt",
                                         "spiece.model",
                                         "added_tokens.json",
                                         "special_tokens_map.json",
                                         "tokenizer_config.json",
                                         "tokenizer.json",
                                         "generation_config.json"};
  for (size_t i = 0; !st && i < sizeof optional / sizeof optional[0]; i++)
    st = fetch(p, optional[i], 0, NULL);
  if (st) return st;
  if (!snap_has(p, "vocab.txt") && !(snap_has(p, "vocab.json") && snap_has(p, "merges.txt")) &&
      !snap_has(p, "spiece.model"))
    return vlp_fail(VLP_ERR_UNSUPPORTED,
                    "%s: no tokenizer vlp reads (vocab.txt, vocab.json and merges.txt, or "
                    "spiece.model)",
                    p->repo);
  return write_ref(p);
}

vlp_status vlp_pull(const char *repo_id, const vlp_pull_options *opts, vlp_pull_result *out) {
  memset(out, 0, sizeof *out);
  vlp_pull_options none = {0};
  const vlp_pull_options *o = opts ? opts : &none;
  puller p = {.repo = repo_id, .o = o, .res = out};
  p.revision = o->revision ? o->revision : "main";
  if (!cache_valid_repo_id(repo_id))
    return vlp_fail(VLP_ERR_INVALID, "\"%.200s\" is not a repository id (ORG/NAME)", repo_id);
  if (!hub_valid_revision(p.revision))
    return vlp_fail(VLP_ERR_INVALID, "\"%.200s\" is not a revision name", p.revision);
  const char *endpoint = o->endpoint ? o->endpoint : getenv("HF_ENDPOINT");
  if (!endpoint || !endpoint[0]) endpoint = "https://huggingface.co";
  if (strncmp(endpoint, "http://", 7) && strncmp(endpoint, "https://", 8))
    return vlp_fail(VLP_ERR_INVALID, "hub endpoint \"%.200s\" is not an http(s) URL", endpoint);
  vlp_status st = cache_path(p.endpoint, sizeof p.endpoint, "%s", endpoint);
  if (st) return st;
  for (size_t n = strlen(p.endpoint); n && p.endpoint[n - 1] == '/';) p.endpoint[--n] = 0;

  char cache[PATH_CAP];
  if (o->cache_dir)
    st = cache_path(cache, sizeof cache, "%s", o->cache_dir);
  else
    st = vlp_cache_dir(cache, sizeof cache);
  if (!st) st = cache_repo_dir(cache, repo_id, p.repo_dir, sizeof p.repo_dir);
  if (st) return st;

  const char *why = "";
  if (curl_load(&why))
    return vlp_fail(VLP_ERR_UNSUPPORTED, "%s: cannot download without libcurl: %s", repo_id, why);
  static int curl_ready; /* curl_global_init is not thread-safe: pull from one thread */
  if (!curl_ready && curl_global_init(CURL_GLOBAL_DEFAULT) != 0)
    return vlp_fail(VLP_ERR_IO, "libcurl could not be initialised");
  curl_ready = 1;
  if (!(p.curl = curl_easy_init())) return vlp_fail(VLP_ERR_NOMEM, "libcurl: out of memory");
  char *rev = curl_easy_escape(p.curl, p.revision, 0);
  if (!rev)
    st = vlp_fail(VLP_ERR_NOMEM, "out of memory");
  else
    st = cache_path(p.rev_esc, sizeof p.rev_esc, "%s", rev);
  curl_free(rev);
  const char *token = o->token ? o->token : getenv("HF_TOKEN");
  if (!st && token && token[0]) {
    char auth[4096];
    if (!(st = cache_path(auth, sizeof auth, "Authorization: Bearer %s", token)) &&
        !(p.headers = curl_slist_append(NULL, auth)))
      st = vlp_fail(VLP_ERR_NOMEM, "out of memory");
  }
  if (!st) st = pull_files(&p);
  if (!st && !(out->path = strdup(p.snap))) st = vlp_fail(VLP_ERR_NOMEM, "out of memory");
  curl_slist_free_all(p.headers);
  curl_easy_cleanup(p.curl);
  if (st) {
    uint64_t bytes = out->bytes_downloaded;
    vlp_pull_result_free(out);
    out->bytes_downloaded = bytes;
  }
  return st;
}
