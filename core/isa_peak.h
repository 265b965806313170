/* isa_peak: register-only loops of the multiply-add instructions vlp's products run on,
 * which vlp_isa_peak_gflops (core/limits.c) times. */
#ifndef VLP_CORE_ISA_PEAK_H
#define VLP_CORE_ISA_PEAK_H

#include "vlp.h"

/* The loop for precision p on this CPU in *loop (it runs `trips` trips) and the operations
 * one trip performs (two per multiply-add); 0 when the CPU has no such instruction. */
double isa_peak_loop(vlp_precision p, void (**loop)(long trips));

#endif
