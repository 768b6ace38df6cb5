/*
 * How runtimes find driver functions, and how we make them find ours:
 *  - direct calls bind to our exported wrappers (we are preloaded first);
 *  - dlopen("libcuda.so.1") + dlsym: our exported dlsym swaps the driver's
 *    answer for our wrapper;
 *  - cuGetProcAddress(_v2), itself obtained through dlsym: the driver resolves
 *    (name, CUDA version, flags) and we swap its answer.
 * Swapping the driver's own answer keeps every version rule the driver has;
 * functions we do not wrap come back untouched.
 */
#include <dlfcn.h>
#include <string.h>

#include "driver.h"
#include "tessera.h"

/* Set while this library itself is loading libraries: their constructors may call dlsym. */
static __thread int t_inside;

/* Called by the dlsym entry point (dlsym_entry.S) for every handle but RTLD_NEXT. */
__attribute__((visibility("hidden"), no_sanitize_address)) void *tessera_dlsym_hook(void *handle, const char *name) {
    if (!tessera_real_dlsym) tessera_resolve_real_dlsym();
    void *fn = tessera_real_dlsym(handle, name);
    if (!fn || !name || t_inside) return fn;
    int cuda = name[0] == 'c' && name[1] == 'u';
    int nvml = !cuda && strncmp(name, "nvml", 4) == 0;
    if (!cuda && !nvml) return fn;
    t_inside = 1;
    void *swapped = tessera_swap_for_wrapper(fn, name, 0, 0);
    t_inside = 0;
    return swapped;
}

/* RTLD_NEXT before the constructor ran: resolve the real dlsym, the entry point then jumps to it. */
__attribute__((visibility("hidden"), no_sanitize_address)) void tessera_dlsym_prepare(void) {
    tessera_resolve_real_dlsym();
}

static void swap_answer(const char *symbol, void **pfn, int version, cuuint64_t flags) {
    if (!pfn || !*pfn) return;
    t_inside = 1;
    *pfn = tessera_swap_for_wrapper(*pfn, symbol, version, flags);
    t_inside = 0;
}

TESSERA_EXPORT CUresult cuGetProcAddress(const char *symbol, void **pfn, int version, cuuint64_t flags) {
    if (tessera_cuda_load() != 0 || !real_cuGetProcAddress) return CUDA_ERROR_NOT_INITIALIZED;
    CUresult r = real_cuGetProcAddress(symbol, pfn, version, flags);
    if (r == CUDA_SUCCESS) swap_answer(symbol, pfn, version, flags);
    return r;
}

TESSERA_EXPORT CUresult cuGetProcAddress_v2(const char *symbol, void **pfn, int version, cuuint64_t flags,
                                            CUdriverProcAddressQueryResult *status) {
    if (tessera_cuda_load() != 0 || !real_cuGetProcAddress_v2) return CUDA_ERROR_NOT_INITIALIZED;
    CUresult r = real_cuGetProcAddress_v2(symbol, pfn, version, flags, status);
    if (r == CUDA_SUCCESS) swap_answer(symbol, pfn, version, flags);
    return r;
}
