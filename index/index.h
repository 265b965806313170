/* index: the on-disk retrieval index of `vlp index` / `vlp search`.
 *
 * An index folder holds
 *   index.db             SQLite metadata: table meta(key, value) (format, model, arch, dim,
 *                        count, npy, generation) and table files(path, size, mtime_ns, hash, row)
 *   embeddings-<G>.npy   float32 (count, dim), L2-normalised rows, row i = files.row i
 *   lock                 flock()ed by a build
 * A build writes a new embeddings-<G+1>.npy aside (temp name + rename), then switches the
 * database to it in one SQLite transaction, then deletes the old file: a build killed at any
 * point leaves the previous index searchable. */
#ifndef VLP_INDEX_INDEX_H
#define VLP_INDEX_INDEX_H

#include <stddef.h>
#include <stdint.h>

#include "vlp.h"

typedef struct {
  char *path;       /* absolute (realpath) */
  int64_t size;     /* bytes */
  int64_t mtime_ns; /* modification time, ns since the epoch */
  uint64_t hash;    /* FNV-1a 64 of the content */
} vlp_index_entry;

typedef struct {
  char *dir;
  char *model; /* model folder recorded at build time */
  char *arch;  /* vlp_arch_name() of that model */
  int dim;
  int64_t count;
  int64_t generation;
  vlp_index_entry *entries; /* (count), entries[i] is row i */
  const float *emb;         /* (count, dim), memory-mapped, read only */
  void *map;
  size_t map_size;
} vlp_index;

/* Open an index folder for reading: metadata + memory-mapped embeddings, all validated
 * (a truncated .npy or a corrupt database is a VLP_ERR_FORMAT with a one-line message). */
vlp_status vlp_index_open(const char *dir, vlp_index **out);
void vlp_index_close(vlp_index *ix);
/* 1 when dir holds an index.db. */
int vlp_index_exists(const char *dir);

/* Create dir if needed and take its build lock (non-blocking): VLP_ERR_IO with "another
 * build is running" when it is held. *fd is released by vlp_index_unlock. */
vlp_status vlp_index_lock(const char *dir, int *fd);
void vlp_index_unlock(int fd);

/* Replace the index's content by n entries and their embeddings (n, dim); crash-safe as
 * described above. Needs the lock. */
vlp_status vlp_index_commit(const char *dir, const char *model, const char *arch, int dim,
                            const vlp_index_entry *entries, int64_t n, const float *emb);

/* Size, mtime and FNV-1a 64 hash of a file's content. */
vlp_status vlp_index_file_info(const char *path, vlp_index_entry *e);

/* Exact search: scores = emb . q for every row, the k best (highest score, then lowest
 * row) in rows/scores, best first. Returns the number found (min(k, count)). */
int vlp_index_search(const vlp_index *ix, const float *q, int k, int64_t *rows, float *scores);

/* Write the embeddings as a FAISS IndexFlatIP file (faiss.read_index reads it). */
vlp_status vlp_index_export_faiss(const vlp_index *ix, const char *path);

#endif
