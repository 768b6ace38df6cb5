/*
 * The real driver: its functions, resolved from libcuda.so.1 and
 * libnvidia-ml.so.1 with the real dlsym, and the table that maps each real
 * function we wrap to our wrapper.
 */
#ifndef TESSERA_DRIVER_H
#define TESSERA_DRIVER_H

#include "../include/cuda_abi.h"

/* Functions we wrap: X(name, return, parameters). Each wrapper is exported under the same name. */
#define TESSERA_CUDA_WRAPPED(X)                                                                            \
    X(cuMemAlloc_v2, CUresult, (CUdeviceptr * dptr, size_t bytesize))                                      \
    X(cuMemAllocPitch_v2, CUresult, (CUdeviceptr * dptr, size_t * pitch, size_t width, size_t height, unsigned int elem)) \
    X(cuMemAllocManaged, CUresult, (CUdeviceptr * dptr, size_t bytesize, unsigned int flags))              \
    X(cuMemFree_v2, CUresult, (CUdeviceptr dptr))                                                          \
    X(cuMemCreate, CUresult, (CUmemGenericAllocationHandle * handle, size_t size, const CUmemAllocationProp *prop, unsigned long long flags)) \
    X(cuMemRelease, CUresult, (CUmemGenericAllocationHandle handle))                                       \
    X(cuMemAllocAsync, CUresult, (CUdeviceptr * dptr, size_t bytesize, CUstream stream))                   \
    X(cuMemAllocAsync_ptsz, CUresult, (CUdeviceptr * dptr, size_t bytesize, CUstream stream))              \
    X(cuMemAllocFromPoolAsync, CUresult, (CUdeviceptr * dptr, size_t bytesize, CUmemoryPool pool, CUstream stream)) \
    X(cuMemAllocFromPoolAsync_ptsz, CUresult, (CUdeviceptr * dptr, size_t bytesize, CUmemoryPool pool, CUstream stream)) \
    X(cuMemFreeAsync, CUresult, (CUdeviceptr dptr, CUstream stream))                                       \
    X(cuMemFreeAsync_ptsz, CUresult, (CUdeviceptr dptr, CUstream stream))                                  \
    X(cuMemPoolTrimTo, CUresult, (CUmemoryPool pool, size_t keep))                                         \
    X(cuMemPoolCreate, CUresult, (CUmemoryPool * pool, const CUmemPoolProps *props))                       \
    X(cuMemPoolDestroy, CUresult, (CUmemoryPool pool))                                                     \
    X(cuArrayCreate_v2, CUresult, (CUarray * handle, const CUDA_ARRAY_DESCRIPTOR *desc))                   \
    X(cuArray3DCreate_v2, CUresult, (CUarray * handle, const CUDA_ARRAY3D_DESCRIPTOR *desc))               \
    X(cuArrayDestroy, CUresult, (CUarray handle))                                                          \
    X(cuMipmappedArrayCreate, CUresult, (CUmipmappedArray * handle, const CUDA_ARRAY3D_DESCRIPTOR *desc, unsigned int levels)) \
    X(cuMipmappedArrayDestroy, CUresult, (CUmipmappedArray handle))                                        \
    X(cuMemGetInfo_v2, CUresult, (size_t * free, size_t *total))                                           \
    X(cuDeviceTotalMem_v2, CUresult, (size_t * bytes, CUdevice dev))                                       \
    X(cuLaunchKernel, CUresult, (CUfunction f, unsigned gx, unsigned gy, unsigned gz, unsigned bx, unsigned by, unsigned bz, unsigned shmem, CUstream stream, void **params, void **extra)) \
    X(cuLaunchKernel_ptsz, CUresult, (CUfunction f, unsigned gx, unsigned gy, unsigned gz, unsigned bx, unsigned by, unsigned bz, unsigned shmem, CUstream stream, void **params, void **extra)) \
    X(cuLaunchKernelEx, CUresult, (const CUlaunchConfig *config, CUfunction f, void **params, void **extra)) \
    X(cuLaunchKernelEx_ptsz, CUresult, (const CUlaunchConfig *config, CUfunction f, void **params, void **extra)) \
    X(cuLaunchCooperativeKernel, CUresult, (CUfunction f, unsigned gx, unsigned gy, unsigned gz, unsigned bx, unsigned by, unsigned bz, unsigned shmem, CUstream stream, void **params)) \
    X(cuLaunchCooperativeKernel_ptsz, CUresult, (CUfunction f, unsigned gx, unsigned gy, unsigned gz, unsigned bx, unsigned by, unsigned bz, unsigned shmem, CUstream stream, void **params)) \
    X(cuGraphLaunch, CUresult, (CUgraphExec exec, CUstream stream))                                        \
    X(cuGraphLaunch_ptsz, CUresult, (CUgraphExec exec, CUstream stream))                                   \
    X(cuGetProcAddress, CUresult, (const char *symbol, void **pfn, int version, cuuint64_t flags))          \
    X(cuGetProcAddress_v2, CUresult, (const char *symbol, void **pfn, int version, cuuint64_t flags, CUdriverProcAddressQueryResult *status))

