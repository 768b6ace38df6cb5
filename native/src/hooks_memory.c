/*
 * Device-memory accounting: every allocation path charges the container's
 * region before it reaches the driver and fails with CUDA_ERROR_OUT_OF_MEMORY
 * when the container would pass its limit; every free returns exactly what
 * its allocation charged. Memory queries report the share, not the card.
 */
#include <pthread.h>
#include <string.h>

#include "driver.h"
#include "log.h"
#include "region.h"
#include "tessera.h"
#include "track.h"

static track_map_t g_ptrs = TRACK_MAP_INIT;    /* cuMemAlloc, pitch and managed allocations */
static track_map_t g_handles = TRACK_MAP_INIT; /* cuMemCreate physical allocations */
static track_map_t g_arrays = TRACK_MAP_INIT;  /* arrays and mipmapped arrays */
static track_map_t g_async = TRACK_MAP_INIT;   /* stream-ordered allocations: aux = their pool */

/* Stream-ordered pools are charged what they hold reserved, not what is handed out of them. */
#define MAX_POOLS 256
typedef struct {
    CUmemoryPool pool;
    int dev;
    uint64_t charged;
} pool_rec_t;
static pool_rec_t g_pools[MAX_POOLS];
static int g_npools;
static pthread_mutex_t g_pool_mu = PTHREAD_MUTEX_INITIALIZER;

void tessera_memory_after_fork(void) {
    track_reset(&g_ptrs);
    track_reset(&g_handles);
    track_reset(&g_arrays);
    track_reset(&g_async);
    pthread_mutex_t fresh = PTHREAD_MUTEX_INITIALIZER;
    g_pool_mu = fresh;
    g_npools = 0;
}

static int ready(void) { return tessera_cuda_load() == 0 && tessera_enforcing(); }

static int accountable(int dev) { return dev >= 0 && dev < TESSERA_MAX_DEVICES; }

static pool_rec_t *pool_find_locked(CUmemoryPool pool) {
    for (int i = 0; i < g_npools; i++)
        if (g_pools[i].pool == pool) return &g_pools[i];
    return NULL;
}

static pool_rec_t *pool_get_locked(CUmemoryPool pool, int dev) {
    pool_rec_t *rec = pool_find_locked(pool);
    if (rec || g_npools == MAX_POOLS) return rec;
    rec = &g_pools[g_npools++];
    rec->pool = pool;
    rec->dev = dev;
    rec->charged = 0;
    return rec;
}

static uint64_t pool_attr(CUmemoryPool pool, CUmemPool_attribute attr) {
    cuuint64_t v = 0;
    if (!real_cuMemPoolGetAttribute || real_cuMemPoolGetAttribute(pool, attr, &v) != CUDA_SUCCESS) return 0;
    return v;
}

/* Brings a pool's charge in line with what it holds now; returns 1 if the charge went down. */
static int pool_sync_locked(pool_rec_t *rec) {
    uint64_t reserved = pool_attr(rec->pool, CU_MEMPOOL_ATTR_RESERVED_MEM_CURRENT);
    int64_t delta = (int64_t)(reserved - rec->charged);
    tessera_region_charge(rec->dev, delta);
    rec->charged = reserved;
    return delta < 0;
}

static void pool_sync(CUmemoryPool pool, int dev) {
    pthread_mutex_lock(&g_pool_mu);
    pool_rec_t *rec = pool_get_locked(pool, dev);
    if (rec) pool_sync_locked(rec);
    pthread_mutex_unlock(&g_pool_mu);
}

/* Pools give memory back to the system at synchronisation points on their own: catch up. */
static int resync_pools(int dev) {
    int released = 0;
    pthread_mutex_lock(&g_pool_mu);
    for (int i = 0; i < g_npools; i++)
        if (g_pools[i].dev == dev) released += pool_sync_locked(&g_pools[i]);
    pthread_mutex_unlock(&g_pool_mu);
    return released;
}

static int pool_device(CUmemoryPool pool) {
    pthread_mutex_lock(&g_pool_mu);
    pool_rec_t *rec = pool_find_locked(pool);
    int dev = rec ? rec->dev : -1;
    pthread_mutex_unlock(&g_pool_mu);
    return dev >= 0 ? dev : tessera_current_device();
}

/*
 * Charges bytes to dev, or refuses. The charge is made first and checked
 * after, so two processes racing for the last bytes cannot both get them:
 * each sees the other's charge, and at worst both are refused.
 */
