#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "driver.h"
#include "log.h"
#include "region.h"
#include "tessera.h"

static tessera_config_t g_cfg;
static tessera_file_stamp_t g_stamp;
static pthread_mutex_t g_cfg_mu = PTHREAD_MUTEX_INITIALIZER;
static pthread_once_t g_once = PTHREAD_ONCE_INIT;
static int g_ready;
static uint32_t g_noted_devices; /* bit per device whose UUID was published */

uint64_t tessera_now_ns(void) {
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (uint64_t)ts.tv_sec * 1000000000ULL + (uint64_t)ts.tv_nsec;
}

uint64_t tessera_coarse_ns(void) {
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC_COARSE, &ts);
    return (uint64_t)ts.tv_sec * 1000000000ULL + (uint64_t)ts.tv_nsec;
}

void tessera_sleep_ns(uint64_t ns) {
    struct timespec ts = {(time_t)(ns / 1000000000ULL), (long)(ns % 1000000000ULL)};
    while (nanosleep(&ts, &ts) != 0) {
    }
}

static void at_exit(void) {
    tessera_limiter_at_exit();
    tessera_region_release_slot();
}

static void do_init(void) {
    tessera_log_init();
    tessera_config_load(&g_cfg, &g_stamp);
    if (g_cfg.control_disabled) {
        TLOG(TLOG_INFO, "CUDA_DISABLE_CONTROL is set: enforcement is off for this process");
    } else {
        tessera_region_open(&g_cfg);
        atexit(at_exit);
    }
    TLOG(TLOG_INFO, "limits from %s: device 0 memory %llu bytes, compute %u%%, region %s",
         g_cfg.from_file ? tessera_limits_file_path() : "the environment", (unsigned long long)g_cfg.mem_limit[0],
         g_cfg.sm_limit[0], g_cfg.cache_path);
    __atomic_store_n(&g_ready, 1, __ATOMIC_RELEASE);
}

void tessera_init(void) {
    if (__builtin_expect(__atomic_load_n(&g_ready, __ATOMIC_ACQUIRE), 1)) return;
    pthread_once(&g_once, do_init);
}

int tessera_enforcing(void) {
    tessera_init();
    return !g_cfg.control_disabled && tessera_region != NULL;
}

/* In file mode, notices a rewritten limits file: the node agent's way to resize a running container. */
static void refresh_from_file(void) {
    if (!g_cfg.from_file) return;
    const char *path = tessera_limits_file_path();
    if (!tessera_limits_file_changed(path, &g_stamp)) return;
    pthread_mutex_lock(&g_cfg_mu);
    if (tessera_limits_file_changed(path, &g_stamp)) {
        tessera_config_t fresh;
        tessera_file_stamp_t stamp;
        tessera_config_load(&fresh, &stamp);
        if (fresh.from_file) {
            /* The region path is fixed for the life of the process. */
            for (int d = 0; d < TESSERA_MAX_DEVICES; d++) {
                __atomic_store_n(&g_cfg.mem_limit[d], fresh.mem_limit[d], __ATOMIC_RELEASE);
                __atomic_store_n(&g_cfg.sm_limit[d], fresh.sm_limit[d], __ATOMIC_RELEASE);
            }
            __atomic_store_n(&g_cfg.priority, fresh.priority, __ATOMIC_RELEASE);
            __atomic_store_n(&g_cfg.policy, fresh.policy, __ATOMIC_RELEASE);
            g_stamp = stamp;
            tessera_region_publish_limits(&g_cfg);
            TLOG(TLOG_INFO, "limits file changed: device 0 memory %llu bytes, compute %u%%",
                 (unsigned long long)g_cfg.mem_limit[0], g_cfg.sm_limit[0]);
        } else {
            /* The trusted file vanished: keep the last limits rather than fall back to the environment. */
            g_stamp.present = 0;
        }
    }
    pthread_mutex_unlock(&g_cfg_mu);
}

uint64_t tessera_mem_limit(int dev) {
    if (dev < 0 || dev >= TESSERA_MAX_DEVICES || !tessera_region) return 0;
    if (g_cfg.from_file) {
        refresh_from_file();
        return __atomic_load_n(&g_cfg.mem_limit[dev], __ATOMIC_ACQUIRE);
    }
    /* Without a trusted file the region is authoritative: a monitor may change it live. */
    return __atomic_load_n(&tessera_region->limit[dev], __ATOMIC_ACQUIRE);
}

uint32_t tessera_sm_limit(int dev) {
    if (dev < 0 || dev >= TESSERA_MAX_DEVICES || !tessera_region) return 100;
    uint64_t v;
    if (g_cfg.from_file) {
        refresh_from_file();
        v = __atomic_load_n(&g_cfg.sm_limit[dev], __ATOMIC_ACQUIRE);
    } else {
        v = __atomic_load_n(&tessera_region->sm_limit[dev], __ATOMIC_ACQUIRE);
    }
    return (v == 0 || v > 100) ? 100 : (uint32_t)v;
}

int tessera_priority(void) { return __atomic_load_n(&g_cfg.priority, __ATOMIC_ACQUIRE); }
core_policy_t tessera_core_policy(void) { return __atomic_load_n(&g_cfg.policy, __ATOMIC_ACQUIRE); }

int tessera_current_device(void) {
    CUdevice dev;
    if (!real_cuCtxGetDevice || real_cuCtxGetDevice(&dev) != CUDA_SUCCESS) return -1;
    return dev;
}

void tessera_note_device(int dev) {
    if (dev < 0 || dev >= TESSERA_MAX_DEVICES) return;
    uint32_t bit = 1u << dev;
    if (__atomic_load_n(&g_noted_devices, __ATOMIC_RELAXED) & bit) return;
    __atomic_fetch_or(&g_noted_devices, bit, __ATOMIC_RELAXED);
    CUuuid id;
    if (!real_cuDeviceGetUuid_v2 || real_cuDeviceGetUuid_v2(&id, dev) != CUDA_SUCCESS) return;
    const unsigned char *b = (const unsigned char *)id.bytes;
    char text[48];
    snprintf(text, sizeof text, "GPU-%02x%02x%02x%02x-%02x%02x-%02x%02x-%02x%02x-%02x%02x%02x%02x%02x%02x", b[0], b[1],
             b[2], b[3], b[4], b[5], b[6], b[7], b[8], b[9], b[10], b[11], b[12], b[13], b[14], b[15]);
    tessera_region_set_uuid(dev, text);
}

static void child_after_fork(void) {
    pthread_mutex_t fresh = PTHREAD_MUTEX_INITIALIZER;
    g_cfg_mu = fresh;
    tessera_region_forget_slot();
    tessera_memory_after_fork();
    tessera_limiter_after_fork();
}

__attribute__((constructor)) static void on_load(void) {
    tessera_resolve_real_dlsym();
    pthread_atfork(NULL, NULL, child_after_fork);
}