/* Driver functions we only call. */
#define TESSERA_CUDA_USED(X)                                                                               \
    X(cuCtxGetCurrent, CUresult, (CUcontext * ctx))                                                        \
    X(cuCtxGetDevice, CUresult, (CUdevice * dev))                                                          \
    X(cuDeviceGetCount, CUresult, (int *count))                                                            \
    X(cuDeviceGetUuid_v2, CUresult, (CUuuid * uuid, CUdevice dev))                                         \
    X(cuDeviceGetUuid, CUresult, (CUuuid * uuid, CUdevice dev))                                            \
    X(cuDeviceGetMemPool, CUresult, (CUmemoryPool * pool, CUdevice dev))                                   \
    X(cuMemPoolGetAttribute, CUresult, (CUmemoryPool pool, CUmemPool_attribute attr, void *value))         \
    X(cuEventCreate, CUresult, (CUevent * ev, unsigned int flags))                                         \
    X(cuEventRecord, CUresult, (CUevent ev, CUstream stream))                                              \
    X(cuEventQuery, CUresult, (CUevent ev))                                                                \
    X(cuEventDestroy_v2, CUresult, (CUevent ev))                                                           \
    X(cuEventElapsedTime, CUresult, (float *ms, CUevent start, CUevent end))                               \
    X(cuEventElapsedTime_v2, CUresult, (float *ms, CUevent start, CUevent end))                            \
    X(cuStreamIsCapturing, CUresult, (CUstream stream, CUstreamCaptureStatus * status))                    \
    X(cuThreadExchangeStreamCaptureMode, CUresult, (CUstreamCaptureMode * mode))

#define TESSERA_NVML_WRAPPED(X)                                                                            \
    X(nvmlDeviceGetMemoryInfo, nvmlReturn_t, (nvmlDevice_t dev, nvmlMemory_t * mem))                       \
    X(nvmlDeviceGetMemoryInfo_v2, nvmlReturn_t, (nvmlDevice_t dev, nvmlMemory_v2_t * mem))

#define TESSERA_NVML_USED(X)                                                                               \
    X(nvmlDeviceGetUUID, nvmlReturn_t, (nvmlDevice_t dev, char *uuid, unsigned int length))                \
    X(nvmlDeviceGetIndex, nvmlReturn_t, (nvmlDevice_t dev, unsigned int *index))

#define TESSERA_DECLARE_REAL(name, ret, params) \
    typedef ret(*name##_fn) params;             \
    extern name##_fn real_##name;
TESSERA_CUDA_WRAPPED(TESSERA_DECLARE_REAL)
TESSERA_CUDA_USED(TESSERA_DECLARE_REAL)
TESSERA_NVML_WRAPPED(TESSERA_DECLARE_REAL)
TESSERA_NVML_USED(TESSERA_DECLARE_REAL)
#undef TESSERA_DECLARE_REAL

/* Loads libcuda.so.1 (once) and resolves every real function. 0 when the driver is usable. */
int tessera_cuda_load(void);
/* Same for libnvidia-ml.so.1. */
int tessera_nvml_load(void);

/*
 * If fn is a real driver function that we wrap, returns our wrapper;
 * otherwise returns fn. This is how dlsym and cuGetProcAddress answers are
 * redirected: by what the driver handed out, never by guessing from a name,
 * so the mapping from (name, CUDA version, flags) to a function variant is
 * exactly the driver's own. name_hint (may be NULL) is the looked-up symbol,
 * used only when the driver hands out an address that is not one of its
 * exported symbols.
 */
void *tessera_swap_for_wrapper(void *fn, const char *name_hint, int cuda_version, cuuint64_t flags);

/* The real dlsym, which our exported dlsym forwards to. */
extern void *(*tessera_real_dlsym)(void *, const char *);
void tessera_resolve_real_dlsym(void);

#endif
