/*
 * A fake libcuda.so.1 for the enforcement library's tests: simulated devices,
 * memory (linear, pitched, managed, virtual-memory handles, stream-ordered
 * pools, arrays) and kernel execution time. A kernel named "spin_<N>us"
 * occupies its device for N microseconds; devices run queued work in order,
 * so the time a launch completes is known exactly and events, stream and
 * context synchronisation behave as on a real GPU.
 */
#include <dlfcn.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "../include/cuda_abi.h"
#include "fake_state.h"

#define EXPORT __attribute__((visibility("default")))
#define MAX_QUEUE_NS 200000000ULL /* a launch blocks while more than this much work is queued */
#define POOL_CHUNK (32ULL << 20)

struct CUctx_st {
    int dev;
};
struct CUstream_st {
    int dev;
    uint64_t last_end;
};
struct CUevent_st {
    int dev;
    uint64_t at;
};
struct CUfunc_st {
    uint64_t ns;
};
struct CUmod_st {
    int unused;
};
struct CUmemPoolHandle_st {
    int dev;
    uint64_t reserved, used;
};
struct CUgraph_st {
    uint64_t ns;
};
struct CUgraphExec_st {
    uint64_t ns;
};
struct CUarray_st {
    uint64_t bytes;
    int dev;
};

static int g_initialized;
static struct CUctx_st g_ctx[FAKE_MAX_GPUS];
static struct CUstream_st g_default_stream[FAKE_MAX_GPUS];
static struct CUmemPoolHandle_st g_default_pool[FAKE_MAX_GPUS];
static uint64_t g_proc_last_end[FAKE_MAX_GPUS];
static __thread CUcontext t_ctx;
static __thread CUstreamCaptureMode t_capture_mode;
static pthread_mutex_t g_mu = PTHREAD_MUTEX_INITIALIZER;

/* Live allocations of this process: address -> bytes (and the pool for stream-ordered ones). */
typedef struct {
    CUdeviceptr ptr;
    uint64_t bytes;
    int dev;
    CUmemoryPool pool;
} alloc_t;
static alloc_t *g_allocs;
static size_t g_nallocs, g_cap;
static CUdeviceptr g_next_va = 0x700000000000ULL;
static uint64_t g_next_handle = 1;

static int dev_ok(int dev) { return dev >= 0 && dev < fake_gpu_count(); }

static int current_dev(void) { return t_ctx ? t_ctx->dev : -1; }

static CUresult phys_alloc(int dev, uint64_t bytes) {
    fake_gpu_t *g = &fake_state()->gpu[dev];
    uint64_t cur = __atomic_load_n(&g->mem_used, __ATOMIC_ACQUIRE);
    do {
        if (cur + bytes > fake_gpu_memory()) return CUDA_ERROR_OUT_OF_MEMORY;
    } while (!__atomic_compare_exchange_n(&g->mem_used, &cur, cur + bytes, 0, __ATOMIC_ACQ_REL, __ATOMIC_ACQUIRE));
    return CUDA_SUCCESS;
}

static void phys_free(int dev, uint64_t bytes) { __atomic_fetch_sub(&fake_state()->gpu[dev].mem_used, bytes, __ATOMIC_ACQ_REL); }

static CUdeviceptr remember(uint64_t bytes, int dev, CUmemoryPool pool) {
    pthread_mutex_lock(&g_mu);
    if (g_nallocs == g_cap) {
        g_cap = g_cap ? g_cap * 2 : 64;
        g_allocs = realloc(g_allocs, g_cap * sizeof *g_allocs);
    }
    CUdeviceptr p = g_next_va;
    g_next_va += (bytes + 0xfffff) & ~0xfffffULL;
    g_next_va += 0x100000;
    g_allocs[g_nallocs++] = (alloc_t){p, bytes, dev, pool};
    pthread_mutex_unlock(&g_mu);
    return p;
}

static int forget(CUdeviceptr p, alloc_t *out) {
    int found = 0;
    pthread_mutex_lock(&g_mu);
    for (size_t i = 0; i < g_nallocs; i++)
        if (g_allocs[i].ptr == p) {
            *out = g_allocs[i];
            g_allocs[i] = g_allocs[--g_nallocs];
            found = 1;
            break;
        }
    pthread_mutex_unlock(&g_mu);
    return found;
}

