/* hub_server: a tiny single-threaded HTTP/1.1 server on 127.0.0.1 that serves model folders
 * in a Hugging Face hub's URL layout, for tests/pull_test.sh (test-only; never reaches out).
 *
 *   hub_server --repo ORG/NAME=DIR [--repo ...] [--commit HEX] [--mode MODE] [--log FILE]
 *              [--timeout SECONDS]
 *
 * Prints the (ephemeral) port on stdout, then serves until the timeout (default 120 s):
 *   HEAD/GET /ORG/NAME/resolve/REV/FILE
 *     *.safetensors: 302 to /cdn/ORG/NAME/FILE with X-Linked-Etag "<sha256>", X-Linked-Size,
 *       X-Repo-Commit (as the hub does for LFS files); other files: 200 with an ETag that is
 *       not a sha256 and X-Repo-Commit. Unknown repo: 404 RepoNotFound; missing file: 404
 *       EntryNotFound; REV "missing-rev": 404 RevisionNotFound.
 *   GET /cdn/ORG/NAME/FILE: the bytes, 200, or 206 for "Range: bytes=A-" (416 past the end).
 * Modes: normal; interrupt (the first full GET of a /cdn/ file sends the headers and half the
 * body, then closes the connection); corrupt (/cdn/ bodies have one byte changed, same
 * headers and sha256); slow (/cdn/ bodies go out 4 KiB every 20 ms, for a download to be
 * stopped part way). Every request is logged as "METHOD PATH range=R status=S auth=A". */
#include <errno.h>
#include <netinet/in.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/socket.h>
#include <sys/time.h>
#include <time.h>
#include <unistd.h>

#include "core/json.h"
#include "hub/sha256.h"

#define MAX_REPOS 8

static struct { const char *id, *dir; } repos[MAX_REPOS];
static int n_repos;
static const char *commit = "0123456789abcdef0123456789abcdef01234567";
static const char *mode = "normal";
static FILE *log_file;
static int interrupted_once;

static void send_all(int fd, const void *p, size_t n) {
  const char *c = p;
  while (n > 0) {
    ssize_t w = send(fd, c, n, MSG_NOSIGNAL);
    if (w < 0 && errno == EINTR) continue;
    if (w <= 0) return;
    c += w;
    n -= (size_t)w;
  }
}

static void respond(int fd, int status, const char *reason, const char *extra, size_t len,
                    const char *body, int send_body, size_t body_bytes) {
  char h[2048];
  int n =
      snprintf(h, sizeof h, "HTTP/1.1 %d %s\r\nContent-Length: %zu\r\nConnection: close\r\n%s\r\n",
               status, reason, len, extra ? extra : "");
  send_all(fd, h, (size_t)n);
  if (!send_body || !body) return;
  if (strcmp(mode, "slow")) {
    send_all(fd, body, body_bytes);
    return;
  }
  for (size_t at = 0; at < body_bytes; at += 4096) {
    send_all(fd, body + at, body_bytes - at < 4096 ? body_bytes - at : 4096);
    nanosleep(&(struct timespec){0, 20 * 1000 * 1000}, NULL);
  }
}

static const char *repo_dir(const char *id, size_t n) {
  for (int i = 0; i < n_repos; i++)
    if (strlen(repos[i].id) == n && !strncmp(repos[i].id, id, n)) return repos[i].dir;
  return NULL;
}

static int valid_file(const char *f) {
  return f[0] && !strchr(f, '/') && !strstr(f, "..");
}

static int ends_with(const char *s, const char *suf) {
  size_t a = strlen(s), b = strlen(suf);
  return a >= b && !strcmp(s + a - b, suf);
}

/* The whole file (malloc'd) or NULL. */
static char *load(const char *dir, const char *file, size_t *n) {
  char path[4096];
  snprintf(path, sizeof path, "%s/%s", dir, file);
  char *data;
  if (read_file(path, &data, n) != VLP_OK) return NULL;
  return data;
}

