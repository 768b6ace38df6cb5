/*
 * A GPU workload for the demo (`tessera demo`), run with the enforcement library
 * preloaded on the fake driver. Prints one JSON line.
 *   workload fill <chunk MiB> [max MiB] [hold ms]   allocate chunks until refused (or max reached),
 *                                                    report, then keep the memory for hold ms
 *   workload compute <seconds> <kernel µs>           launch kernels; report the device duty cycle
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "../include/cuda_abi.h"

CUresult cuInit(unsigned int);
CUresult cuDevicePrimaryCtxRetain(CUcontext *, CUdevice);
CUresult cuCtxSetCurrent(CUcontext);
CUresult cuCtxSynchronize(void);
CUresult cuMemAlloc_v2(CUdeviceptr *, size_t);
CUresult cuMemGetInfo_v2(size_t *, size_t *);
CUresult cuModuleLoadData(CUmodule *, const void *);
CUresult cuModuleGetFunction(CUfunction *, CUmodule, const char *);
CUresult cuLaunchKernel(CUfunction, unsigned, unsigned, unsigned, unsigned, unsigned, unsigned, unsigned, CUstream,
                        void **, void **);

static double now_s(void) {
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static int fail(const char *what, CUresult r) {
    printf("{\"error\": \"%s returned %d\"}\n", what, r);
    return 1;
}

static int fill(unsigned chunk_mib, unsigned max_mib, unsigned hold_ms) {
    unsigned long long held = 0;
    CUresult refused = CUDA_SUCCESS;
    while (!max_mib || held + chunk_mib <= max_mib) {
        CUdeviceptr p;
        refused = cuMemAlloc_v2(&p, (size_t)chunk_mib << 20);
        if (refused != CUDA_SUCCESS) break;
        held += chunk_mib;
    }
    size_t free_bytes = 0, total = 0;
    CUresult r = cuMemGetInfo_v2(&free_bytes, &total);
    if (r != CUDA_SUCCESS) return fail("cuMemGetInfo", r);
    printf("{\"pid\": %d, \"heldMiB\": %llu, \"refused\": %s, \"refusal\": %d, \"totalMiB\": %zu, \"freeMiB\": %zu}\n",
           (int)getpid(), held, refused == CUDA_SUCCESS ? "false" : "true", refused, total >> 20, free_bytes >> 20);
    fflush(stdout);
    usleep(hold_ms * 1000);
    return 0;
}

static int compute(double seconds, unsigned kernel_us) {
    CUmodule mod;
    CUfunction f;
    char name[32];
    snprintf(name, sizeof name, "spin_%uus", kernel_us);
    if (cuModuleLoadData(&mod, "demo") != CUDA_SUCCESS || cuModuleGetFunction(&f, mod, name) != CUDA_SUCCESS)
        return fail("cuModuleGetFunction", CUDA_ERROR_NOT_FOUND);
    double warm = now_s() + 0.2;
    while (now_s() < warm) cuLaunchKernel(f, 1, 1, 1, 1, 1, 1, 0, NULL, NULL, NULL);
    cuCtxSynchronize();
    unsigned long long launches = 0;
    double start = now_s();
    while (now_s() < start + seconds) {
        CUresult r = cuLaunchKernel(f, 1, 1, 1, 1, 1, 1, 0, NULL, NULL, NULL);
        if (r != CUDA_SUCCESS) return fail("cuLaunchKernel", r);
        launches++;
    }
    cuCtxSynchronize();
    double elapsed = now_s() - start;
    printf("{\"pid\": %d, \"launches\": %llu, \"seconds\": %.3f, \"dutyPercent\": %.2f}\n", (int)getpid(), launches,
           elapsed, 100.0 * (double)launches * kernel_us / 1e6 / elapsed);
    return 0;
}

int main(int argc, char **argv) {
    CUcontext ctx;
    CUresult r;
    if ((r = cuInit(0)) != CUDA_SUCCESS) return fail("cuInit", r);
    if ((r = cuDevicePrimaryCtxRetain(&ctx, 0)) != CUDA_SUCCESS) return fail("cuDevicePrimaryCtxRetain", r);
    if ((r = cuCtxSetCurrent(ctx)) != CUDA_SUCCESS) return fail("cuCtxSetCurrent", r);
    if (argc >= 3 && strcmp(argv[1], "fill") == 0)
        return fill((unsigned)atoi(argv[2]), argc > 3 ? (unsigned)atoi(argv[3]) : 0, argc > 4 ? (unsigned)atoi(argv[4]) : 0);
    if (argc == 4 && strcmp(argv[1], "compute") == 0) return compute(atof(argv[2]), (unsigned)atoi(argv[3]));
    fprintf(stderr, "usage: workload fill <chunk MiB> [max MiB] [hold ms] | compute <seconds> <kernel us>\n");
    return 2;
}
