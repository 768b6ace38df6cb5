/*
 * Test helpers: the driver functions the tests call, reached the way a real
 * runtime reaches them (mode "direct": linked symbols; "dlsym": dlopen of
 * libcuda.so.1 and dlsym; "procaddr": cuGetProcAddress_v2 obtained through
 * dlsym, CUDA 13; "procaddr11": the CUDA 11 cuGetProcAddress; "ptds": the
 * per-thread-default-stream variants through cuGetProcAddress_v2).
 */
#ifndef TESSERA_TEST_COMMON_H
#define TESSERA_TEST_COMMON_H

#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>

#include "../include/cuda_abi.h"

#define API_FUNCTIONS(X)                                                                                  \
    X(cuInit, (unsigned int))                                                                             \
    X(cuDevicePrimaryCtxRetain, (CUcontext *, CUdevice))                                                  \
    X(cuCtxSetCurrent, (CUcontext))                                                                       \
    X(cuCtxSynchronize, (void))                                                                           \
    X(cuDeviceGetName, (char *, int, CUdevice))                                                           \
    X(cuMemAlloc, (CUdeviceptr *, size_t))                                                                \
    X(cuMemAllocPitch, (CUdeviceptr *, size_t *, size_t, size_t, unsigned int))                           \
    X(cuMemAllocManaged, (CUdeviceptr *, size_t, unsigned int))                                           \
    X(cuMemFree, (CUdeviceptr))                                                                           \
    X(cuMemCreate, (CUmemGenericAllocationHandle *, size_t, const CUmemAllocationProp *, unsigned long long)) \
    X(cuMemRelease, (CUmemGenericAllocationHandle))                                                       \
    X(cuMemAllocAsync, (CUdeviceptr *, size_t, CUstream))                                                 \
    X(cuMemAllocFromPoolAsync, (CUdeviceptr *, size_t, CUmemoryPool, CUstream))                           \
    X(cuMemFreeAsync, (CUdeviceptr, CUstream))                                                            \
    X(cuMemPoolCreate, (CUmemoryPool *, const CUmemPoolProps *))                                          \
    X(cuMemPoolDestroy, (CUmemoryPool))                                                                   \
    X(cuMemPoolTrimTo, (CUmemoryPool, size_t))                                                            \
    X(cuStreamSynchronize, (CUstream))                                                                    \
    X(cuArrayCreate, (CUarray *, const CUDA_ARRAY_DESCRIPTOR *))                                          \
    X(cuArray3DCreate, (CUarray *, const CUDA_ARRAY3D_DESCRIPTOR *))                                      \
    X(cuArrayDestroy, (CUarray))                                                                          \
    X(cuMipmappedArrayCreate, (CUmipmappedArray *, const CUDA_ARRAY3D_DESCRIPTOR *, unsigned int))        \
    X(cuMipmappedArrayDestroy, (CUmipmappedArray))                                                        \
    X(cuMemGetInfo, (size_t *, size_t *))                                                                 \
    X(cuDeviceTotalMem, (size_t *, CUdevice))                                                             \
    X(cuModuleLoadData, (CUmodule *, const void *))                                                       \
    X(cuModuleGetFunction, (CUfunction *, CUmodule, const char *))                                        \
    X(cuLaunchKernel, (CUfunction, unsigned, unsigned, unsigned, unsigned, unsigned, unsigned, unsigned, CUstream, void **, void **)) \
    X(cuLaunchKernelEx, (const CUlaunchConfig *, CUfunction, void **, void **))                           \
    X(cuLaunchCooperativeKernel, (CUfunction, unsigned, unsigned, unsigned, unsigned, unsigned, unsigned, unsigned, CUstream, void **)) \
    X(cuGraphCreate, (CUgraph *, unsigned int))                                                           \
    X(cuGraphAddKernelNode, (CUgraphNode *, CUgraph, const CUgraphNode *, size_t, const CUDA_KERNEL_NODE_PARAMS *)) \
    X(cuGraphInstantiate, (CUgraphExec *, CUgraph, unsigned long long))                                   \
    X(cuGraphLaunch, (CUgraphExec, CUstream))                                                             \
    X(cuGraphExecDestroy, (CUgraphExec))                                                                  \
    X(cuGraphDestroy, (CUgraph))

typedef struct {
#define API_FIELD(name, params) CUresult(*name) params;
    API_FUNCTIONS(API_FIELD)
#undef API_FIELD
} api_t;

extern api_t api;

/* Fills `api` for a mode; exits on an unknown mode or an unresolved function. */
void api_load(const char *mode);

/* cuInit, the primary context of device 0, made current. */
void api_setup(void);

/* A fake kernel that occupies the device for us microseconds. */
CUfunction api_kernel(unsigned us);

/* Real-time monotonic nanoseconds. */
uint64_t now_ns(void);

/* 1 when fn lives in the preloaded enforcement library. */
int in_tessera(void *fn);

#define MIB (1024ULL * 1024ULL)

#define CHECK(cond, ...)                                                                     \
    do {                                                                                     \
        if (!(cond)) {                                                                       \
            fprintf(stderr, "FAIL %s:%d: %s: ", __FILE__, __LINE__, #cond);                  \
            fprintf(stderr, __VA_ARGS__);                                                    \
            fprintf(stderr, "\n");                                                           \
            exit(1);                                                                         \
        }                                                                                    \
    } while (0)

#define CHECK_CU(expected, call)                                                             \
    do {                                                                                     \
        CUresult r_ = (call);                                                                \
        CHECK(r_ == (expected), "%s returned %d, expected %d", #call, r_, (expected));        \
    } while (0)

#define OK(...)                  \
    do {                         \
        printf("ok - ");         \
        printf(__VA_ARGS__);     \
        printf("\n");            \
        fflush(stdout);          \
    } while (0)

#endif
