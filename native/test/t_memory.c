/*
 * The memory limit holds on every allocation path, reached the way the mode
 * says; frees return what allocations took; memory queries show the share.
 * Run with CUDA_DEVICE_MEMORY_LIMIT=64m on a 16 GiB fake GPU.
 */
#include <dlfcn.h>
#include <string.h>

#include "common.h"

static const size_t LIMIT = 64 * MIB;

static void expect_usage(size_t used, const char *after) {
    size_t free_bytes, total;
    CHECK_CU(CUDA_SUCCESS, api.cuMemGetInfo(&free_bytes, &total));
    CHECK(total == LIMIT, "after %s: cuMemGetInfo total %zu, expected the 64 MiB share", after, total);
    CHECK(free_bytes == LIMIT - used, "after %s: free %zu, expected %zu", after, free_bytes, LIMIT - used);
}

static void linear(void) {
    CUdeviceptr a, b, c, d;
    CHECK_CU(CUDA_SUCCESS, api.cuMemAlloc(&a, 48 * MIB));
    CHECK_CU(CUDA_ERROR_OUT_OF_MEMORY, api.cuMemAlloc(&b, 32 * MIB));
    CHECK_CU(CUDA_SUCCESS, api.cuMemAlloc(&c, 16 * MIB));
    expect_usage(64 * MIB, "filling the share");
    CHECK_CU(CUDA_ERROR_OUT_OF_MEMORY, api.cuMemAlloc(&d, 1));
    CHECK_CU(CUDA_SUCCESS, api.cuMemFree(c));
    CHECK_CU(CUDA_SUCCESS, api.cuMemAlloc(&c, 16 * MIB));
    CHECK_CU(CUDA_SUCCESS, api.cuMemFree(a));
    CHECK_CU(CUDA_SUCCESS, api.cuMemFree(c));
    expect_usage(0, "freeing");
    OK("cuMemAlloc: refused at the limit, frees return memory, cuMemGetInfo shows the share");

    CHECK_CU(CUDA_SUCCESS, api.cuMemAllocManaged(&a, 40 * MIB, 1));
    CHECK_CU(CUDA_ERROR_OUT_OF_MEMORY, api.cuMemAllocManaged(&b, 40 * MIB, 1));
    CHECK_CU(CUDA_ERROR_OUT_OF_MEMORY, api.cuMemAlloc(&b, 40 * MIB));
    CHECK_CU(CUDA_SUCCESS, api.cuMemFree(a));
    OK("cuMemAllocManaged counts in full");

    /* 1000-byte rows are padded to a 1024-byte pitch: 16384 rows take 16 MiB each. */
    size_t pitch, n = 0;
    CUdeviceptr rows[8];
    while (n < 8 && api.cuMemAllocPitch(&rows[n], &pitch, 1000, 16384, 4) == CUDA_SUCCESS) n++;
    CHECK(n == 4 && pitch == 1024, "pitched allocations that fit: %zu (pitch %zu), expected 4", n, pitch);
    expect_usage(64 * MIB, "pitched allocations");
    while (n) CHECK_CU(CUDA_SUCCESS, api.cuMemFree(rows[--n]));
    OK("cuMemAllocPitch is charged its real pitch");
}

static void virtual_memory(void) {
    CUmemAllocationProp prop;
    memset(&prop, 0, sizeof prop);
    prop.type = 1;
    prop.location.type = CU_MEM_LOCATION_TYPE_DEVICE;
    prop.location.id = 0;
    CUmemGenericAllocationHandle h1, h2, h3;
    CHECK_CU(CUDA_SUCCESS, api.cuMemCreate(&h1, 32 * MIB, &prop, 0));
    CHECK_CU(CUDA_SUCCESS, api.cuMemCreate(&h2, 32 * MIB, &prop, 0));
    CHECK_CU(CUDA_ERROR_OUT_OF_MEMORY, api.cuMemCreate(&h3, 2 * MIB, &prop, 0));
    CHECK_CU(CUDA_SUCCESS, api.cuMemRelease(h1));
    CHECK_CU(CUDA_SUCCESS, api.cuMemCreate(&h3, 32 * MIB, &prop, 0));
    CHECK_CU(CUDA_SUCCESS, api.cuMemRelease(h2));
    CHECK_CU(CUDA_SUCCESS, api.cuMemRelease(h3));
    expect_usage(0, "cuMemRelease");
    OK("cuMemCreate/cuMemRelease (expandable segments) are charged and returned");
}

