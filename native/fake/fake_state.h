/*
 * State of the simulated GPUs that the fake libcuda.so.1 and libnvidia-ml.so.1
 * share. With FAKE_GPU_STATE=<file> it lives in a shared mapping, so several
 * processes contend for the same simulated device timeline and memory, as
 * they would on one real GPU; otherwise it is private to the process.
 */
#ifndef TESSERA_FAKE_STATE_H
#define TESSERA_FAKE_STATE_H

#include <fcntl.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <time.h>
#include <unistd.h>

#define FAKE_MAX_GPUS 8

typedef struct {
    uint64_t busy_until_ns; /* when the device finishes all work queued so far */
    uint64_t busy_total_ns; /* kernel time ever queued */
    uint64_t mem_used;      /* physical bytes allocated, all processes */
} fake_gpu_t;

typedef struct {
    uint32_t magic;
    uint32_t pad;
    fake_gpu_t gpu[FAKE_MAX_GPUS];
} fake_state_t;

static inline uint64_t fake_now_ns(void) {
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (uint64_t)ts.tv_sec * 1000000000ULL + (uint64_t)ts.tv_nsec;
}

static inline void fake_sleep_until(uint64_t t) {
    uint64_t now = fake_now_ns();
    if (t <= now) return;
    struct timespec ts = {(time_t)((t - now) / 1000000000ULL), (long)((t - now) % 1000000000ULL)};
    while (nanosleep(&ts, &ts) != 0) {
    }
}

static inline long fake_env_long(const char *name, long fallback) {
    const char *v = getenv(name);
    return v && *v ? strtol(v, NULL, 10) : fallback;
}

static inline int fake_gpu_count(void) {
    long n = fake_env_long("FAKE_GPU_COUNT", 1);
    return n < 1 ? 1 : n > FAKE_MAX_GPUS ? FAKE_MAX_GPUS : (int)n;
}

static inline uint64_t fake_gpu_memory(void) { return (uint64_t)fake_env_long("FAKE_GPU_MEMORY_MIB", 16384) << 20; }

static inline fake_state_t *fake_state(void) {
    static fake_state_t private_state;
    static fake_state_t *state;
    if (state) return state;
    const char *path = getenv("FAKE_GPU_STATE");
    if (path && *path) {
        int fd = open(path, O_RDWR | O_CREAT | O_CLOEXEC, 0666);
        if (fd >= 0 && ftruncate(fd, sizeof(fake_state_t)) == 0) {
            void *m = mmap(NULL, sizeof(fake_state_t), PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0);
            if (m != MAP_FAILED) state = m;
        }
        if (fd >= 0) close(fd);
    }
    if (!state) state = &private_state;
    return state;
}

static inline void fake_uuid(int dev, unsigned char out[16]) {
    memset(out, 0, 16);
    out[0] = 0xfa;
    out[1] = 0x4e;
    out[15] = (unsigned char)dev;
}

#endif
