/* isa_peak: loops that keep the vector units busy with every operand in a register (no
 * loads, no stores), one per instruction vlp's products run on: f32 fused multiply-adds
 * (AVX-512, else AVX2), bf16 pairs (AVX512_BF16 vdpbf16ps) and int8 quads (AVX512_VNNI
 * vpdpbusd). vlp_isa_peak_gflops (core/limits.c) times them. */
#include "core/isa_peak.h"

/* Instructions per loop trip, each on its own accumulator: more chains than any of these
 * instructions' latency times the units that run it, so none waits for its previous result. */
#define CHAINS 24

#if defined(__x86_64__) && defined(__GNUC__)
#define ISA_X86 1

#define ACC24(op, r)                                                                           \
  op(r "4") op(r "5") op(r "6") op(r "7") op(r "8") op(r "9") op(r "10") op(r "11") op(r "12") \
      op(r "13") op(r "14") op(r "15") op(r "16") op(r "17") op(r "18") op(r "19") op(r "20")  \
          op(r "21") op(r "22") op(r "23") op(r "24") op(r "25") op(r "26") op(r "27")
#define ACC12(op, r)                                                                         \
  op(r "2") op(r "3") op(r "4") op(r "5") op(r "6") op(r "7") op(r "8") op(r "9") op(r "10") \
      op(r "11") op(r "12") op(r "13")
#define ZMM_CLOBBERS                                                                            \
  "xmm0", "xmm1", "xmm4", "xmm5", "xmm6", "xmm7", "xmm8", "xmm9", "xmm10", "xmm11", "xmm12",    \
      "xmm13", "xmm14", "xmm15", "xmm16", "xmm17", "xmm18", "xmm19", "xmm20", "xmm21", "xmm22", \
      "xmm23", "xmm24", "xmm25", "xmm26", "xmm27"

#define FMA512(acc) "vfmadd231ps %%zmm0, %%zmm1, %%" acc "\n\t"
#define BF16(acc) "vdpbf16ps %%zmm0, %%zmm1, %%" acc "\n\t"
#define VNNI(acc) "vpdpbusd %%zmm0, %%zmm1, %%" acc "\n\t"
#define FMA256(acc) "vfmadd231ps %%ymm0, %%ymm1, %%" acc "\n\t"

/* loop_NAME(trips): zero the sources (the units take as long on zeros), then trips x
 * (CHAINS, or 12 for AVX2, which has 16 registers) instructions. */
#define ISA_LOOP(name, isa, body, ...)                                     \
  __attribute__((target(isa))) static void name(long trips) {              \
    __asm__ volatile(                                                      \
        "vxorps %%xmm0, %%xmm0, %%xmm0\n\tvxorps %%xmm1, %%xmm1, %%xmm1\n" \
        "1:\n\t" body "dec %0\n\tjnz 1b"                                   \
        : "+r"(trips)                                                      \
        :                                                                  \
        : "cc", __VA_ARGS__);                                              \
  }

ISA_LOOP(loop_f32_avx512, "avx512f", ACC24(FMA512, "zmm"), ZMM_CLOBBERS)
ISA_LOOP(loop_bf16, "avx512f,avx512bf16", ACC24(BF16, "zmm"), ZMM_CLOBBERS)
ISA_LOOP(loop_int8, "avx512f,avx512vnni", ACC24(VNNI, "zmm"), ZMM_CLOBBERS)
ISA_LOOP(loop_f32_avx2, "avx2,fma", ACC12(FMA256, "ymm"), "xmm0", "xmm1", "xmm2", "xmm3", "xmm4",
         "xmm5", "xmm6", "xmm7", "xmm8", "xmm9", "xmm10", "xmm11", "xmm12", "xmm13")
#endif

double isa_peak_loop(vlp_precision p, void (**loop)(long)) {
#ifdef ISA_X86
  __builtin_cpu_init();
  int z = __builtin_cpu_supports("avx512f");
  if (p == VLP_PRECISION_F32 && z) return *loop = loop_f32_avx512, CHAINS * 2 * 16;
  if (p == VLP_PRECISION_F32 && __builtin_cpu_supports("avx2") && __builtin_cpu_supports("fma"))
    return *loop = loop_f32_avx2, 12 * 2 * 8;
  if (p == VLP_PRECISION_BF16 && z && __builtin_cpu_supports("avx512bf16"))
    return *loop = loop_bf16, CHAINS * 2 * 32;
  if (p == VLP_PRECISION_INT8 && z && __builtin_cpu_supports("avx512vnni"))
    return *loop = loop_int8, CHAINS * 2 * 64;
#else
  (void)p, (void)loop;
#endif
  return 0;
}