/* ---- initialisation, devices, contexts ---- */

EXPORT CUresult cuInit(unsigned int flags) {
    (void)flags;
    for (int d = 0; d < FAKE_MAX_GPUS; d++) {
        g_ctx[d].dev = d;
        g_default_stream[d].dev = d;
        g_default_pool[d].dev = d;
    }
    g_initialized = 1;
    return CUDA_SUCCESS;
}

#define NEED_INIT() \
    if (!g_initialized) return CUDA_ERROR_NOT_INITIALIZED
#define NEED_CTX()                  \
    NEED_INIT();                    \
    if (!t_ctx) return CUDA_ERROR_INVALID_CONTEXT

EXPORT CUresult cuDriverGetVersion(int *v) {
    *v = 13000;
    return CUDA_SUCCESS;
}
EXPORT CUresult cuDeviceGetCount(int *n) {
    NEED_INIT();
    *n = fake_gpu_count();
    return CUDA_SUCCESS;
}
EXPORT CUresult cuDeviceGet(CUdevice *d, int ordinal) {
    NEED_INIT();
    if (!dev_ok(ordinal)) return CUDA_ERROR_INVALID_DEVICE;
    *d = ordinal;
    return CUDA_SUCCESS;
}
EXPORT CUresult cuDeviceGetName(char *name, int len, CUdevice dev) {
    NEED_INIT();
    if (!dev_ok(dev)) return CUDA_ERROR_INVALID_DEVICE;
    snprintf(name, (size_t)len, "Fake GPU %d", dev);
    return CUDA_SUCCESS;
}
EXPORT CUresult cuDeviceGetUuid_v2(CUuuid *id, CUdevice dev) {
    NEED_INIT();
    if (!dev_ok(dev)) return CUDA_ERROR_INVALID_DEVICE;
    fake_uuid(dev, (unsigned char *)id->bytes);
    return CUDA_SUCCESS;
}
EXPORT CUresult cuDeviceGetUuid(CUuuid *id, CUdevice dev) { return cuDeviceGetUuid_v2(id, dev); }
EXPORT CUresult cuDeviceGetAttribute(int *v, int attr, CUdevice dev) {
    NEED_INIT();
    if (!dev_ok(dev)) return CUDA_ERROR_INVALID_DEVICE;
    *v = attr == CU_DEVICE_ATTRIBUTE_MULTIPROCESSOR_COUNT ? 132 : 1;
    return CUDA_SUCCESS;
}
EXPORT CUresult cuDeviceTotalMem_v2(size_t *bytes, CUdevice dev) {
    NEED_INIT();
    if (!dev_ok(dev)) return CUDA_ERROR_INVALID_DEVICE;
    *bytes = fake_gpu_memory();
    return CUDA_SUCCESS;
}
EXPORT CUresult cuDevicePrimaryCtxRetain(CUcontext *ctx, CUdevice dev) {
    NEED_INIT();
    if (!dev_ok(dev)) return CUDA_ERROR_INVALID_DEVICE;
    *ctx = &g_ctx[dev];
    return CUDA_SUCCESS;
}
EXPORT CUresult cuDevicePrimaryCtxRelease_v2(CUdevice dev) { return dev_ok(dev) ? CUDA_SUCCESS : CUDA_ERROR_INVALID_DEVICE; }
EXPORT CUresult cuCtxSetCurrent(CUcontext ctx) {
    NEED_INIT();
    t_ctx = ctx;
    return CUDA_SUCCESS;
}
EXPORT CUresult cuCtxGetCurrent(CUcontext *ctx) {
    NEED_INIT();
    *ctx = t_ctx;
    return CUDA_SUCCESS;
}
EXPORT CUresult cuCtxGetDevice(CUdevice *dev) {
    NEED_CTX();
    *dev = t_ctx->dev;
    return CUDA_SUCCESS;
}

/* ---- execution model ---- */

