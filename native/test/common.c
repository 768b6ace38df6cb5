#include "common.h"

#include <dlfcn.h>
#include <string.h>
#include <time.h>

api_t api;

uint64_t now_ns(void) {
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (uint64_t)ts.tv_sec * 1000000000ULL + (uint64_t)ts.tv_nsec;
}

int in_tessera(void *fn) {
    Dl_info info;
    return fn && dladdr(fn, &info) && info.dli_fname && strstr(info.dli_fname, "libtessera");
}

/* Exported names of the functions in `api`, in declaration order (cuda.h's macros applied). */
static const char *const exported[] = {
    "cuInit", "cuDevicePrimaryCtxRetain", "cuCtxSetCurrent", "cuCtxSynchronize", "cuDeviceGetName",
    "cuMemAlloc_v2", "cuMemAllocPitch_v2", "cuMemAllocManaged", "cuMemFree_v2", "cuMemCreate", "cuMemRelease",
    "cuMemAllocAsync", "cuMemAllocFromPoolAsync", "cuMemFreeAsync", "cuMemPoolCreate", "cuMemPoolDestroy",
    "cuMemPoolTrimTo", "cuStreamSynchronize", "cuArrayCreate_v2", "cuArray3DCreate_v2", "cuArrayDestroy",
    "cuMipmappedArrayCreate", "cuMipmappedArrayDestroy", "cuMemGetInfo_v2", "cuDeviceTotalMem_v2",
    "cuModuleLoadData", "cuModuleGetFunction", "cuLaunchKernel", "cuLaunchKernelEx", "cuLaunchCooperativeKernel",
    "cuGraphCreate", "cuGraphAddKernelNode_v2", "cuGraphInstantiateWithFlags", "cuGraphLaunch", "cuGraphExecDestroy",
    "cuGraphDestroy"};

/* Base names a runtime passes to cuGetProcAddress. */
static const char *const base[] = {
    "cuInit", "cuDevicePrimaryCtxRetain", "cuCtxSetCurrent", "cuCtxSynchronize", "cuDeviceGetName", "cuMemAlloc",
    "cuMemAllocPitch", "cuMemAllocManaged", "cuMemFree", "cuMemCreate", "cuMemRelease", "cuMemAllocAsync",
    "cuMemAllocFromPoolAsync", "cuMemFreeAsync", "cuMemPoolCreate", "cuMemPoolDestroy", "cuMemPoolTrimTo",
    "cuStreamSynchronize", "cuArrayCreate", "cuArray3DCreate", "cuArrayDestroy", "cuMipmappedArrayCreate",
    "cuMipmappedArrayDestroy", "cuMemGetInfo", "cuDeviceTotalMem", "cuModuleLoadData", "cuModuleGetFunction",
    "cuLaunchKernel", "cuLaunchKernelEx", "cuLaunchCooperativeKernel", "cuGraphCreate", "cuGraphAddKernelNode",
    "cuGraphInstantiateWithFlags", "cuGraphLaunch", "cuGraphExecDestroy", "cuGraphDestroy"};

#define COUNT (sizeof exported / sizeof exported[0])
_Static_assert(sizeof exported == sizeof base, "one base name per exported name");
_Static_assert(sizeof(api_t) == COUNT * sizeof(void *), "one name per api function");

