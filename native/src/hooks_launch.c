/* Kernel launches of every kind pass the compute limiter: plain, extensible, cooperative and graph launches. */
#include "driver.h"
#include "limiter.h"
#include "tessera.h"

#define REQUIRE_REAL(fn)                                                           \
    do {                                                                           \
        if (tessera_cuda_load() != 0 || !real_##fn) return CUDA_ERROR_NOT_INITIALIZED; \
        tessera_init();                                                            \
    } while (0)

/* The per-thread variants interpret stream 0 as the calling thread's default stream. */
#define PTDS_STREAM(s) ((s) ? (s) : CU_STREAM_PER_THREAD)
#define LEGACY_STREAM(s) (s)

#define GATED(stream, call)                            \
    do {                                               \
        launch_ticket_t ticket;                        \
        tessera_launch_begin((stream), &ticket);       \
        CUresult result = (call);                      \
        tessera_launch_end((stream), &ticket, result); \
        return result;                                 \
    } while (0)

#define LAUNCH_WRAPPERS(suffix, STREAM)                                                                          \
    TESSERA_EXPORT CUresult cuLaunchKernel##suffix(CUfunction f, unsigned gx, unsigned gy, unsigned gz, unsigned bx, \
                                                   unsigned by, unsigned bz, unsigned shmem, CUstream stream,       \
                                                   void **params, void **extra) {                                   \
        REQUIRE_REAL(cuLaunchKernel##suffix);                                                                     \
        GATED(STREAM(stream), real_cuLaunchKernel##suffix(f, gx, gy, gz, bx, by, bz, shmem, stream, params, extra)); \
    }                                                                                                             \
    TESSERA_EXPORT CUresult cuLaunchKernelEx##suffix(const CUlaunchConfig *config, CUfunction f, void **params,    \
                                                     void **extra) {                                              \
        REQUIRE_REAL(cuLaunchKernelEx##suffix);                                                                   \
        GATED(STREAM(config ? config->hStream : NULL), real_cuLaunchKernelEx##suffix(config, f, params, extra));  \
    }                                                                                                             \
    TESSERA_EXPORT CUresult cuLaunchCooperativeKernel##suffix(CUfunction f, unsigned gx, unsigned gy, unsigned gz,  \
                                                              unsigned bx, unsigned by, unsigned bz, unsigned shmem, \
                                                              CUstream stream, void **params) {                   \
        REQUIRE_REAL(cuLaunchCooperativeKernel##suffix);                                                          \
        GATED(STREAM(stream), real_cuLaunchCooperativeKernel##suffix(f, gx, gy, gz, bx, by, bz, shmem, stream, params)); \
    }                                                                                                             \
    TESSERA_EXPORT CUresult cuGraphLaunch##suffix(CUgraphExec exec, CUstream stream) {                             \
        REQUIRE_REAL(cuGraphLaunch##suffix);                                                                      \
        GATED(STREAM(stream), real_cuGraphLaunch##suffix(exec, stream));                                          \
    }

LAUNCH_WRAPPERS(, LEGACY_STREAM)
LAUNCH_WRAPPERS(_ptsz, PTDS_STREAM)
