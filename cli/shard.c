/* shard: what --shard names. "K/N" is shard K of N; "auto" takes them from a job array's
 * environment: Slurm's SLURM_ARRAY_TASK_ID, SLURM_ARRAY_TASK_COUNT and SLURM_ARRAY_TASK_MIN
 * (an array --array=1-8 gives shards 1..8 of 8; --array=0-7 the same), or a Kubernetes
 * indexed Job's JOB_COMPLETION_INDEX (0-based) with the count given as "auto/N" (Kubernetes
 * does not export the count). */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "caption_tool.h"
#include "cli.h"

#define SHARD_MAX 1000000

/* A non-negative integer environment variable: 1 and *v when set and valid, 0 when unset,
 * -1 when set to something else. */
static int env_int(const char *name, long *v) {
  const char *s = getenv(name);
  if (!s || !s[0]) return 0;
  char *end;
  *v = strtol(s, &end, 10);
  return *end || *v < 0 || *v > SHARD_MAX ? -1 : 1;
}

int ct_shard_parse(const char *v, int *k, int *n, char *err, size_t size) {
  int kk, nn = 0;
  char end;
  if (sscanf(v, "%d/%d%c", &kk, &nn, &end) == 2) {
    if (nn < 1 || nn > SHARD_MAX || kk < 1 || kk > nn) goto bad;
    *k = kk, *n = nn;
    return 0;
  }
  if (strcmp(v, "auto") && (sscanf(v, "auto/%d%c", &nn, &end) != 1 || nn < 1 || nn > SHARD_MAX))
    goto bad;
  long id, count, min = 0;
  int has_id = env_int("SLURM_ARRAY_TASK_ID", &id);
  if (has_id) {
    int has_count = env_int("SLURM_ARRAY_TASK_COUNT", &count);
    if (has_id < 0 || has_count < 0 || env_int("SLURM_ARRAY_TASK_MIN", &min) < 0) {
      snprintf(err, size, "--shard auto: SLURM_ARRAY_TASK_ID/COUNT/MIN are not numbers");
      return -1;
    }
    if (!has_count) count = nn;
    if (count < 1 || (nn && count != nn) || id < min || id - min >= count) {
      snprintf(err, size,
               "--shard %s: SLURM_ARRAY_TASK_ID=%ld is not one of %ld tasks from "
               "SLURM_ARRAY_TASK_MIN=%ld (use a contiguous --array like 0-%ld)",
               v, id, count, min, count - 1);
      return -1;
    }
    *k = (int)(id - min) + 1, *n = (int)count;
    return 0;
  }
  int has_index = env_int("JOB_COMPLETION_INDEX", &id);
  if (has_index < 0) {
    snprintf(err, size, "--shard auto: JOB_COMPLETION_INDEX is not a number");
    return -1;
  }
  if (has_index) {
    if (!nn || id >= nn) {
      snprintf(err, size,
               nn ? "--shard %s: JOB_COMPLETION_INDEX=%ld is not below the count"
                  : "--shard %s: JOB_COMPLETION_INDEX=%ld is set; give the Job's completions "
                    "count as auto/N",
               v, id);
      return -1;
    }
    *k = (int)id + 1, *n = nn;
    return 0;
  }
  snprintf(err, size,
           "--shard %s: neither SLURM_ARRAY_TASK_ID (a Slurm job array) nor "
           "JOB_COMPLETION_INDEX (a Kubernetes indexed Job) is set",
           v);
  return -1;
bad:
  snprintf(err, size, "--shard takes K/N with 1 <= K <= N, auto or auto/N, not '%s'", v);
  return -1;
}

/* ---- --shard on the commands that take a list of files (cli.h) ---------------------- */

const char cli_shard_usage[] =
    "  --shard K/N             only shard K of N of the files (1 <= K <= N): a path belongs\n"
    "                          to shard 1 + hash(path) mod N, as in vlp caption; auto or\n"
    "                          auto/N take K and N from a Slurm job array or a Kubernetes\n"
    "                          indexed Job (see vlp caption --help)\n";

int cli_shard_opt(cli_args *a, const char *opt, cli_shard *s) {
  if (strcmp(opt, "--shard")) return 0;
  const char *v = cli_value(a);
  char err[512];
  if (v && ct_shard_parse(v, &s->k, &s->n, err, sizeof err)) cli_usage_error(a, "%s", err);
  return 1;
}

void cli_paths_keep_shard(cli_paths *p, const cli_shard *s, const char *cmd) {
  if (s->n <= 0) return;
  int kept = 0;
  for (int i = 0; i < p->n; i++) {
    if (ct_shard_of(p->paths[i], s->n) == s->k - 1)
      p->paths[kept++] = p->paths[i];
    else
      free(p->paths[i]);
  }
  if (kept < p->n)
    fprintf(stderr, "vlp %s: shard %d/%d: %d of %d inputs, the others belong to other shards\n",
            cmd, s->k, s->n, kept, p->n);
  p->n = kept;
}