static struct CUstream_st *stream_of(CUstream s) {
    if (s == NULL || s == CU_STREAM_LEGACY || s == CU_STREAM_PER_THREAD) return &g_default_stream[current_dev()];
    return s;
}

static void release_pool_memory(int dev);

static CUresult run(CUstream s, uint64_t ns) {
    NEED_CTX();
    struct CUstream_st *st = stream_of(s);
    fake_gpu_t *g = &fake_state()->gpu[st->dev];
    uint64_t now = fake_now_ns(), cur = __atomic_load_n(&g->busy_until_ns, __ATOMIC_ACQUIRE), end;
    do {
        uint64_t start = cur > now ? cur : now;
        if (st->last_end > start) start = st->last_end;
        end = start + ns;
    } while (!__atomic_compare_exchange_n(&g->busy_until_ns, &cur, end > cur ? end : cur, 0, __ATOMIC_ACQ_REL,
                                          __ATOMIC_ACQUIRE));
    __atomic_fetch_add(&g->busy_total_ns, ns, __ATOMIC_RELAXED);
    st->last_end = end;
    if (end > g_proc_last_end[st->dev]) g_proc_last_end[st->dev] = end;
    /* A real driver's launch queue is finite: the host blocks when it is full. */
    if (end > now + MAX_QUEUE_NS) fake_sleep_until(end - MAX_QUEUE_NS);
    return CUDA_SUCCESS;
}

/* Modules and functions live as long as the process, as they do in a context. */
static struct CUmod_st g_module;
static struct CUfunc_st g_functions[64];
static int g_nfunctions;

EXPORT CUresult cuModuleLoadData(CUmodule *mod, const void *image) {
    (void)image;
    NEED_CTX();
    *mod = &g_module;
    return CUDA_SUCCESS;
}
EXPORT CUresult cuModuleUnload(CUmodule mod) {
    (void)mod;
    return CUDA_SUCCESS;
}
EXPORT CUresult cuModuleGetFunction(CUfunction *f, CUmodule mod, const char *name) {
    (void)mod;
    unsigned long us;
    if (sscanf(name, "spin_%luus", &us) != 1) return CUDA_ERROR_NOT_FOUND;
    pthread_mutex_lock(&g_mu);
    int i;
    for (i = 0; i < g_nfunctions && g_functions[i].ns != (uint64_t)us * 1000; i++) {
    }
    if (i == g_nfunctions && g_nfunctions < 64) g_functions[g_nfunctions++].ns = (uint64_t)us * 1000;
    pthread_mutex_unlock(&g_mu);
    if (i == 64) return CUDA_ERROR_OUT_OF_MEMORY;
    *f = &g_functions[i];
    return CUDA_SUCCESS;
}

static uint64_t kernel_ns(CUfunction f) { return f ? f->ns : 0; }

EXPORT CUresult cuLaunchKernel(CUfunction f, unsigned gx, unsigned gy, unsigned gz, unsigned bx, unsigned by,
                               unsigned bz, unsigned shmem, CUstream s, void **params, void **extra) {
    (void)gx, (void)gy, (void)gz, (void)bx, (void)by, (void)bz, (void)shmem, (void)params, (void)extra;
    return run(s, kernel_ns(f));
}
EXPORT CUresult cuLaunchKernel_ptsz(CUfunction f, unsigned gx, unsigned gy, unsigned gz, unsigned bx, unsigned by,
                                    unsigned bz, unsigned shmem, CUstream s, void **params, void **extra) {
    return cuLaunchKernel(f, gx, gy, gz, bx, by, bz, shmem, s ? s : CU_STREAM_PER_THREAD, params, extra);
}
EXPORT CUresult cuLaunchKernelEx(const CUlaunchConfig *c, CUfunction f, void **params, void **extra) {
    (void)params, (void)extra;
    if (!c) return CUDA_ERROR_INVALID_VALUE;
    return run(c->hStream, kernel_ns(f));
}
EXPORT CUresult cuLaunchKernelEx_ptsz(const CUlaunchConfig *c, CUfunction f, void **params, void **extra) {
    return cuLaunchKernelEx(c, f, params, extra);
}
EXPORT CUresult cuLaunchCooperativeKernel(CUfunction f, unsigned gx, unsigned gy, unsigned gz, unsigned bx,
                                          unsigned by, unsigned bz, unsigned shmem, CUstream s, void **params) {
    (void)gx, (void)gy, (void)gz, (void)bx, (void)by, (void)bz, (void)shmem, (void)params;
    return run(s, kernel_ns(f));
}
EXPORT CUresult cuLaunchCooperativeKernel_ptsz(CUfunction f, unsigned gx, unsigned gy, unsigned gz, unsigned bx,
                                               unsigned by, unsigned bz, unsigned shmem, CUstream s, void **params) {
    return cuLaunchCooperativeKernel(f, gx, gy, gz, bx, by, bz, shmem, s, params);
}

