#include "driver.h"

#include <dlfcn.h>
#include <link.h>
#include <pthread.h>
#include <string.h>

#include "log.h"

#define TESSERA_DEFINE_REAL(name, ret, params) name##_fn real_##name;
TESSERA_CUDA_WRAPPED(TESSERA_DEFINE_REAL)
TESSERA_CUDA_USED(TESSERA_DEFINE_REAL)
TESSERA_NVML_WRAPPED(TESSERA_DEFINE_REAL)
TESSERA_NVML_USED(TESSERA_DEFINE_REAL)
#undef TESSERA_DEFINE_REAL

/* Our wrappers, exported under the driver's names (defined in hooks_*.c). */
#define TESSERA_DECLARE_WRAPPER(name, ret, params) ret name params;
TESSERA_CUDA_WRAPPED(TESSERA_DECLARE_WRAPPER)
TESSERA_NVML_WRAPPED(TESSERA_DECLARE_WRAPPER)
#undef TESSERA_DECLARE_WRAPPER

typedef struct {
    const char *name;
    void **real;
    void *wrapper;
} hook_t;

#define TESSERA_HOOK_ENTRY(name, ret, params) {#name, (void **)&real_##name, (void *)name},
static hook_t g_cuda_hooks[] = {TESSERA_CUDA_WRAPPED(TESSERA_HOOK_ENTRY)};
static hook_t g_nvml_hooks[] = {TESSERA_NVML_WRAPPED(TESSERA_HOOK_ENTRY)};
#undef TESSERA_HOOK_ENTRY
#define COUNT(a) (sizeof(a) / sizeof((a)[0]))

typedef struct {
    const char *name;
    void **slot;
} used_t;
#define TESSERA_USED_ENTRY(name, ret, params) {#name, (void **)&real_##name},
static used_t g_cuda_used[] = {TESSERA_CUDA_USED(TESSERA_USED_ENTRY)};
static used_t g_nvml_used[] = {TESSERA_NVML_USED(TESSERA_USED_ENTRY)};
#undef TESSERA_USED_ENTRY

void *(*tessera_real_dlsym)(void *, const char *);

/* May run before a sanitizer runtime has initialised (it resolves its own interceptors through
 * dlsym(RTLD_NEXT) first thing), so it must not be instrumented. */
__attribute__((no_sanitize_address)) void tessera_resolve_real_dlsym(void) {
    if (tessera_real_dlsym) return;
    static const char *const versions[] = {"GLIBC_2.34", "GLIBC_2.2.5", "GLIBC_2.17", "GLIBC_2.0"};
    for (size_t i = 0; i < COUNT(versions) && !tessera_real_dlsym; i++)
        tessera_real_dlsym = (void *(*)(void *, const char *))dlvsym(RTLD_NEXT, "dlsym", versions[i]);
    if (!tessera_real_dlsym) {
        void *libc = dlopen("libc.so.6", RTLD_LAZY | RTLD_NOLOAD);
        for (size_t i = 0; libc && i < COUNT(versions) && !tessera_real_dlsym; i++)
            tessera_real_dlsym = (void *(*)(void *, const char *))dlvsym(libc, "dlsym", versions[i]);
    }
}

static void *g_cuda_handle, *g_nvml_handle;
static void *g_cuda_base; /* load address of libcuda, to recognise its functions */
static pthread_mutex_t g_load_mu = PTHREAD_MUTEX_INITIALIZER;
static int g_cuda_state, g_nvml_state; /* 0 not tried, 1 loaded, -1 unavailable */

static void *base_of(void *any_symbol) {
    Dl_info info;
    return (any_symbol && dladdr(any_symbol, &info)) ? info.dli_fbase : NULL;
}

static int load_library(const char *soname, int only_if_loaded, void **handle) {
    *handle = dlopen(soname, RTLD_NOW | RTLD_NOLOAD);
    if (!*handle && !only_if_loaded) *handle = dlopen(soname, RTLD_NOW | RTLD_GLOBAL);
    return *handle ? 0 : -1;
}

static void resolve(void *handle, hook_t *hooks, size_t nhooks, used_t *used, size_t nused) {
    for (size_t i = 0; i < nhooks; i++)
        if (!*hooks[i].real) *hooks[i].real = tessera_real_dlsym(handle, hooks[i].name);
    for (size_t i = 0; i < nused; i++)
        if (!*used[i].slot) *used[i].slot = tessera_real_dlsym(handle, used[i].name);
}

static int cuda_load(int only_if_loaded) {
    int state = __atomic_load_n(&g_cuda_state, __ATOMIC_ACQUIRE);
    if (state != 0) return state > 0 ? 0 : -1;
    pthread_mutex_lock(&g_load_mu);
    if (g_cuda_state == 0) {
        tessera_resolve_real_dlsym();
        if (tessera_real_dlsym && load_library("libcuda.so.1", only_if_loaded, &g_cuda_handle) == 0) {
            resolve(g_cuda_handle, g_cuda_hooks, COUNT(g_cuda_hooks), g_cuda_used, COUNT(g_cuda_used));
            g_cuda_base = base_of(real_cuGetProcAddress_v2 ? (void *)real_cuGetProcAddress_v2 : (void *)real_cuMemAlloc_v2);
            if (!real_cuDeviceGetUuid_v2) real_cuDeviceGetUuid_v2 = real_cuDeviceGetUuid;
            __atomic_store_n(&g_cuda_state, 1, __ATOMIC_RELEASE);
        } else if (!only_if_loaded) {
            TLOG(TLOG_WARN, "libcuda.so.1 could not be loaded: %s", dlerror());
            __atomic_store_n(&g_cuda_state, -1, __ATOMIC_RELEASE);
        }
    }
    pthread_mutex_unlock(&g_load_mu);
    return g_cuda_state > 0 ? 0 : -1;
}