static void stream_ordered(void) {
    CUdeviceptr p[8];
    int n = 0;
    /* The fake pool grows in 32 MiB chunks: two chunks fit the share. */
    while (n < 8 && api.cuMemAllocAsync(&p[n], 16 * MIB, NULL) == CUDA_SUCCESS) n++;
    CHECK(n == 4, "16 MiB stream-ordered allocations that fit: %d, expected 4", n);
    for (int i = 0; i < n; i++) CHECK_CU(CUDA_SUCCESS, api.cuMemFreeAsync(p[i], NULL));
    CHECK_CU(CUDA_SUCCESS, api.cuStreamSynchronize(NULL)); /* the pool gives its memory back here */
    expect_usage(0, "freeing stream-ordered memory and synchronising");
    CHECK_CU(CUDA_SUCCESS, api.cuMemAlloc(&p[0], 64 * MIB));
    CHECK_CU(CUDA_SUCCESS, api.cuMemFree(p[0]));
    OK("cuMemAllocAsync: the pool's reservation is charged and returned after release");

    CUmemPoolProps props;
    memset(&props, 0, sizeof props);
    props.allocType = 1;
    props.location.type = CU_MEM_LOCATION_TYPE_DEVICE;
    CUmemoryPool pool;
    CHECK_CU(CUDA_SUCCESS, api.cuMemPoolCreate(&pool, &props));
    n = 0;
    while (n < 8 && api.cuMemAllocFromPoolAsync(&p[n], 20 * MIB, pool, NULL) == CUDA_SUCCESS) n++;
    CHECK(n == 3, "20 MiB allocations from a pool that fit: %d, expected 3", n);
    for (int i = 0; i < n; i++) CHECK_CU(CUDA_SUCCESS, api.cuMemFreeAsync(p[i], NULL));
    CHECK_CU(CUDA_SUCCESS, api.cuMemPoolTrimTo(pool, 0));
    expect_usage(0, "cuMemPoolTrimTo");
    CHECK_CU(CUDA_SUCCESS, api.cuMemAllocFromPoolAsync(&p[0], 20 * MIB, pool, NULL));
    CHECK_CU(CUDA_SUCCESS, api.cuMemPoolDestroy(pool));
    expect_usage(0, "cuMemPoolDestroy");
    OK("cuMemAllocFromPoolAsync, cuMemPoolTrimTo and cuMemPoolDestroy keep the account exact");
}

static void arrays(void) {
    /* 2048 x 2048 single-channel floats: 16 MiB. */
    CUDA_ARRAY_DESCRIPTOR d2 = {2048, 2048, 0x20, 1};
    CUarray a[8];
    int n = 0;
    while (n < 8 && api.cuArrayCreate(&a[n], &d2) == CUDA_SUCCESS) n++;
    CHECK(n == 4, "16 MiB arrays that fit: %d, expected 4", n);
    while (n) CHECK_CU(CUDA_SUCCESS, api.cuArrayDestroy(a[--n]));
    CUDA_ARRAY3D_DESCRIPTOR d3 = {256, 256, 128, 0x20, 1, 0}; /* 32 MiB */
    while (n < 8 && api.cuArray3DCreate(&a[n], &d3) == CUDA_SUCCESS) n++;
    CHECK(n == 2, "32 MiB 3D arrays that fit: %d, expected 2", n);
    while (n) CHECK_CU(CUDA_SUCCESS, api.cuArrayDestroy(a[--n]));
    CUDA_ARRAY3D_DESCRIPTOR dm = {2048, 2048, 0, 0x20, 1, 0}; /* 16 MiB + 4 + 1 + ... ≈ 21.3 MiB with all levels */
    CUmipmappedArray m[4];
    while (n < 4 && api.cuMipmappedArrayCreate(&m[n], &dm, 12) == CUDA_SUCCESS) n++;
    CHECK(n == 3, "mipmapped arrays that fit: %d, expected 3", n);
    while (n) CHECK_CU(CUDA_SUCCESS, api.cuMipmappedArrayDestroy(m[--n]));
    expect_usage(0, "destroying arrays");
    OK("cuArrayCreate, cuArray3DCreate and cuMipmappedArrayCreate are charged and returned");
}

