/* fuzz_util: what the fuzz targets share. Parsers that read files get the input through a
 * file in a private temporary folder (one per process, removed at exit); model-folder
 * parsers get a folder whose other files are links to a golden tiny model. */
#ifndef VLP_FUZZ_UTIL_H
#define VLP_FUZZ_UTIL_H

#include <stddef.h>
#include <stdint.h>

/* The golden data (tests/golden), compiled in. */
#ifndef VLP_FUZZ_GOLDEN
#define VLP_FUZZ_GOLDEN "tests/golden"
#endif

/* This process's scratch folder. */
const char *fuzz_dir(void);
/* Write data to fuzz_dir()/name (replacing it); returns the path (static buffer per call
 * site is not needed: the result is malloc'd and must be freed). NULL on failure. */
char *fuzz_write(const char *name, const uint8_t *data, size_t size);
/* A folder fuzz_dir()/sub holding links to every file of golden model `model` except the
 * names in `except` (NULL-terminated); returns its path (malloc'd). */
char *fuzz_model_dir(const char *sub, const char *model, const char *const *except);
/* Write data into folder dir as file name. Returns 0 on success. */
int fuzz_put(const char *dir, const char *name, const uint8_t *data, size_t size);

#endif