EXPORT CUresult cuGraphCreate(CUgraph *g, unsigned flags) {
    (void)flags;
    *g = calloc(1, sizeof **g);
    return CUDA_SUCCESS;
}
EXPORT CUresult cuGraphAddKernelNode_v2(CUgraphNode *node, CUgraph g, const CUgraphNode *deps, size_t ndeps,
                                        const CUDA_KERNEL_NODE_PARAMS *p) {
    (void)deps, (void)ndeps;
    g->ns += kernel_ns(p->func);
    *node = (CUgraphNode)g;
    return CUDA_SUCCESS;
}
/* The CUDA 11 name: same parameters as far as this fake reads them. */
EXPORT CUresult cuGraphAddKernelNode(CUgraphNode *node, CUgraph g, const CUgraphNode *deps, size_t ndeps,
                                     const CUDA_KERNEL_NODE_PARAMS *p) {
    return cuGraphAddKernelNode_v2(node, g, deps, ndeps, p);
}
EXPORT CUresult cuGraphInstantiateWithFlags(CUgraphExec *exec, CUgraph g, unsigned long long flags) {
    (void)flags;
    *exec = malloc(sizeof **exec);
    (*exec)->ns = g->ns;
    return CUDA_SUCCESS;
}
EXPORT CUresult cuGraphLaunch(CUgraphExec exec, CUstream s) { return run(s, exec->ns); }
EXPORT CUresult cuGraphLaunch_ptsz(CUgraphExec exec, CUstream s) { return run(s ? s : CU_STREAM_PER_THREAD, exec->ns); }
EXPORT CUresult cuGraphExecDestroy(CUgraphExec exec) {
    free(exec);
    return CUDA_SUCCESS;
}
EXPORT CUresult cuGraphDestroy(CUgraph g) {
    free(g);
    return CUDA_SUCCESS;
}

EXPORT CUresult cuStreamCreate(CUstream *s, unsigned flags) {
    (void)flags;
    NEED_CTX();
    *s = calloc(1, sizeof **s);
    (*s)->dev = t_ctx->dev;
    return CUDA_SUCCESS;
}
EXPORT CUresult cuStreamDestroy_v2(CUstream s) {
    free(s);
    return CUDA_SUCCESS;
}
EXPORT CUresult cuStreamSynchronize(CUstream s) {
    NEED_CTX();
    struct CUstream_st *st = stream_of(s);
    fake_sleep_until(st->last_end);
    release_pool_memory(st->dev);
    return CUDA_SUCCESS;
}
EXPORT CUresult cuCtxSynchronize(void) {
    NEED_CTX();
    fake_sleep_until(g_proc_last_end[t_ctx->dev]);
    release_pool_memory(t_ctx->dev);
    return CUDA_SUCCESS;
}
EXPORT CUresult cuStreamIsCapturing(CUstream s, CUstreamCaptureStatus *status) {
    (void)s;
    *status = CU_STREAM_CAPTURE_STATUS_NONE;
    return CUDA_SUCCESS;
}
EXPORT CUresult cuThreadExchangeStreamCaptureMode(CUstreamCaptureMode *mode) {
    CUstreamCaptureMode old = t_capture_mode;
    t_capture_mode = *mode;
    *mode = old;
    return CUDA_SUCCESS;
}

