/* kernels: one body (kernels_body.h) compiled for AVX-512, AVX2+FMA and the baseline,
 * chosen from cpuid at first use (see kernels.h). */
#include "core/kernels.h"

/* Lets GCC if-convert the float compares in the kernels and vectorise those loops; it
 * changes no result (only assumes floating-point exception flags are not inspected). */
#if defined(__GNUC__) && !defined(__clang__)
#pragma GCC optimize("no-trapping-math")
#endif

#include <math.h>
#include <pthread.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "core/fast_exp.h"

#if defined(__x86_64__) || defined(__i386__)
#define VK_X86 1

#define VK_SUFFIX avx512
#define VK_NAME "avx512"
#define VK_TARGET __attribute__((target("avx512f,avx512dq,avx512bw,avx512vl,avx2,fma")))
#include "core/kernels_body.h"
#undef VK_SUFFIX
#undef VK_NAME
#undef VK_TARGET

#define VK_SUFFIX avx2
#define VK_NAME "avx2"
#define VK_TARGET __attribute__((target("avx2,fma")))
#include "core/kernels_body.h"
#undef VK_SUFFIX
#undef VK_NAME
#undef VK_TARGET
#endif

#define VK_SUFFIX generic
#define VK_NAME "generic"
#define VK_TARGET
#include "core/kernels_body.h"
#undef VK_SUFFIX
#undef VK_NAME
#undef VK_TARGET

/* The paths this CPU runs, widest first. */
static int available(const vk_table **t) {
  int n = 0;
#ifdef VK_X86
  __builtin_cpu_init();
  if (__builtin_cpu_supports("avx512f") && __builtin_cpu_supports("avx512dq") &&
      __builtin_cpu_supports("avx512bw") && __builtin_cpu_supports("avx512vl"))
    t[n++] = &table_avx512;
  if (__builtin_cpu_supports("avx2") && __builtin_cpu_supports("fma")) t[n++] = &table_avx2;
#endif
  t[n++] = &table_generic;
  return n;
}

static const vk_table *_Atomic g_table;

static const vk_table *by_name(const char *name) {
  const vk_table *t[3];
  int n = available(t);
  for (int i = 0; i < n; i++)
    if (strcmp(t[i]->name, name) == 0) return t[i];
  return NULL;
}

const vk_table *vk_get(void) {
  const vk_table *t = g_table;
  if (t) return t;
  const char *env = getenv("VLP_KERNELS");
  t = env ? by_name(env) : NULL;
  if (!t) {
    const vk_table *all[3];
    available(all);
    t = all[0];
  }
  g_table = t;
  return t;
}

int vk_force(const char *name) {
  const vk_table *t = by_name(name);
  if (!t) return 0;
  g_table = t;
  return 1;
}

int vk_available(const char **names, int cap) {
  const vk_table *t[3];
  int n = available(t);
  for (int i = 0; i < n && i < cap; i++) names[i] = t[i]->name;
  return n < cap ? n : cap;
}
