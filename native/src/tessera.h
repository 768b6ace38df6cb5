/* State shared by the library's modules: configuration in effect and lifecycle. */
#ifndef TESSERA_INTERNAL_H
#define TESSERA_INTERNAL_H

#include <stdint.h>

#include "config.h"

#define TESSERA_EXPORT __attribute__((visibility("default")))

/* Reads configuration and maps the accounting region, once. Cheap after the first call. */
void tessera_init(void);

/* 0 when enforcement is switched off (CUDA_DISABLE_CONTROL without a limits file). */
int tessera_enforcing(void);

/* Memory limit of a device in bytes (0 = none), honouring live changes. */
uint64_t tessera_mem_limit(int dev);

/* Compute share of a device in percent (100 = whole device), honouring live changes. */
uint32_t tessera_sm_limit(int dev);

int tessera_priority(void);
core_policy_t tessera_core_policy(void);

/* Device of the calling thread's current context, or -1. */
int tessera_current_device(void);

/* Publishes a device's UUID in the region the first time this process uses it. */
void tessera_note_device(int dev);

/* Per-module resets in a forked child. */
void tessera_memory_after_fork(void);
void tessera_limiter_after_fork(void);

/* At exit: hand back the device turn and the board entries. */
void tessera_limiter_at_exit(void);

/* Monotonic clock in nanoseconds. */
uint64_t tessera_now_ns(void);
/* Same, from the coarse (tick-resolution, cheaper) clock. */
uint64_t tessera_coarse_ns(void);
void tessera_sleep_ns(uint64_t ns);

#endif