EXPORT CUresult cuEventCreate(CUevent *ev, unsigned flags) {
    (void)flags;
    NEED_CTX();
    *ev = calloc(1, sizeof **ev);
    return CUDA_SUCCESS;
}
EXPORT CUresult cuEventRecord(CUevent ev, CUstream s) {
    NEED_CTX();
    struct CUstream_st *st = stream_of(s);
    ev->dev = st->dev;
    uint64_t now = fake_now_ns();
    ev->at = st->last_end > now ? st->last_end : now; /* an idle stream records it at once */
    return CUDA_SUCCESS;
}
EXPORT CUresult cuEventElapsedTime_v2(float *ms, CUevent start, CUevent end) {
    if (fake_now_ns() < end->at || fake_now_ns() < start->at) return CUDA_ERROR_NOT_READY;
    *ms = (float)((double)(int64_t)(end->at - start->at) / 1e6);
    return CUDA_SUCCESS;
}
EXPORT CUresult cuEventElapsedTime(float *ms, CUevent start, CUevent end) { return cuEventElapsedTime_v2(ms, start, end); }
EXPORT CUresult cuEventRecord_ptsz(CUevent ev, CUstream s) { return cuEventRecord(ev, s ? s : CU_STREAM_PER_THREAD); }
EXPORT CUresult cuEventQuery(CUevent ev) { return fake_now_ns() >= ev->at ? CUDA_SUCCESS : CUDA_ERROR_NOT_READY; }
EXPORT CUresult cuEventSynchronize(CUevent ev) {
    fake_sleep_until(ev->at);
    return CUDA_SUCCESS;
}
EXPORT CUresult cuEventDestroy_v2(CUevent ev) {
    free(ev);
    return CUDA_SUCCESS;
}

/* ---- memory ---- */

static CUresult alloc_linear(CUdeviceptr *p, uint64_t bytes) {
    NEED_CTX();
    if (!bytes) return CUDA_ERROR_INVALID_VALUE;
    CUresult r = phys_alloc(t_ctx->dev, bytes);
    if (r != CUDA_SUCCESS) return r;
    *p = remember(bytes, t_ctx->dev, NULL);
    return CUDA_SUCCESS;
}

EXPORT CUresult cuMemAlloc_v2(CUdeviceptr *p, size_t bytes) { return alloc_linear(p, bytes); }
/* The CUDA 3.0 ABI: 32-bit sizes and pointers. A runtime asking for CUDA < 3.2 gets this one. */
EXPORT CUresult cuMemAlloc(unsigned int *p, unsigned int bytes) {
    CUdeviceptr wide;
    CUresult r = alloc_linear(&wide, bytes);
    if (r == CUDA_SUCCESS) *p = (unsigned int)wide;
    return r;
}
EXPORT CUresult cuMemAllocManaged(CUdeviceptr *p, size_t bytes, unsigned flags) {
    (void)flags;
    return alloc_linear(p, bytes);
}
EXPORT CUresult cuMemAllocPitch_v2(CUdeviceptr *p, size_t *pitch, size_t width, size_t height, unsigned elem) {
    (void)elem;
    *pitch = (width + 511) & ~(size_t)511;
    return alloc_linear(p, (uint64_t)*pitch * height);
}
EXPORT CUresult cuMemFree_v2(CUdeviceptr p) {
    alloc_t a;
    if (!forget(p, &a)) return CUDA_ERROR_INVALID_VALUE;
    if (a.pool) a.pool->used -= a.bytes;
    else phys_free(a.dev, a.bytes);
    return CUDA_SUCCESS;
}
EXPORT CUresult cuMemGetInfo_v2(size_t *free_bytes, size_t *total) {
    NEED_CTX();
    uint64_t used = __atomic_load_n(&fake_state()->gpu[t_ctx->dev].mem_used, __ATOMIC_ACQUIRE);
    *total = fake_gpu_memory();
    *free_bytes = used < *total ? *total - used : 0;
    return CUDA_SUCCESS;
}

