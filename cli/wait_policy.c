/* wait_policy: vlp's OpenMP workers (oneDNN's and its own) sleep when idle instead of
 * spinning, unless the user chose (OMP_WAIT_POLICY or GOMP_SPINCOUNT set). Next to one other
 * busy process, libgomp's default (spin 300,000 rounds before sleeping) made CLIP's image
 * encoder 25x slower at batch 1, passive 1.8x. Alone, spinning saves the wake-ups of batch 1
 * (8-15% there) and nothing at batch 16 (README, "Threads"). libgomp reads the variable
 * once, while the program loads, before main() and after any chance to set it from inside
 * (the C library's start-up resets the environment after .preinit_array), so vlp runs
 * itself again with it set: ~0.1 s, once. */
#include <stdlib.h>
#include <unistd.h>

#include "cli.h"

void cli_wait_policy_default(char **argv) {
  if (getenv("OMP_WAIT_POLICY") || getenv("GOMP_SPINCOUNT")) return;
  if (setenv("OMP_WAIT_POLICY", "passive", 0)) return;
  execv("/proc/self/exe", argv);
  /* no /proc, or the binary is gone: go on with libgomp's default */
}