static CUresult reserve(int dev, uint64_t bytes, const char *api) {
    tessera_note_device(dev);
    uint64_t limit = tessera_mem_limit(dev);
    tessera_region_charge(dev, (int64_t)bytes);
    if (limit == 0) return CUDA_SUCCESS;
    uint64_t used = tessera_region_usage(dev);
    if (used <= limit) return CUDA_SUCCESS;
    if (tessera_region_reap() + resync_pools(dev) > 0) {
        used = tessera_region_usage(dev);
        if (used <= limit) return CUDA_SUCCESS;
    }
    tessera_region_charge(dev, -(int64_t)bytes);
    TLOG(TLOG_WARN, "%s of %llu bytes on device %d refused: the container already uses %llu of its %llu-byte limit",
         api, (unsigned long long)bytes, dev, (unsigned long long)(used - bytes), (unsigned long long)limit);
    return CUDA_ERROR_OUT_OF_MEMORY;
}

static void remember(track_map_t *map, uint64_t key, uint64_t bytes, int dev, uintptr_t aux) {
    track_rec_t rec = {bytes, dev, aux};
    /* Untracked, the charge could never be returned; keeping it charged is the safe side. */
    if (track_put(map, key, rec) != 0)
        TLOG(TLOG_ERROR, "out of host memory tracking an allocation; its %llu bytes stay charged",
             (unsigned long long)bytes);
}

/* After a free of a tracked object: return its charge, or keep tracking it if the driver refused. */
static void settle_free(track_map_t *map, uint64_t key, const track_rec_t *rec, CUresult r) {
    if (r == CUDA_SUCCESS) tessera_region_charge(rec->dev, -(int64_t)rec->bytes);
    else track_put(map, key, *rec);
}