/* The linked symbols, in the same order. */
static void load_direct(void **slots) {
    CUresult cuMemAlloc_v2(CUdeviceptr *, size_t);
    CUresult cuMemAllocPitch_v2(CUdeviceptr *, size_t *, size_t, size_t, unsigned int);
    CUresult cuMemFree_v2(CUdeviceptr);
    CUresult cuArrayCreate_v2(CUarray *, const CUDA_ARRAY_DESCRIPTOR *);
    CUresult cuArray3DCreate_v2(CUarray *, const CUDA_ARRAY3D_DESCRIPTOR *);
    CUresult cuMemGetInfo_v2(size_t *, size_t *);
    CUresult cuDeviceTotalMem_v2(size_t *, CUdevice);
    CUresult cuGraphAddKernelNode_v2(CUgraphNode *, CUgraph, const CUgraphNode *, size_t, const CUDA_KERNEL_NODE_PARAMS *);
    CUresult cuGraphInstantiateWithFlags(CUgraphExec *, CUgraph, unsigned long long);
#define DECL(name, params) CUresult name params;
    API_FUNCTIONS(DECL)
#undef DECL
    void *direct[] = {
        (void *)cuInit, (void *)cuDevicePrimaryCtxRetain, (void *)cuCtxSetCurrent, (void *)cuCtxSynchronize,
        (void *)cuDeviceGetName, (void *)cuMemAlloc_v2, (void *)cuMemAllocPitch_v2, (void *)cuMemAllocManaged,
        (void *)cuMemFree_v2, (void *)cuMemCreate, (void *)cuMemRelease, (void *)cuMemAllocAsync,
        (void *)cuMemAllocFromPoolAsync, (void *)cuMemFreeAsync, (void *)cuMemPoolCreate, (void *)cuMemPoolDestroy,
        (void *)cuMemPoolTrimTo, (void *)cuStreamSynchronize, (void *)cuArrayCreate_v2, (void *)cuArray3DCreate_v2,
        (void *)cuArrayDestroy, (void *)cuMipmappedArrayCreate, (void *)cuMipmappedArrayDestroy,
        (void *)cuMemGetInfo_v2, (void *)cuDeviceTotalMem_v2, (void *)cuModuleLoadData, (void *)cuModuleGetFunction,
        (void *)cuLaunchKernel, (void *)cuLaunchKernelEx, (void *)cuLaunchCooperativeKernel, (void *)cuGraphCreate,
        (void *)cuGraphAddKernelNode_v2, (void *)cuGraphInstantiateWithFlags, (void *)cuGraphLaunch,
        (void *)cuGraphExecDestroy, (void *)cuGraphDestroy};
    _Static_assert(sizeof direct == sizeof exported, "one symbol per name");
    memcpy(slots, direct, sizeof direct);
}

void api_load(const char *mode) {
    void **slots = (void **)&api;
    if (strcmp(mode, "direct") == 0) {
        load_direct(slots);
        return;
    }
    void *lib = dlopen("libcuda.so.1", RTLD_NOW);
    CHECK(lib, "dlopen libcuda.so.1: %s", dlerror());
    if (strcmp(mode, "dlsym") == 0) {
        for (size_t i = 0; i < COUNT; i++) {
            slots[i] = dlsym(lib, exported[i]);
            CHECK(slots[i], "dlsym %s", exported[i]);
        }
        return;
    }
    int version = 13000;
    cuuint64_t flags = 0;
    CUresult (*get_v2)(const char *, void **, int, cuuint64_t, CUdriverProcAddressQueryResult *) = NULL;
    CUresult (*get_v1)(const char *, void **, int, cuuint64_t) = NULL;
    if (strcmp(mode, "procaddr") == 0 || strcmp(mode, "ptds") == 0) {
        *(void **)&get_v2 = dlsym(lib, "cuGetProcAddress_v2");
        CHECK(get_v2, "dlsym cuGetProcAddress_v2");
        if (mode[0] == 'p' && mode[1] == 't') flags = CU_GET_PROC_ADDRESS_PER_THREAD_DEFAULT_STREAM;
    } else if (strcmp(mode, "procaddr11") == 0) {
        *(void **)&get_v1 = dlsym(lib, "cuGetProcAddress");
        CHECK(get_v1, "dlsym cuGetProcAddress");
        version = 11080;
    } else {
        CHECK(0, "unknown mode '%s' (direct, dlsym, procaddr, procaddr11, ptds)", mode);
    }
    for (size_t i = 0; i < COUNT; i++) {
        CUdriverProcAddressQueryResult status = CU_GET_PROC_ADDRESS_SYMBOL_NOT_FOUND;
        CUresult r = get_v2 ? get_v2(base[i], &slots[i], version, flags, &status)
                            : get_v1(base[i], &slots[i], version, flags);
        CHECK(r == CUDA_SUCCESS && slots[i], "cuGetProcAddress(%s, %d) -> %d", base[i], version, r);
        if (get_v2) CHECK(status == CU_GET_PROC_ADDRESS_SUCCESS, "symbolStatus of %s", base[i]);
    }
}

void api_setup(void) {
    CUcontext ctx;
    CHECK_CU(CUDA_SUCCESS, api.cuInit(0));
    CHECK_CU(CUDA_SUCCESS, api.cuDevicePrimaryCtxRetain(&ctx, 0));
    CHECK_CU(CUDA_SUCCESS, api.cuCtxSetCurrent(ctx));
}

CUfunction api_kernel(unsigned us) {
    CUmodule mod;
    CUfunction f;
    char name[32];
    snprintf(name, sizeof name, "spin_%uus", us);
    CHECK_CU(CUDA_SUCCESS, api.cuModuleLoadData(&mod, "fake"));
    CHECK_CU(CUDA_SUCCESS, api.cuModuleGetFunction(&f, mod, name));
    return f;
}
