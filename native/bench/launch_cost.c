/*
 * What one kernel launch costs on the host, through the fake driver: run with and without the
 * library preloaded, the difference is the library's own cost per launch. The fake driver's
 * launch is far cheaper than a real one (~2-4 µs on an H200), so the difference stands out.
 *   launch_cost <launches> <repeats>   prints {"nsPerLaunch": best of the repeats}
 */
#include <dlfcn.h>
#include <stdio.h>
#include <stdlib.h>
#include <time.h>

#include "../include/cuda_abi.h"

typedef CUresult (*launch_fn)(CUfunction, unsigned, unsigned, unsigned, unsigned, unsigned, unsigned, unsigned,
                              CUstream, void **, void **);

static double now_ns(void) {
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec * 1e9 + (double)ts.tv_nsec;
}

int main(int argc, char **argv) {
    long launches = argc > 1 ? atol(argv[1]) : 2000000, repeats = argc > 2 ? atol(argv[2]) : 5;
    void *cuda = dlopen("libcuda.so.1", RTLD_NOW);
    if (!cuda) return 2;
    /* The way the CUDA runtime finds the driver: cuGetProcAddress_v2, obtained through dlsym. */
    CUresult (*get)(const char *, void **, int, cuuint64_t, CUdriverProcAddressQueryResult *) =
        (CUresult(*)(const char *, void **, int, cuuint64_t, CUdriverProcAddressQueryResult *))dlsym(
            cuda, "cuGetProcAddress_v2");
    CUresult (*init)(unsigned) = (CUresult(*)(unsigned))dlsym(cuda, "cuInit");
    CUresult (*retain)(CUcontext *, CUdevice) = (CUresult(*)(CUcontext *, CUdevice))dlsym(cuda, "cuDevicePrimaryCtxRetain");
    CUresult (*set)(CUcontext) = (CUresult(*)(CUcontext))dlsym(cuda, "cuCtxSetCurrent");
    CUresult (*load)(CUmodule *, const void *) = (CUresult(*)(CUmodule *, const void *))dlsym(cuda, "cuModuleLoadData");
    CUresult (*function)(CUfunction *, CUmodule, const char *) =
        (CUresult(*)(CUfunction *, CUmodule, const char *))dlsym(cuda, "cuModuleGetFunction");
    launch_fn launch = NULL;
    CUcontext ctx;
    CUmodule mod;
    CUfunction f;
    if (!get || get("cuLaunchKernel", (void **)&launch, 13000, 0, NULL) != CUDA_SUCCESS || init(0) ||
        retain(&ctx, 0) || set(ctx) || load(&mod, "bench") || function(&f, mod, "spin_0us"))
        return 3;
    double best = 1e30;
    for (long r = 0; r < repeats; r++) {
        double t0 = now_ns();
        for (long i = 0; i < launches; i++) launch(f, 1, 1, 1, 1, 1, 1, 0, NULL, NULL, NULL);
        double per = (now_ns() - t0) / (double)launches;
        if (per < best) best = per;
    }
    printf("{\"nsPerLaunch\": %.2f}\n", best);
    return 0;
}