EXPORT CUresult cuMemCreate(CUmemGenericAllocationHandle *h, size_t size, const CUmemAllocationProp *prop,
                            unsigned long long flags) {
    (void)flags;
    NEED_INIT();
    if (!prop || prop->location.type != CU_MEM_LOCATION_TYPE_DEVICE || !dev_ok(prop->location.id) || !size)
        return CUDA_ERROR_INVALID_VALUE;
    CUresult r = phys_alloc(prop->location.id, size);
    if (r != CUDA_SUCCESS) return r;
    pthread_mutex_lock(&g_mu);
    *h = g_next_handle++;
    pthread_mutex_unlock(&g_mu);
    /* Handles live in the allocation list under a tagged key. */
    pthread_mutex_lock(&g_mu);
    if (g_nallocs == g_cap) {
        g_cap = g_cap ? g_cap * 2 : 64;
        g_allocs = realloc(g_allocs, g_cap * sizeof *g_allocs);
    }
    g_allocs[g_nallocs++] = (alloc_t){*h | (1ULL << 63), size, prop->location.id, NULL};
    pthread_mutex_unlock(&g_mu);
    return CUDA_SUCCESS;
}
EXPORT CUresult cuMemRelease(CUmemGenericAllocationHandle h) {
    alloc_t a;
    if (!forget(h | (1ULL << 63), &a)) return CUDA_ERROR_INVALID_VALUE;
    phys_free(a.dev, a.bytes);
    return CUDA_SUCCESS;
}

/* Stream-ordered pools reserve device memory in chunks and keep it until a synchronisation releases it. */
static CUresult pool_alloc(CUdeviceptr *p, size_t bytes, CUmemoryPool pool) {
    NEED_CTX();
    if (!bytes) return CUDA_ERROR_INVALID_VALUE;
    pthread_mutex_lock(&g_mu);
    if (pool->used + bytes > pool->reserved) {
        uint64_t grow = ((pool->used + bytes - pool->reserved) + POOL_CHUNK - 1) / POOL_CHUNK * POOL_CHUNK;
        if (phys_alloc(pool->dev, grow) != CUDA_SUCCESS) {
            pthread_mutex_unlock(&g_mu);
            return CUDA_ERROR_OUT_OF_MEMORY;
        }
        pool->reserved += grow;
    }
    pool->used += bytes;
    pthread_mutex_unlock(&g_mu);
    *p = remember(bytes, pool->dev, pool);
    return CUDA_SUCCESS;
}

static void trim(CUmemoryPool pool, uint64_t keep) {
    uint64_t floor = (pool->used + POOL_CHUNK - 1) / POOL_CHUNK * POOL_CHUNK;
    uint64_t target = keep > floor ? keep : floor;
    if (pool->reserved > target) {
        phys_free(pool->dev, pool->reserved - target);
        pool->reserved = target;
    }
}

static void release_pool_memory(int dev) {
    pthread_mutex_lock(&g_mu);
    trim(&g_default_pool[dev], 0); /* release threshold 0: give back everything unused */
    pthread_mutex_unlock(&g_mu);
}