#define REQUIRE_REAL(fn)                                \
    do {                                                \
        if (tessera_cuda_load() != 0 || !real_##fn) return CUDA_ERROR_NOT_INITIALIZED; \
    } while (0)

/* ---- linear allocations ---- */

static CUresult alloc_linear(CUresult (*call)(void *), void *args, CUdeviceptr *dptr, uint64_t bytes,
                             const char *api) {
    int dev = tessera_current_device();
    if (!accountable(dev) || bytes == 0) return call(args);
    CUresult r = reserve(dev, bytes, api);
    if (r != CUDA_SUCCESS) return r;
    r = call(args);
    if (r != CUDA_SUCCESS) {
        tessera_region_charge(dev, -(int64_t)bytes);
        return r;
    }
    remember(&g_ptrs, *dptr, bytes, dev, 0);
    return r;
}

struct alloc_args {
    CUdeviceptr *dptr;
    size_t bytes;
    unsigned flags;
};
static CUresult call_alloc(void *a) {
    struct alloc_args *x = a;
    return real_cuMemAlloc_v2(x->dptr, x->bytes);
}
static CUresult call_managed(void *a) {
    struct alloc_args *x = a;
    return real_cuMemAllocManaged(x->dptr, x->bytes, x->flags);
}

TESSERA_EXPORT CUresult cuMemAlloc_v2(CUdeviceptr *dptr, size_t bytes) {
    REQUIRE_REAL(cuMemAlloc_v2);
    if (!ready()) return real_cuMemAlloc_v2(dptr, bytes);
    struct alloc_args a = {dptr, bytes, 0};
    return alloc_linear(call_alloc, &a, dptr, bytes, "cuMemAlloc");
}

TESSERA_EXPORT CUresult cuMemAllocManaged(CUdeviceptr *dptr, size_t bytes, unsigned int flags) {
    REQUIRE_REAL(cuMemAllocManaged);
    if (!ready()) return real_cuMemAllocManaged(dptr, bytes, flags);
    /* Managed memory may migrate to the device at any time: it counts in full. */
    struct alloc_args a = {dptr, bytes, flags};
    return alloc_linear(call_managed, &a, dptr, bytes, "cuMemAllocManaged");
}

TESSERA_EXPORT CUresult cuMemAllocPitch_v2(CUdeviceptr *dptr, size_t *pitch, size_t width, size_t height,
                                           unsigned int elem) {
    REQUIRE_REAL(cuMemAllocPitch_v2);
    int dev;
    if (!ready() || !accountable(dev = tessera_current_device()) || width == 0 || height == 0)
        return real_cuMemAllocPitch_v2(dptr, pitch, width, height, elem);
    /* The pitch is known only afterwards: reserve the unpadded size, then settle on the real one. */
    uint64_t guess = (uint64_t)width * height;
    CUresult r = reserve(dev, guess, "cuMemAllocPitch");
    if (r != CUDA_SUCCESS) return r;
    r = real_cuMemAllocPitch_v2(dptr, pitch, width, height, elem);
    if (r != CUDA_SUCCESS) {
        tessera_region_charge(dev, -(int64_t)guess);
        return r;
    }
    uint64_t actual = (uint64_t)*pitch * height;
    if (actual > guess && reserve(dev, actual - guess, "cuMemAllocPitch") != CUDA_SUCCESS) {
        real_cuMemFree_v2(*dptr);
        tessera_region_charge(dev, -(int64_t)guess);
        return CUDA_ERROR_OUT_OF_MEMORY;
    }
    if (actual < guess) tessera_region_charge(dev, (int64_t)actual - (int64_t)guess);
    remember(&g_ptrs, *dptr, actual, dev, 0);
    return CUDA_SUCCESS;
}

static CUresult free_async_tracked(CUdeviceptr dptr, CUstream stream, CUresult (*freer)(CUdeviceptr, CUstream));

TESSERA_EXPORT CUresult cuMemFree_v2(CUdeviceptr dptr) {
    REQUIRE_REAL(cuMemFree_v2);
    track_rec_t rec;
    if (track_take(&g_ptrs, dptr, &rec) != 0) {
        /* Not ours (allocated before the library saw it, or stream-ordered): pass it on. */
        if (track_take(&g_async, dptr, &rec) == 0) {
            CUresult r = real_cuMemFree_v2(dptr);
            if (r == CUDA_SUCCESS) pool_sync((CUmemoryPool)rec.aux, rec.dev);
            else track_put(&g_async, dptr, rec);
            return r;
        }
        return real_cuMemFree_v2(dptr);
    }
    CUresult r = real_cuMemFree_v2(dptr);
    settle_free(&g_ptrs, dptr, &rec, r);
    return r;
}

/* ---- virtual memory management: physical handles ---- */

TESSERA_EXPORT CUresult cuMemCreate(CUmemGenericAllocationHandle *handle, size_t size, const CUmemAllocationProp *prop,
                                    unsigned long long flags) {
    REQUIRE_REAL(cuMemCreate);
    if (!ready() || !prop || prop->location.type != CU_MEM_LOCATION_TYPE_DEVICE || !accountable(prop->location.id))
        return real_cuMemCreate(handle, size, prop, flags);
    int dev = prop->location.id;
    CUresult r = reserve(dev, size, "cuMemCreate");
    if (r != CUDA_SUCCESS) return r;
    r = real_cuMemCreate(handle, size, prop, flags);
    if (r != CUDA_SUCCESS) {
        tessera_region_charge(dev, -(int64_t)size);
        return r;
    }
    remember(&g_handles, *handle, size, dev, 0);
    return r;
}

TESSERA_EXPORT CUresult cuMemRelease(CUmemGenericAllocationHandle handle) {
    REQUIRE_REAL(cuMemRelease);
    track_rec_t rec;
    int tracked = track_take(&g_handles, handle, &rec) == 0;
    CUresult r = real_cuMemRelease(handle);
    if (tracked) settle_free(&g_handles, handle, &rec, r);
    return r;
}

/* ---- stream-ordered allocation ---- */

typedef CUresult (*alloc_async_fn)(CUdeviceptr *, size_t, CUstream);
typedef CUresult (*alloc_pool_fn)(CUdeviceptr *, size_t, CUmemoryPool, CUstream);
typedef CUresult (*free_async_fn)(CUdeviceptr, CUstream);

static CUresult alloc_stream_ordered(alloc_async_fn plain, alloc_pool_fn from_pool, free_async_fn freer,
                                     CUdeviceptr *dptr, size_t bytes, CUmemoryPool pool, CUstream stream) {
    int dev = pool ? pool_device(pool) : tessera_current_device();
    if (!pool && accountable(dev) && real_cuDeviceGetMemPool) real_cuDeviceGetMemPool(&pool, dev);
    if (!accountable(dev) || !pool || bytes == 0)
        return from_pool ? from_pool(dptr, bytes, pool, stream) : plain(dptr, bytes, stream);
    /* Only growth of the pool takes device memory: memory it holds idle is reused first. */
    uint64_t reserved = pool_attr(pool, CU_MEMPOOL_ATTR_RESERVED_MEM_CURRENT);
    uint64_t in_use = pool_attr(pool, CU_MEMPOOL_ATTR_USED_MEM_CURRENT);
    uint64_t idle = reserved > in_use ? reserved - in_use : 0;
    uint64_t need = bytes > idle ? bytes - idle : 0;
    TLOG(TLOG_DEBUG, "stream-ordered %llu bytes from pool %p on device %d: pool holds %llu, uses %llu",
         (unsigned long long)bytes, (void *)pool, dev, (unsigned long long)reserved, (unsigned long long)in_use);
    if (need && reserve(dev, need, "cuMemAllocAsync") != CUDA_SUCCESS) return CUDA_ERROR_OUT_OF_MEMORY;
    CUresult r = from_pool ? from_pool(dptr, bytes, pool, stream) : plain(dptr, bytes, stream);
    if (need) tessera_region_charge(dev, -(int64_t)need);
    if (r != CUDA_SUCCESS) return r;
    remember(&g_async, *dptr, bytes, dev, (uintptr_t)pool);
    pool_sync(pool, dev);
    uint64_t limit = tessera_mem_limit(dev);
    if (limit && tessera_region_usage(dev) > limit) {
        /* The pool grew by a whole chunk, past the limit: undo. */
        free_async_tracked(*dptr, stream, freer);
        if (real_cuMemPoolTrimTo) real_cuMemPoolTrimTo(pool, 0);
        pool_sync(pool, dev);
        TLOG(TLOG_WARN, "cuMemAllocAsync of %llu bytes on device %d refused: the pool would pass the %llu-byte limit",
             (unsigned long long)bytes, dev, (unsigned long long)limit);
        return CUDA_ERROR_OUT_OF_MEMORY;
    }
    return CUDA_SUCCESS;
}

static CUresult free_async_tracked(CUdeviceptr dptr, CUstream stream, free_async_fn freer) {
    track_rec_t rec;
    int tracked = track_take(&g_async, dptr, &rec) == 0;
    CUresult r = freer(dptr, stream);
    if (tracked) {
        if (r == CUDA_SUCCESS) pool_sync((CUmemoryPool)rec.aux, rec.dev);
        else track_put(&g_async, dptr, rec);
    }
    return r;
}

#define ASYNC_WRAPPERS(suffix)                                                                                 \
    TESSERA_EXPORT CUresult cuMemAllocAsync##suffix(CUdeviceptr *dptr, size_t bytes, CUstream stream) {         \
        REQUIRE_REAL(cuMemAllocAsync##suffix);                                                                  \
        if (!ready()) return real_cuMemAllocAsync##suffix(dptr, bytes, stream);                                 \
        return alloc_stream_ordered(real_cuMemAllocAsync##suffix, NULL, real_cuMemFreeAsync##suffix, dptr,      \
                                    bytes, NULL, stream);                                                       \
    }                                                                                                           \
    TESSERA_EXPORT CUresult cuMemAllocFromPoolAsync##suffix(CUdeviceptr *dptr, size_t bytes, CUmemoryPool pool, \
                                                            CUstream stream) {                                  \
        REQUIRE_REAL(cuMemAllocFromPoolAsync##suffix);                                                          \
        if (!ready() || !pool) return real_cuMemAllocFromPoolAsync##suffix(dptr, bytes, pool, stream);          \
        return alloc_stream_ordered(NULL, real_cuMemAllocFromPoolAsync##suffix, real_cuMemFreeAsync##suffix,    \
                                    dptr, bytes, pool, stream);                                                 \
    }                                                                                                           \
    TESSERA_EXPORT CUresult cuMemFreeAsync##suffix(CUdeviceptr dptr, CUstream stream) {                         \
        REQUIRE_REAL(cuMemFreeAsync##suffix);                                                                   \
        return free_async_tracked(dptr, stream, real_cuMemFreeAsync##suffix);                                   \
    }
ASYNC_WRAPPERS()
ASYNC_WRAPPERS(_ptsz)

TESSERA_EXPORT CUresult cuMemPoolCreate(CUmemoryPool *pool, const CUmemPoolProps *props) {
    REQUIRE_REAL(cuMemPoolCreate);
    CUresult r = real_cuMemPoolCreate(pool, props);
    if (r == CUDA_SUCCESS && ready() && props && props->location.type == CU_MEM_LOCATION_TYPE_DEVICE &&
        accountable(props->location.id)) {
        pthread_mutex_lock(&g_pool_mu);
        if (!pool_get_locked(*pool, props->location.id))
            TLOG(TLOG_ERROR, "more than %d memory pools: pool %p is not accounted", MAX_POOLS, (void *)*pool);
        pthread_mutex_unlock(&g_pool_mu);
    }
    return r;
}

TESSERA_EXPORT CUresult cuMemPoolDestroy(CUmemoryPool pool) {
    REQUIRE_REAL(cuMemPoolDestroy);
    CUresult r = real_cuMemPoolDestroy(pool);
    if (r != CUDA_SUCCESS) return r;
    pthread_mutex_lock(&g_pool_mu);
    pool_rec_t *rec = pool_find_locked(pool);
    if (rec) {
        tessera_region_charge(rec->dev, -(int64_t)rec->charged);
        *rec = g_pools[--g_npools];
    }
    pthread_mutex_unlock(&g_pool_mu);
    return r;
}

TESSERA_EXPORT CUresult cuMemPoolTrimTo(CUmemoryPool pool, size_t keep) {
    REQUIRE_REAL(cuMemPoolTrimTo);
    CUresult r = real_cuMemPoolTrimTo(pool, keep);
    if (r == CUDA_SUCCESS && ready()) {
        pthread_mutex_lock(&g_pool_mu);
        pool_rec_t *rec = pool_find_locked(pool);
        if (rec) pool_sync_locked(rec);
        pthread_mutex_unlock(&g_pool_mu);
    }
    return r;
}

/* ---- arrays ---- */

/* Bytes per channel element of an array format; block-compressed and planar video formats are
 * sized by their largest plane, an over-estimate on the safe side. */
static uint64_t format_bytes(CUarray_format f) {
    switch (f) {
    case 0x01: case 0x08: case 0xc0: case 0xc6: case 0xb0: case 0xa2: case 0xb2: case 0xb4: return 1;
    case 0x02: case 0x09: case 0x10: case 0xc1: case 0xc3: case 0xc7: case 0xc9: case 0x9f: case 0xa1:
    case 0xa3: case 0xa4: case 0xa5: case 0xb3: case 0xb5: return 2;
    case 0x03: case 0x0a: case 0x20: case 0xc2: case 0xc4: case 0xc8: case 0xca: case 0xa6: case 0xa8:
    case 0xa9: case 0x50: return 4;
    case 0xc5: case 0xcb: case 0xa7: case 0xb1: return 8;
    default: return 16;
    }
}

static uint64_t array_bytes(size_t w, size_t h, size_t d, CUarray_format f, unsigned channels) {
    uint64_t elems = (uint64_t)(w ? w : 1) * (h ? h : 1) * (d ? d : 1);
    return elems * format_bytes(f) * (channels ? channels : 1);
}

static CUresult track_array(uint64_t key, uint64_t bytes, int dev) {
    remember(&g_arrays, key, bytes, dev, 0);
    return CUDA_SUCCESS;
}

TESSERA_EXPORT CUresult cuArrayCreate_v2(CUarray *handle, const CUDA_ARRAY_DESCRIPTOR *desc) {
    REQUIRE_REAL(cuArrayCreate_v2);
    int dev;
    if (!ready() || !desc || !accountable(dev = tessera_current_device())) return real_cuArrayCreate_v2(handle, desc);
    uint64_t bytes = array_bytes(desc->Width, desc->Height, 1, desc->Format, desc->NumChannels);
    CUresult r = reserve(dev, bytes, "cuArrayCreate");
    if (r != CUDA_SUCCESS) return r;
    r = real_cuArrayCreate_v2(handle, desc);
    if (r != CUDA_SUCCESS) {
        tessera_region_charge(dev, -(int64_t)bytes);
        return r;
    }
    return track_array((uint64_t)(uintptr_t)*handle, bytes, dev);
}

TESSERA_EXPORT CUresult cuArray3DCreate_v2(CUarray *handle, const CUDA_ARRAY3D_DESCRIPTOR *desc) {
    REQUIRE_REAL(cuArray3DCreate_v2);
    int dev;
    if (!ready() || !desc || !accountable(dev = tessera_current_device())) return real_cuArray3DCreate_v2(handle, desc);
    uint64_t bytes = array_bytes(desc->Width, desc->Height, desc->Depth, desc->Format, desc->NumChannels);
    CUresult r = reserve(dev, bytes, "cuArray3DCreate");
    if (r != CUDA_SUCCESS) return r;
    r = real_cuArray3DCreate_v2(handle, desc);
    if (r != CUDA_SUCCESS) {
        tessera_region_charge(dev, -(int64_t)bytes);
        return r;
    }
    return track_array((uint64_t)(uintptr_t)*handle, bytes, dev);
}

TESSERA_EXPORT CUresult cuMipmappedArrayCreate(CUmipmappedArray *handle, const CUDA_ARRAY3D_DESCRIPTOR *desc,
                                               unsigned int levels) {
    REQUIRE_REAL(cuMipmappedArrayCreate);
    int dev;
    if (!ready() || !desc || !accountable(dev = tessera_current_device()))
        return real_cuMipmappedArrayCreate(handle, desc, levels);
    uint64_t bytes = 0;
    size_t w = desc->Width, h = desc->Height, d = desc->Depth;
    for (unsigned i = 0; i < (levels ? levels : 1); i++) {
        bytes += array_bytes(w, h, d, desc->Format, desc->NumChannels);
        w = w > 1 ? w / 2 : w;
        h = h > 1 ? h / 2 : h;
        d = d > 1 ? d / 2 : d;
    }
    CUresult r = reserve(dev, bytes, "cuMipmappedArrayCreate");
    if (r != CUDA_SUCCESS) return r;
    r = real_cuMipmappedArrayCreate(handle, desc, levels);
    if (r != CUDA_SUCCESS) {
        tessera_region_charge(dev, -(int64_t)bytes);
        return r;
    }
    return track_array((uint64_t)(uintptr_t)*handle, bytes, dev);
}

TESSERA_EXPORT CUresult cuArrayDestroy(CUarray handle) {
    REQUIRE_REAL(cuArrayDestroy);
    uint64_t key = (uint64_t)(uintptr_t)handle;
    track_rec_t rec;
    int tracked = track_take(&g_arrays, key, &rec) == 0;
    CUresult r = real_cuArrayDestroy(handle);
    if (tracked) settle_free(&g_arrays, key, &rec, r);
    return r;
}

TESSERA_EXPORT CUresult cuMipmappedArrayDestroy(CUmipmappedArray handle) {
    REQUIRE_REAL(cuMipmappedArrayDestroy);
    uint64_t key = (uint64_t)(uintptr_t)handle;
    track_rec_t rec;
    int tracked = track_take(&g_arrays, key, &rec) == 0;
    CUresult r = real_cuMipmappedArrayDestroy(handle);
    if (tracked) settle_free(&g_arrays, key, &rec, r);
    return r;
}

/* ---- what the container sees ---- */

TESSERA_EXPORT CUresult cuMemGetInfo_v2(size_t *free_bytes, size_t *total_bytes) {
    REQUIRE_REAL(cuMemGetInfo_v2);
    CUresult r = real_cuMemGetInfo_v2(free_bytes, total_bytes);
    int dev;
    if (r != CUDA_SUCCESS || !ready() || !free_bytes || !total_bytes || !accountable(dev = tessera_current_device()))
        return r;
    uint64_t limit = tessera_mem_limit(dev);
    if (!limit) return r;
    resync_pools(dev);
    uint64_t used = tessera_region_usage(dev);
    uint64_t total = limit < *total_bytes ? limit : *total_bytes;
    uint64_t free_share = total > used ? total - used : 0;
    /* Never promise more than the card really has free (other containers share it). */
    *free_bytes = free_share < *free_bytes ? free_share : *free_bytes;
    *total_bytes = total;
    return r;
}

TESSERA_EXPORT CUresult cuDeviceTotalMem_v2(size_t *bytes, CUdevice dev) {
    REQUIRE_REAL(cuDeviceTotalMem_v2);
    CUresult r = real_cuDeviceTotalMem_v2(bytes, dev);
    if (r != CUDA_SUCCESS || !ready() || !bytes || !accountable(dev)) return r;
    uint64_t limit = tessera_mem_limit(dev);
    if (limit && limit < *bytes) *bytes = limit;
    return r;
}
