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

/* The public types and functions (vlp_index, vlp_index_entry, ...) are in vlp.h. */

#endif