EXPORT CUresult cuDeviceGetMemPool(CUmemoryPool *pool, CUdevice dev) {
    NEED_INIT();
    if (!dev_ok(dev)) return CUDA_ERROR_INVALID_DEVICE;
    *pool = &g_default_pool[dev];
    return CUDA_SUCCESS;
}
EXPORT CUresult cuDeviceGetDefaultMemPool(CUmemoryPool *pool, CUdevice dev) { return cuDeviceGetMemPool(pool, dev); }
EXPORT CUresult cuMemPoolCreate(CUmemoryPool *pool, const CUmemPoolProps *props) {
    if (!props || props->location.type != CU_MEM_LOCATION_TYPE_DEVICE || !dev_ok(props->location.id))
        return CUDA_ERROR_INVALID_VALUE;
    *pool = calloc(1, sizeof **pool);
    (*pool)->dev = props->location.id;
    return CUDA_SUCCESS;
}
EXPORT CUresult cuMemPoolDestroy(CUmemoryPool pool) {
    pthread_mutex_lock(&g_mu);
    phys_free(pool->dev, pool->reserved);
    pthread_mutex_unlock(&g_mu);
    if (pool < &g_default_pool[0] || pool > &g_default_pool[FAKE_MAX_GPUS - 1]) free(pool);
    return CUDA_SUCCESS;
}
EXPORT CUresult cuMemPoolTrimTo(CUmemoryPool pool, size_t keep) {
    pthread_mutex_lock(&g_mu);
    trim(pool, keep);
    pthread_mutex_unlock(&g_mu);
    return CUDA_SUCCESS;
}
EXPORT CUresult cuMemPoolGetAttribute(CUmemoryPool pool, CUmemPool_attribute attr, void *value) {
    cuuint64_t *v = value;
    pthread_mutex_lock(&g_mu);
    if (attr == CU_MEMPOOL_ATTR_RESERVED_MEM_CURRENT) *v = pool->reserved;
    else if (attr == CU_MEMPOOL_ATTR_USED_MEM_CURRENT) *v = pool->used;
    else *v = 0;
    pthread_mutex_unlock(&g_mu);
    return CUDA_SUCCESS;
}
EXPORT CUresult cuMemAllocAsync(CUdeviceptr *p, size_t bytes, CUstream s) {
    (void)s;
    NEED_CTX();
    return pool_alloc(p, bytes, &g_default_pool[t_ctx->dev]);
}
EXPORT CUresult cuMemAllocAsync_ptsz(CUdeviceptr *p, size_t bytes, CUstream s) { return cuMemAllocAsync(p, bytes, s); }
EXPORT CUresult cuMemAllocFromPoolAsync(CUdeviceptr *p, size_t bytes, CUmemoryPool pool, CUstream s) {
    (void)s;
    return pool_alloc(p, bytes, pool);
}
EXPORT CUresult cuMemAllocFromPoolAsync_ptsz(CUdeviceptr *p, size_t bytes, CUmemoryPool pool, CUstream s) {
    return cuMemAllocFromPoolAsync(p, bytes, pool, s);
}
EXPORT CUresult cuMemFreeAsync(CUdeviceptr p, CUstream s) {
    (void)s;
    alloc_t a;
    if (!forget(p, &a) || !a.pool) return CUDA_ERROR_INVALID_VALUE;
    pthread_mutex_lock(&g_mu);
    a.pool->used -= a.bytes;
    pthread_mutex_unlock(&g_mu);
    return CUDA_SUCCESS;
}
EXPORT CUresult cuMemFreeAsync_ptsz(CUdeviceptr p, CUstream s) { return cuMemFreeAsync(p, s); }

static uint64_t array_size(size_t w, size_t h, size_t d, int format, unsigned channels) {
    uint64_t elem = (format == 0x01 || format == 0x08) ? 1 : (format == 0x02 || format == 0x09 || format == 0x10) ? 2 : 4;
    return (uint64_t)(w ? w : 1) * (h ? h : 1) * (d ? d : 1) * elem * (channels ? channels : 1);
}
static CUresult new_array(struct CUarray_st **out, uint64_t bytes) {
    NEED_CTX();
    CUresult r = phys_alloc(t_ctx->dev, bytes);
    if (r != CUDA_SUCCESS) return r;
    *out = malloc(sizeof **out);
    (*out)->bytes = bytes;
    (*out)->dev = t_ctx->dev;
    return CUDA_SUCCESS;
}
EXPORT CUresult cuArrayCreate_v2(CUarray *a, const CUDA_ARRAY_DESCRIPTOR *d) {
    return new_array(a, array_size(d->Width, d->Height, 1, d->Format, d->NumChannels));
}
EXPORT CUresult cuArray3DCreate_v2(CUarray *a, const CUDA_ARRAY3D_DESCRIPTOR *d) {
    return new_array(a, array_size(d->Width, d->Height, d->Depth, d->Format, d->NumChannels));
}
EXPORT CUresult cuArrayDestroy(CUarray a) {
    phys_free(a->dev, a->bytes);
    free(a);
    return CUDA_SUCCESS;
}
EXPORT CUresult cuMipmappedArrayCreate(CUmipmappedArray *m, const CUDA_ARRAY3D_DESCRIPTOR *d, unsigned levels) {
    uint64_t bytes = 0;
    size_t w = d->Width, h = d->Height, z = d->Depth;
    for (unsigned i = 0; i < (levels ? levels : 1); i++) {
        bytes += array_size(w, h, z, d->Format, d->NumChannels);
        w = w > 1 ? w / 2 : w;
        h = h > 1 ? h / 2 : h;
        z = z > 1 ? z / 2 : z;
    }
    return new_array((struct CUarray_st **)m, bytes);
}
EXPORT CUresult cuMipmappedArrayDestroy(CUmipmappedArray m) { return cuArrayDestroy((CUarray)m); }