static void queries(void) {
    size_t total;
    CHECK_CU(CUDA_SUCCESS, api.cuDeviceTotalMem(&total, 0));
    CHECK(total == LIMIT, "cuDeviceTotalMem %zu, expected the share", total);
    char name[64];
    CHECK_CU(CUDA_SUCCESS, api.cuDeviceGetName(name, sizeof name, 0));
    CHECK(strcmp(name, "Fake GPU 0") == 0, "cuDeviceGetName passed through: '%s'", name);
    CHECK(!in_tessera((void *)api.cuDeviceGetName), "an unwrapped function must reach the driver untouched");
    CHECK(in_tessera((void *)api.cuMemAlloc) && in_tessera((void *)api.cuLaunchKernel), "wrapped functions are ours");
    OK("cuDeviceTotalMem shows the share; unwrapped functions pass through");

    /* NVML, through its own library. */
    void *nvml = dlopen("libnvidia-ml.so.1", RTLD_NOW);
    CHECK(nvml, "dlopen libnvidia-ml.so.1");
    nvmlReturn_t (*init)(void) = (nvmlReturn_t(*)(void))dlsym(nvml, "nvmlInit_v2");
    nvmlReturn_t (*handle)(unsigned, nvmlDevice_t *) =
        (nvmlReturn_t(*)(unsigned, nvmlDevice_t *))dlsym(nvml, "nvmlDeviceGetHandleByIndex_v2");
    nvmlReturn_t (*info)(nvmlDevice_t, nvmlMemory_t *) =
        (nvmlReturn_t(*)(nvmlDevice_t, nvmlMemory_t *))dlsym(nvml, "nvmlDeviceGetMemoryInfo");
    nvmlReturn_t (*info2)(nvmlDevice_t, nvmlMemory_v2_t *) =
        (nvmlReturn_t(*)(nvmlDevice_t, nvmlMemory_v2_t *))dlsym(nvml, "nvmlDeviceGetMemoryInfo_v2");
    CHECK(init && handle && info && info2, "NVML symbols");
    CHECK(in_tessera((void *)info) && in_tessera((void *)info2), "NVML memory queries are ours");
    nvmlDevice_t dev;
    CHECK(init() == NVML_SUCCESS && handle(0, &dev) == NVML_SUCCESS, "NVML device 0");
    CUdeviceptr p;
    CHECK_CU(CUDA_SUCCESS, api.cuMemAlloc(&p, 24 * MIB));
    nvmlMemory_t m;
    CHECK(info(dev, &m) == NVML_SUCCESS, "nvmlDeviceGetMemoryInfo");
    CHECK(m.total == LIMIT && m.used == 24 * MIB && m.free == 40 * MIB, "NVML v1: total %llu used %llu free %llu",
          m.total, m.used, m.free);
    nvmlMemory_v2_t m2 = {NVML_MEMORY_V2_VERSION, 0, 0, 0, 0};
    CHECK(info2(dev, &m2) == NVML_SUCCESS, "nvmlDeviceGetMemoryInfo_v2");
    CHECK(m2.total == LIMIT && m2.used == 24 * MIB && m2.free == 40 * MIB && m2.reserved == 0,
          "NVML v2: total %llu used %llu free %llu reserved %llu", m2.total, m2.used, m2.free, m2.reserved);
    CHECK_CU(CUDA_SUCCESS, api.cuMemFree(p));
    OK("nvmlDeviceGetMemoryInfo(_v2) show the share and the container's use");
}

int main(int argc, char **argv) {
    CHECK(argc == 2, "usage: t_memory <direct|dlsym|procaddr|procaddr11|ptds>");
    api_load(argv[1]);
    api_setup();
    linear();
    virtual_memory();
    stream_ordered();
    arrays();
    queries();
    return 0;
}
