/* A fake libnvidia-ml.so.1: the fake driver's devices, with their memory use as the driver sees it. */
#include <stdio.h>

#include "../include/cuda_abi.h"
#include "fake_state.h"

#define EXPORT __attribute__((visibility("default")))

struct nvmlDevice_st {
    unsigned index;
};
static struct nvmlDevice_st g_devs[FAKE_MAX_GPUS];
static int g_up;

EXPORT nvmlReturn_t nvmlInit_v2(void) {
    for (unsigned i = 0; i < FAKE_MAX_GPUS; i++) g_devs[i].index = i;
    g_up = 1;
    return NVML_SUCCESS;
}
EXPORT nvmlReturn_t nvmlInit(void) { return nvmlInit_v2(); }
EXPORT nvmlReturn_t nvmlShutdown(void) {
    g_up = 0;
    return NVML_SUCCESS;
}
EXPORT nvmlReturn_t nvmlDeviceGetCount_v2(unsigned *n) {
    if (!g_up) return NVML_ERROR_UNINITIALIZED;
    *n = (unsigned)fake_gpu_count();
    return NVML_SUCCESS;
}
EXPORT nvmlReturn_t nvmlDeviceGetHandleByIndex_v2(unsigned i, nvmlDevice_t *dev) {
    if (!g_up) return NVML_ERROR_UNINITIALIZED;
    if (i >= (unsigned)fake_gpu_count()) return NVML_ERROR_INVALID_ARGUMENT;
    *dev = &g_devs[i];
    return NVML_SUCCESS;
}
EXPORT nvmlReturn_t nvmlDeviceGetIndex(nvmlDevice_t dev, unsigned *index) {
    *index = dev->index;
    return NVML_SUCCESS;
}
EXPORT nvmlReturn_t nvmlDeviceGetUUID(nvmlDevice_t dev, char *uuid, unsigned len) {
    unsigned char b[16];
    fake_uuid((int)dev->index, b);
    snprintf(uuid, len, "GPU-%02x%02x%02x%02x-%02x%02x-%02x%02x-%02x%02x-%02x%02x%02x%02x%02x%02x", b[0], b[1], b[2],
             b[3], b[4], b[5], b[6], b[7], b[8], b[9], b[10], b[11], b[12], b[13], b[14], b[15]);
    return NVML_SUCCESS;
}
EXPORT nvmlReturn_t nvmlDeviceGetMemoryInfo(nvmlDevice_t dev, nvmlMemory_t *m) {
    m->total = fake_gpu_memory();
    m->used = __atomic_load_n(&fake_state()->gpu[dev->index].mem_used, __ATOMIC_ACQUIRE);
    m->free = m->total - m->used;
    return NVML_SUCCESS;
}
EXPORT nvmlReturn_t nvmlDeviceGetMemoryInfo_v2(nvmlDevice_t dev, nvmlMemory_v2_t *m) {
    m->total = fake_gpu_memory();
    m->reserved = 256ULL << 20;
    m->used = __atomic_load_n(&fake_state()->gpu[dev->index].mem_used, __ATOMIC_ACQUIRE);
    m->free = m->total - m->reserved - m->used;
    return NVML_SUCCESS;
}
EXPORT const char *nvmlErrorString(nvmlReturn_t r) { return r == NVML_SUCCESS ? "Success" : "Error"; }