static void handle(int fd) {
  char req[8192];
  size_t got = 0;
  while (got < sizeof req - 1) {
    ssize_t r = recv(fd, req + got, sizeof req - 1 - got, 0);
    if (r <= 0) return;
    got += (size_t)r;
    req[got] = 0;
    if (strstr(req, "\r\n\r\n")) break;
  }
  char method[16], target[2048];
  if (sscanf(req, "%15s %2047s", method, target) != 2) return;
  int is_head = !strcmp(method, "HEAD");
  char range[128] = "", auth[256] = "-";
  for (char *l = strstr(req, "\r\n"); l; l = strstr(l + 2, "\r\n")) {
    if (!strncasecmp(l + 2, "Range:", 6)) sscanf(l + 8, " %127[^\r\n]", range);
    if (!strncasecmp(l + 2, "Authorization:", 14)) sscanf(l + 16, " %255[^\r\n]", auth);
  }
  int status = 404;
  char extra[1024] = "";
  const char *why = "Not Found";
  char *data = NULL;
  size_t n = 0;

  /* /cdn/ORG/NAME/FILE or /ORG/NAME/resolve/REV/FILE (NAME alone for repos without an org) */
  const char *file = strrchr(target, '/') + 1;
  if (!strncmp(target, "/cdn/", 5)) {
    const char *id = target + 5;
    const char *dir = repo_dir(id, (size_t)(file - 1 - id));
    if (dir && valid_file(file) && (data = load(dir, file, &n))) {
      long long a = 0;
      char sha[65];
      sha256_ctx c;
      uint8_t d[32];
      sha256_init(&c);
      sha256_update(&c, data, n); /* the checksum of the right bytes, whatever is served */
      sha256_final(&c, d);
      sha256_hex(d, sha);
      if (!strcmp(mode, "corrupt") && n) data[n / 2] ^= 0x5a;
      if (range[0] && sscanf(range, "bytes=%lld-", &a) == 1) {
        if (a < 0 || (size_t)a >= n) {
          status = 416;
          why = "Range Not Satisfiable";
          snprintf(extra, sizeof extra, "Content-Range: bytes */%zu\r\n", n);
        } else {
          status = 206;
          why = "Partial Content";
          snprintf(extra, sizeof extra, "ETag: \"%s\"\r\nContent-Range: bytes %lld-%zu/%zu\r\n",
                   sha, a, n - 1, n);
        }
      } else {
        status = 200;
        why = "OK";
        snprintf(extra, sizeof extra, "ETag: \"%s\"\r\nAccept-Ranges: bytes\r\n", sha);
      }
      if (log_file)
        fprintf(log_file, "%s %s range=%s status=%d auth=%s\n", method, target,
                range[0] ? range : "-", status, auth),
            fflush(log_file);
      if (status == 206) {
        respond(fd, status, why, extra, n - (size_t)a, data + a, !is_head, n - (size_t)a);
      } else if (status == 200 && !is_head && !strcmp(mode, "interrupt") && !interrupted_once) {
        interrupted_once = 1; /* headers promise n bytes; half of them arrive */
        respond(fd, status, why, extra, n, data, 1, n / 2);
      } else {
        respond(fd, status, why, extra, status == 200 ? n : 0, data, !is_head && status == 200, n);
      }
      free(data);
      return;
    }
  } else {
    char *res = strstr(target, "/resolve/");
    const char *dir = res ? repo_dir(target + 1, (size_t)(res - target - 1)) : NULL;
    const char *rev = res ? res + 9 : "";
    size_t rev_len = res ? (size_t)(file - 1 - rev) : 0;
    if (!res || !dir) {
      strcpy(extra, "X-Error-Code: RepoNotFound\r\n");
    } else if (rev_len == 11 && !strncmp(rev, "missing-rev", 11)) {
      strcpy(extra, "X-Error-Code: RevisionNotFound\r\n");
    } else if (!valid_file(file) || !(data = load(dir, file, &n))) {
      strcpy(extra, "X-Error-Code: EntryNotFound\r\n");
    } else if (ends_with(file, ".safetensors")) {
      sha256_ctx c;
      uint8_t d[32];
      char sha[65];
      sha256_init(&c);
      sha256_update(&c, data, n);
      sha256_final(&c, d);
      sha256_hex(d, sha);
      status = 302;
      why = "Found";
      snprintf(extra, sizeof extra,
               "Location: /cdn/%.*s/%s\r\nX-Repo-Commit: %s\r\nX-Linked-Etag: \"%s\"\r\n"
               "X-Linked-Size: %zu\r\nETag: \"%.40s\"\r\n",
               (int)(res - target - 1), target + 1, file, commit, sha, n, sha);
      free(data);
      data = NULL;
      n = 0;
    } else {
      status = 200;
      why = "OK";
      /* a git blob id, as the hub sends for non-LFS files: not a sha256 */
      snprintf(extra, sizeof extra, "X-Repo-Commit: %s\r\nETag: \"%040zx\"\r\n", commit, n);
    }
    if (log_file)
      fprintf(log_file, "%s %s range=%s status=%d auth=%s\n", method, target,
              range[0] ? range : "-", status, auth),
          fflush(log_file);
    respond(fd, status, why, extra, n, data, !is_head && data, n);
    free(data);
    return;
  }
  if (log_file)
    fprintf(log_file, "%s %s range=%s status=404 auth=%s\n", method, target, range[0] ? range : "-",
            auth),
        fflush(log_file);
  respond(fd, 404, "Not Found", "X-Error-Code: EntryNotFound\r\n", 0, NULL, 0, 0);
}

int main(int argc, char **argv) {
  int timeout = 120;
  for (int i = 1; i + 1 < argc; i += 2) {
    if (!strcmp(argv[i], "--repo") && n_repos < MAX_REPOS) {
      char *eq = strchr(argv[i + 1], '=');
      if (!eq) return 2;
      *eq = 0;
      repos[n_repos].id = argv[i + 1];
      repos[n_repos++].dir = eq + 1;
    } else if (!strcmp(argv[i], "--commit")) {
      commit = argv[i + 1];
    } else if (!strcmp(argv[i], "--mode")) {
      mode = argv[i + 1];
    } else if (!strcmp(argv[i], "--log")) {
      log_file = fopen(argv[i + 1], "a");
    } else if (!strcmp(argv[i], "--timeout")) {
      timeout = atoi(argv[i + 1]);
    } else {
      fprintf(stderr, "hub_server: unknown option %s\n", argv[i]);
      return 2;
    }
  }
  signal(SIGPIPE, SIG_IGN);
  alarm((unsigned)(timeout > 0 ? timeout : 120)); /* bounded: SIGALRM ends the process */
  int s = socket(AF_INET, SOCK_STREAM, 0);
  int one = 1;
  setsockopt(s, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one);
  struct sockaddr_in addr = {.sin_family = AF_INET, .sin_port = 0};
  addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK); /* 127.0.0.1 only */
  socklen_t len = sizeof addr;
  if (s < 0 || bind(s, (struct sockaddr *)&addr, sizeof addr) || listen(s, 16) ||
      getsockname(s, (struct sockaddr *)&addr, &len)) {
    perror("hub_server");
    return 1;
  }
  printf("%d\n", ntohs(addr.sin_port));
  fflush(stdout);
  for (;;) {
    int c = accept(s, NULL, NULL);
    if (c < 0) {
      if (errno == EINTR) continue;
      return 1;
    }
    struct timeval tv = {.tv_sec = 5};
    setsockopt(c, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv);
    handle(c);
    close(c);
  }
}