/* ---- symbol lookup, with the driver's version rules ---- */

/* The same implementations under addresses that are not exported symbols, as a real driver may hand out. */
static CUresult internal_cuMemAlloc_v2(CUdeviceptr *p, size_t bytes) { return alloc_linear(p, bytes); }
static CUresult internal_cuLaunchKernel(CUfunction f, unsigned gx, unsigned gy, unsigned gz, unsigned bx,
                                        unsigned by, unsigned bz, unsigned shmem, CUstream s, void **params,
                                        void **extra) {
    return cuLaunchKernel(f, gx, gy, gz, bx, by, bz, shmem, s, params, extra);
}

static const char *variant(const char *base, int version, cuuint64_t flags, char *buf, size_t len) {
    static const struct {
        const char *base;
        int since;
    } v2[] = {{"cuMemAlloc", 3020},     {"cuMemFree", 3020},       {"cuMemAllocPitch", 3020},
              {"cuMemGetInfo", 3020},   {"cuDeviceTotalMem", 3020}, {"cuArrayCreate", 3020},
              {"cuArray3DCreate", 3020}, {"cuEventDestroy", 4000},  {"cuStreamDestroy", 4000},
              {"cuDeviceGetUuid", 11040}, {"cuGetProcAddress", 12000}, {"cuDevicePrimaryCtxRelease", 11000},
              {"cuGraphAddKernelNode", 12000}};
    for (size_t i = 0; i < sizeof v2 / sizeof v2[0]; i++)
        if (strcmp(base, v2[i].base) == 0) {
            if (version >= v2[i].since) snprintf(buf, len, "%s_v2", base);
            else snprintf(buf, len, "%s", base);
            return buf;
        }
    if (flags & CU_GET_PROC_ADDRESS_PER_THREAD_DEFAULT_STREAM) {
        snprintf(buf, len, "%s_ptsz", base);
        if (dlsym(RTLD_DEFAULT, buf)) return buf;
    }
    snprintf(buf, len, "%s", base);
    return buf;
}

EXPORT CUresult cuGetProcAddress_v2(const char *symbol, void **pfn, int version, cuuint64_t flags,
                                    CUdriverProcAddressQueryResult *status) {
    if (!symbol || !pfn) return CUDA_ERROR_INVALID_VALUE;
    char buf[128];
    const char *name = variant(symbol, version, flags, buf, sizeof buf);
    void *self = dlopen("libcuda.so.1", RTLD_LAZY | RTLD_NOLOAD);
    void *fn = self ? dlsym(self, name) : NULL;
    if (self) dlclose(self);
    if (fn && getenv("FAKE_PROCADDR_INTERNAL")) {
        if (strcmp(name, "cuMemAlloc_v2") == 0) fn = (void *)internal_cuMemAlloc_v2;
        else if (strcmp(name, "cuLaunchKernel") == 0) fn = (void *)internal_cuLaunchKernel;
    }
    if (status) *status = fn ? CU_GET_PROC_ADDRESS_SUCCESS : CU_GET_PROC_ADDRESS_SYMBOL_NOT_FOUND;
    *pfn = fn;
    return fn ? CUDA_SUCCESS : CUDA_ERROR_NOT_FOUND;
}

EXPORT CUresult cuGetProcAddress(const char *symbol, void **pfn, int version, cuuint64_t flags) {
    return cuGetProcAddress_v2(symbol, pfn, version, flags, NULL);
}
