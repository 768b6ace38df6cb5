/*
 * The container's shared accounting region: one memory-mapped file that all
 * processes of a container share, laid out exactly as HAMi-core's v1.2
 * region (shared_region_t), so HAMi's vGPU monitor and Tessera's node agent
 * read either library's file. Offsets are checked at compile time.
 *
 * Concurrency: each process owns one slot and updates its own counters with
 * atomics (lock-free, with HAMi's per-slot seqlock for readers). Creating the
 * region, claiming a slot and reclaiming dead processes' slots happen under an
 * flock(2) on the file, which the kernel releases when its holder dies, so a
 * crashed process can never leave the others blocked.
 */
#ifndef TESSERA_REGION_H
#define TESSERA_REGION_H

#include <semaphore.h>
#include <stddef.h>
#include <stdint.h>

#include "config.h"

#define REGION_MAGIC 19920718
#define REGION_MAJOR 1
#define REGION_MINOR 2
#define REGION_MAX_PROCS 1024

typedef struct {
    uint64_t context_size, module_size, data_size, offset, total, unused[3];
} region_device_memory_t;

typedef struct {
    uint64_t dec_util, enc_util, sm_util, unused[3];
} region_device_util_t;

typedef struct {
    int32_t pid;     /* PID in the container's namespace; 0 = free slot */
    int32_t hostpid; /* PID on the host when visible, else 0 */
    region_device_memory_t used[TESSERA_MAX_DEVICES];
    uint64_t monitorused[TESSERA_MAX_DEVICES];
    region_device_util_t device_util[TESSERA_MAX_DEVICES];
    int32_t status; /* 1 running, 2 suspended, 0 exited */
    uint64_t seqlock;
    uint64_t start_time; /* HAMi: unused. Tessera: /proc start time, to tell a reused PID from its owner */
    uint64_t unused;
} region_proc_slot_t;

typedef struct {
    int32_t initialized_flag;
    uint32_t major_version;
    uint32_t minor_version;
    int32_t sm_init_flag;
    uint64_t owner_pid;
    sem_t sem;
    uint64_t device_num;
    char uuids[TESSERA_MAX_DEVICES][96];
    uint64_t limit[TESSERA_MAX_DEVICES];
    uint64_t sm_limit[TESSERA_MAX_DEVICES];
    region_proc_slot_t procs[REGION_MAX_PROCS];
    int32_t proc_num;
    int32_t utilization_switch;
    int32_t recent_kernel;
    int32_t priority;
    uint64_t last_kernel_time;
    sem_t sem_postinit;
} region_t;

_Static_assert(sizeof(region_proc_slot_t) == 1960, "HAMi slot size");
_Static_assert(offsetof(region_proc_slot_t, monitorused) == 1032, "HAMi slot layout");
_Static_assert(offsetof(region_proc_slot_t, device_util) == 1160, "HAMi slot layout");
_Static_assert(offsetof(region_proc_slot_t, status) == 1928, "HAMi slot layout");
_Static_assert(offsetof(region_proc_slot_t, seqlock) == 1936, "HAMi slot layout");
_Static_assert(offsetof(region_t, sem) == 24, "HAMi region layout");
_Static_assert(offsetof(region_t, device_num) == 56, "HAMi region layout");
_Static_assert(offsetof(region_t, limit) == 1600, "HAMi region layout");
_Static_assert(offsetof(region_t, sm_limit) == 1728, "HAMi region layout");
_Static_assert(offsetof(region_t, procs) == 1856, "HAMi region layout");
_Static_assert(offsetof(region_t, proc_num) == 2008896, "HAMi region layout");
_Static_assert(offsetof(region_t, utilization_switch) == 2008900, "HAMi region layout");
_Static_assert(offsetof(region_t, recent_kernel) == 2008904, "HAMi region layout");
_Static_assert(offsetof(region_t, priority) == 2008908, "HAMi region layout");
_Static_assert(offsetof(region_t, last_kernel_time) == 2008912, "HAMi region layout");
_Static_assert(offsetof(region_t, sem_postinit) == 2008920, "HAMi region layout");
_Static_assert(sizeof(region_t) == 2008952, "HAMi region size");

extern region_t *tessera_region;

/*
 * Maps (creating if needed) the region at cfg->cache_path and publishes the
 * limits. A region whose limits are unset takes this process's limits (HAMi
 * lets the first process win even when it had none); limits from the trusted
 * file always replace the region's. Falls back to a private in-memory region
 * when the file cannot be used, so limits still hold for this process.
 */
void tessera_region_open(const tessera_config_t *cfg);

/* Writes limits from the trusted file into the region (for monitors and for other processes). */
void tessera_region_publish_limits(const tessera_config_t *cfg);

/* Adds delta bytes (may be negative) to this process's usage on dev. */
void tessera_region_charge(int dev, int64_t delta);

/* Bytes in use on dev by all live processes of the container. */
uint64_t tessera_region_usage(int dev);

/* Bytes in use on dev by this process. */
uint64_t tessera_region_my_usage(int dev);

/* Frees the slots of processes that died; returns how many were reclaimed. */
int tessera_region_reap(void);

/* Records a device UUID (CUDA ordinal order) once known. */
void tessera_region_set_uuid(int dev, const char *uuid);

/* Forget this process's slot after fork(): the child claims its own on first use. */
void tessera_region_forget_slot(void);

/* Called at exit: marks this process's slot free. */
void tessera_region_release_slot(void);

#endif
