/* output_stream: the -o / stdout stream of the JSON Lines commands — locked against a second
 * run writing the same file, every write checked (full disk, closed pipe), the error
 * reported once, and a partial last record cut off so the file stays whole records. */
#include <errno.h>
#include <fcntl.h>
#include <string.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <unistd.h>

#include "cli.h"

/* One output per process: the stream, its name for messages, the end of the last whole
 * record (-1: not a regular file we may cut) and whether its failure was reported. */
static struct {
  FILE *f;
  const char *cmd, *name;
  off_t good;
  int reported;
} out = {.good = -1};

int cli_lock_output(const char *cmd, int fd, const char *path) {
  struct stat st;
  if (fstat(fd, &st) != 0 || !S_ISREG(st.st_mode)) return 0; /* a FIFO, /dev/null */
  if (flock(fd, LOCK_EX | LOCK_NB) == 0) return 0;
  if (errno == EWOULDBLOCK)
    fprintf(stderr,
            "vlp %s: %s: another vlp run is writing this file (it is locked); wait for it to "
            "finish or give another -o\n",
            cmd, path);
  else
    fprintf(stderr, "vlp %s: %s: cannot lock: %s\n", cmd, path, strerror(errno));
  return -1;
}

FILE *cli_open_output(const char *cmd, const char *path) {
  out.cmd = cmd;
  out.reported = 0;
  if (!path || !strcmp(path, "-")) {
    out.f = stdout;
    out.name = "stdout";
    out.good = -1;
    return stdout;
  }
  /* no O_TRUNC: the lock comes first, a running writer's file is never emptied */
  int fd = open(path, O_WRONLY | O_CREAT | O_CLOEXEC, 0666);
  if (fd < 0) {
    fprintf(stderr, "vlp %s: %s: cannot write: %s\n", cmd, path, strerror(errno));
    return NULL;
  }
  struct stat st;
  int regular = fstat(fd, &st) == 0 && S_ISREG(st.st_mode);
  if (cli_lock_output(cmd, fd, path)) {
    close(fd);
    return NULL;
  }
  if (regular && ftruncate(fd, 0) != 0) {
    fprintf(stderr, "vlp %s: %s: cannot write: %s\n", cmd, path, strerror(errno));
    close(fd);
    return NULL;
  }
  FILE *f = fdopen(fd, "w");
  if (!f) {
    fprintf(stderr, "vlp %s: %s: cannot write: %s\n", cmd, path, strerror(errno));
    close(fd);
    return NULL;
  }
  out.f = f;
  out.name = path;
  out.good = regular ? 0 : -1;
  return f;
}

static int stdout_reported;

/* Say once per stream that writing failed; f is only named, never touched. */
static void say_failed(int is_out, int is_stdout, int err) {
  if (is_out ? out.reported : is_stdout && stdout_reported) return;
  if (is_out) out.reported = 1;
  if (is_stdout) stdout_reported = 1;
  const char *name = is_out ? out.name : is_stdout ? "stdout" : "output";
  fprintf(stderr, "vlp %s: %s: write failed: %s%s\n", out.cmd ? out.cmd : "", name, strerror(err),
          err == EPIPE ? " (the reader closed the pipe)" : "");
}

static void report(FILE *f, int err) {
  int is_out = f == out.f, was_reported = is_out && out.reported;
  say_failed(is_out, f == stdout, err);
  /* cut the partial record so that the file holds whole records only */
  if (is_out && !was_reported && out.good >= 0 && ftruncate(fileno(f), out.good) != 0)
    out.good = -1;
}

int cli_flush(FILE *f) {
  errno = 0;
  if (fflush(f) != 0 || ferror(f)) {
    report(f, errno ? errno : EIO);
    return -1;
  }
  if (f == out.f && out.good >= 0) out.good = ftello(f);
  return 0;
}

int cli_close_output(FILE *f) {
  if (!f) return 0;
  int bad = cli_flush(f) != 0;
  if (f != stdout) {
    int is_out = f == out.f;
    if (is_out) out.f = NULL;
    errno = 0;
    if (fclose(f) != 0) { /* f is gone: report by name only */
      if (!bad) say_failed(is_out, 0, errno ? errno : EIO);
      bad = 1;
    }
  }
  return bad ? -1 : 0;
}

int cli_check_stdout(const char *cmd) {
  if (!out.cmd) out.cmd = cmd;
  return cli_flush(stdout);
}
