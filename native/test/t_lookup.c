/*
 * Symbol lookup keeps the driver's version rules: each (name, CUDA version,
 * flags) gets the variant the driver would give, wrapped if we wrap it,
 * untouched if we do not. Also with a driver that hands out internal
 * (unexported) addresses, with FAKE_PROCADDR_INTERNAL=1.
 */
#include <dlfcn.h>
#include <string.h>

#include "common.h"

typedef CUresult (*getproc_fn)(const char *, void **, int, cuuint64_t, CUdriverProcAddressQueryResult *);

static const char *name_of(void *fn) {
    Dl_info info;
    return fn && dladdr(fn, &info) && info.dli_saddr == fn && info.dli_sname ? info.dli_sname : "?";
}

int main(void) {
    void *lib = dlopen("libcuda.so.1", RTLD_NOW);
    CHECK(lib, "dlopen libcuda.so.1");
    getproc_fn get = (getproc_fn)dlsym(lib, "cuGetProcAddress_v2");
    CHECK(in_tessera((void *)get), "dlsym(libcuda, cuGetProcAddress_v2) must give our wrapper");
    int internal = getenv("FAKE_PROCADDR_INTERNAL") != NULL;

    struct {
        const char *base;
        int version;
        cuuint64_t flags;
        const char *want; /* wrapper name, or NULL: must be the driver's own function */
    } cases[] = {
        {"cuMemAlloc", 13000, 0, "cuMemAlloc_v2"},
        {"cuMemAlloc", 3020, 0, "cuMemAlloc_v2"},
        {"cuMemAlloc", 3000, 0, NULL}, /* the 32-bit ABI: never our 64-bit wrapper */
        {"cuMemGetInfo", 12000, 0, "cuMemGetInfo_v2"},
        {"cuLaunchKernel", 13000, 0, "cuLaunchKernel"},
        {"cuLaunchKernel", 13000, CU_GET_PROC_ADDRESS_PER_THREAD_DEFAULT_STREAM, "cuLaunchKernel_ptsz"},
        {"cuGraphLaunch", 12000, CU_GET_PROC_ADDRESS_PER_THREAD_DEFAULT_STREAM, "cuGraphLaunch_ptsz"},
        {"cuMemAllocAsync", 11020, CU_GET_PROC_ADDRESS_PER_THREAD_DEFAULT_STREAM, "cuMemAllocAsync_ptsz"},
        {"cuGetProcAddress", 13000, 0, "cuGetProcAddress_v2"},
        {"cuGetProcAddress", 11030, 0, "cuGetProcAddress"},
        {"cuDeviceGetName", 13000, 0, NULL},
        {"cuCtxSynchronize", 13000, 0, NULL},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        void *fn = NULL;
        CUdriverProcAddressQueryResult status;
        CHECK_CU(CUDA_SUCCESS, get(cases[i].base, &fn, cases[i].version, cases[i].flags, &status));
        if (cases[i].want) {
            CHECK(in_tessera(fn) && strcmp(name_of(fn), cases[i].want) == 0, "%s@%d flags %llu: got %s, want wrapper %s",
                  cases[i].base, cases[i].version, cases[i].flags, name_of(fn), cases[i].want);
        } else {
            CHECK(!in_tessera(fn), "%s@%d must reach the driver untouched, got our %s", cases[i].base,
                  cases[i].version, name_of(fn));
        }
    }
    OK("cuGetProcAddress_v2 follows the driver's version and per-thread-stream rules%s",
       internal ? " (driver handing out internal addresses)" : "");

    /* A lookup made through the pointer cuGetProcAddress handed back is intercepted too. */
    getproc_fn again = NULL;
    CHECK_CU(CUDA_SUCCESS, get("cuGetProcAddress", (void **)&again, 13000, 0, NULL));
    void *fn = NULL;
    CHECK_CU(CUDA_SUCCESS, again("cuMemFree", &fn, 13000, 0, NULL));
    CHECK(in_tessera(fn), "cuMemFree through a re-obtained cuGetProcAddress");
    /* Unknown symbols fail as the driver says. */
    CHECK(get("cuNoSuchFunction", &fn, 13000, 0, NULL) != CUDA_SUCCESS, "an unknown symbol must fail");
    OK("lookups through a re-obtained cuGetProcAddress are intercepted; unknown symbols fail as before");

    /* dlsym of names we do not wrap, and of non-CUDA names, is untouched. */
    CHECK(!in_tessera(dlsym(lib, "cuDeviceGetName")), "dlsym of an unwrapped driver function");
    CHECK(dlsym(RTLD_DEFAULT, "printf") == (void *)printf, "dlsym(RTLD_DEFAULT, printf)");
    OK("dlsym passes every other lookup through");
    return 0;
}
