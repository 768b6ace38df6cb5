/* NVML memory queries report the container's share, so nvidia-smi and NVML-based tools inside it agree with CUDA. */
#include <stdlib.h>
#include <string.h>

#include "driver.h"
#include "region.h"
#include "tessera.h"

/* CUDA ordinal of an NVML device: by UUID when a CUDA process recorded one, else by index,
 * through a numeric CUDA_VISIBLE_DEVICES if that reorders them. */
static int cuda_ordinal(nvmlDevice_t dev) {
    char uuid[NVML_DEVICE_UUID_BUFFER_SIZE];
    if (real_nvmlDeviceGetUUID && real_nvmlDeviceGetUUID(dev, uuid, sizeof uuid) == NVML_SUCCESS)
        for (int d = 0; d < TESSERA_MAX_DEVICES; d++)
            if (tessera_region->uuids[d][0] && strcmp(tessera_region->uuids[d], uuid) == 0) return d;
    unsigned index;
    if (!real_nvmlDeviceGetIndex || real_nvmlDeviceGetIndex(dev, &index) != NVML_SUCCESS) return -1;
    const char *visible = getenv("CUDA_VISIBLE_DEVICES");
    if (!visible || !*visible) return (int)index;
    int ordinal = 0;
    for (const char *p = visible; *p; ordinal++) {
        char *end;
        long v = strtol(p, &end, 10);
        if (end == p) return (int)index; /* UUIDs or MIG names: assume the identity mapping */
        if (v == (long)index) return ordinal;
        p = *end == ',' ? end + 1 : end;
        if (*end && *end != ',') return (int)index;
    }
    return -1; /* not visible to CUDA in this process */
}

/* Fills total/used/free from the share; returns 0 when the device has no limit. */
static int share_of(nvmlDevice_t dev, unsigned long long real_total, unsigned long long *total,
                    unsigned long long *used, unsigned long long *free_bytes) {
    if (tessera_nvml_load() != 0 || !tessera_enforcing()) return 0;
    int d = cuda_ordinal(dev);
    uint64_t limit = tessera_mem_limit(d);
    if (!limit) return 0;
    *total = limit < real_total ? limit : real_total;
    *used = tessera_region_usage(d);
    *free_bytes = *total > *used ? *total - *used : 0; /* HAMi-core underflowed here (HAMi #1181) */
    return 1;
}

TESSERA_EXPORT nvmlReturn_t nvmlDeviceGetMemoryInfo(nvmlDevice_t dev, nvmlMemory_t *mem) {
    if (tessera_nvml_load() != 0 || !real_nvmlDeviceGetMemoryInfo) return NVML_ERROR_UNINITIALIZED;
    nvmlReturn_t r = real_nvmlDeviceGetMemoryInfo(dev, mem);
    if (r == NVML_SUCCESS && mem) share_of(dev, mem->total, &mem->total, &mem->used, &mem->free);
    return r;
}

TESSERA_EXPORT nvmlReturn_t nvmlDeviceGetMemoryInfo_v2(nvmlDevice_t dev, nvmlMemory_v2_t *mem) {
    if (tessera_nvml_load() != 0 || !real_nvmlDeviceGetMemoryInfo_v2) return NVML_ERROR_UNINITIALIZED;
    nvmlReturn_t r = real_nvmlDeviceGetMemoryInfo_v2(dev, mem);
    if (r == NVML_SUCCESS && mem && share_of(dev, mem->total, &mem->total, &mem->used, &mem->free))
        mem->reserved = 0; /* the share has no driver reserve: used + free = total */
    return r;
}