int tessera_cuda_load(void) { return cuda_load(0); }

int tessera_nvml_load(void) {
    int state = __atomic_load_n(&g_nvml_state, __ATOMIC_ACQUIRE);
    if (state != 0) return state > 0 ? 0 : -1;
    pthread_mutex_lock(&g_load_mu);
    if (g_nvml_state == 0) {
        tessera_resolve_real_dlsym();
        if (tessera_real_dlsym && load_library("libnvidia-ml.so.1", 0, &g_nvml_handle) == 0) {
            resolve(g_nvml_handle, g_nvml_hooks, COUNT(g_nvml_hooks), g_nvml_used, COUNT(g_nvml_used));
            __atomic_store_n(&g_nvml_state, 1, __ATOMIC_RELEASE);
        } else {
            __atomic_store_n(&g_nvml_state, -1, __ATOMIC_RELEASE);
        }
    }
    pthread_mutex_unlock(&g_load_mu);
    return g_nvml_state > 0 ? 0 : -1;
}

static hook_t *hook_by_name(hook_t *hooks, size_t n, const char *name) {
    for (size_t i = 0; i < n; i++)
        if (strcmp(hooks[i].name, name) == 0) return &hooks[i];
    return NULL;
}

/*
 * Which variant a runtime gets for a base name, used only when the driver
 * answers with an address that is not one of its exported symbols (then
 * dladdr cannot name it). Versions are the CUDA releases that introduced
 * each ABI: asking with an older version must not yield a newer signature.
 */
static const char *variant_for(const char *base, int version, cuuint64_t flags) {
    static const struct {
        const char *base, *variant;
        int since;
    } versioned[] = {
        {"cuMemAlloc", "cuMemAlloc_v2", 3020},         {"cuMemAllocPitch", "cuMemAllocPitch_v2", 3020},
        {"cuMemFree", "cuMemFree_v2", 3020},           {"cuMemGetInfo", "cuMemGetInfo_v2", 3020},
        {"cuDeviceTotalMem", "cuDeviceTotalMem_v2", 3020}, {"cuArrayCreate", "cuArrayCreate_v2", 3020},
        {"cuArray3DCreate", "cuArray3DCreate_v2", 3020}, {"cuGetProcAddress", "cuGetProcAddress_v2", 12000},
    };
    for (size_t i = 0; i < COUNT(versioned); i++)
        if (strcmp(base, versioned[i].base) == 0) {
            if (version >= versioned[i].since) return versioned[i].variant;
            return strcmp(base, "cuGetProcAddress") == 0 ? base : NULL;
        }
    static const char *const per_thread[] = {"cuLaunchKernel", "cuLaunchKernelEx", "cuLaunchCooperativeKernel",
                                             "cuGraphLaunch", "cuMemAllocAsync", "cuMemAllocFromPoolAsync",
                                             "cuMemFreeAsync"};
    if (flags & CU_GET_PROC_ADDRESS_PER_THREAD_DEFAULT_STREAM)
        for (size_t i = 0; i < COUNT(per_thread); i++)
            if (strcmp(base, per_thread[i]) == 0) {
                static __thread char buf[64];
                size_t n = strlen(base);
                memcpy(buf, base, n);
                memcpy(buf + n, "_ptsz", 6);
                return buf;
            }
    return base;
}

void *tessera_swap_for_wrapper(void *fn, const char *name_hint, int cuda_version, cuuint64_t flags) {
    if (!fn) return fn;
    int is_nvml = name_hint && strncmp(name_hint, "nvml", 4) == 0;
    hook_t *hooks = is_nvml ? g_nvml_hooks : g_cuda_hooks;
    size_t n = is_nvml ? COUNT(g_nvml_hooks) : COUNT(g_cuda_hooks);
    if (is_nvml ? tessera_nvml_load() != 0 : cuda_load(1) != 0) return fn;
    for (size_t i = 0; i < n; i++)
        if (*hooks[i].real == fn) return hooks[i].wrapper;
    for (size_t i = 0; i < n; i++)
        if (hooks[i].wrapper == fn) return fn; /* already ours */
    Dl_info info;
    if (!dladdr(fn, &info)) return fn;
    if (info.dli_saddr == fn && info.dli_sname) {
        hook_t *h = hook_by_name(hooks, n, info.dli_sname);
        if (h) {
            if (!*h->real) *h->real = fn;
            return h->wrapper;
        }
        return fn; /* an exported function we do not wrap: passed through untouched */
    }
    /* An internal driver address: decide by the driver's naming rules. */
    if (is_nvml || !name_hint || info.dli_fbase != g_cuda_base) return fn;
    const char *variant = variant_for(name_hint, cuda_version, flags);
    hook_t *h = variant ? hook_by_name(hooks, n, variant) : NULL;
    if (!h) return fn;
    if (!*h->real) *h->real = fn;
    TLOG(TLOG_DEBUG, "%s (CUDA %d) resolved to internal address %p, wrapped as %s", name_hint, cuda_version, fn,
         variant);
    return h->wrapper;
}
