/*
 * Limits change while the container runs, and cannot be raised from inside it.
 *   t_live region   no limits file: a monitor rewrites the region's limit
 *   t_live file     the node agent rewrites the read-only limits file; the
 *                   process's own CUDA_DEVICE_MEMORY_LIMIT=1g and writes to the
 *                   region are ignored
 *   t_live merge    a first process without limits (an SSH session, say) created
 *                   the region: a later process with limits still sets them (HAMi #2125)
 */
#include <fcntl.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/wait.h>
#include <unistd.h>

#include "common.h"

static char g_region_path[4096];

static uint64_t *region_limit0(void) {
    int fd = open(g_region_path, O_RDWR);
    CHECK(fd >= 0, "open the region file");
    void *m = mmap(NULL, 1 << 21, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0);
    close(fd);
    CHECK(m != MAP_FAILED, "map the region file");
    return (uint64_t *)((char *)m + 1600); /* limit[0], as HAMi's monitor writes it */
}

static char g_cache_line[4200];

static void write_limits(const char *path, const char *content) {
    /* Written aside and renamed into place, as an agent updating a mounted directory would. */
    char tmp[4096];
    snprintf(tmp, sizeof tmp, "%s.new", path);
    FILE *f = fopen(tmp, "w");
    CHECK(f, "write %s", tmp);
    fputs(g_cache_line, f);
    fputs(content, f);
    fclose(f);
    CHECK(rename(tmp, path) == 0, "rename limits file");
}

static double duty_for(CUfunction f, double seconds) {
    uint64_t launches = 0, start = now_ns(), end = start + (uint64_t)(seconds * 1e9);
    while (now_ns() < end) {
        CHECK_CU(CUDA_SUCCESS, api.cuLaunchKernel(f, 1, 1, 1, 1, 1, 1, 0, NULL, NULL, NULL));
        launches++;
    }
    CHECK_CU(CUDA_SUCCESS, api.cuCtxSynchronize());
    return 100.0 * (double)launches * 500e3 / (double)(now_ns() - start);
}

int main(int argc, char **argv) {
    CHECK(argc == 2, "usage: t_live <region|file|merge>");
    if (strcmp(argv[1], "merge") == 0) {
        pid_t child = fork();
        CHECK(child >= 0, "fork");
        if (child == 0) { /* before any CUDA call of the parent: the child creates the region */
            unsetenv("CUDA_DEVICE_MEMORY_LIMIT");
            api_load("direct");
            api_setup();
            CUdeviceptr p;
            _exit(api.cuMemAlloc(&p, 128 * MIB) == CUDA_SUCCESS ? 0 : 1);
        }
        int status;
        CHECK(waitpid(child, &status, 0) == child && WIFEXITED(status) && WEXITSTATUS(status) == 0,
              "the unconfigured process allocates freely");
        api_load("direct");
        api_setup();
        CUdeviceptr a;
        CHECK_CU(CUDA_ERROR_OUT_OF_MEMORY, api.cuMemAlloc(&a, 65 * MIB));
        CHECK_CU(CUDA_SUCCESS, api.cuMemAlloc(&a, 64 * MIB));
        OK("a region created without limits takes the limits of the first process that has them");
        return 0;
    }
    int file_mode = strcmp(argv[1], "file") == 0;
    char path[4096];
    snprintf(g_region_path, sizeof g_region_path, "%s", getenv("CUDA_DEVICE_MEMORY_SHARED_CACHE"));
    if (file_mode) {
        snprintf(path, sizeof path, "%s/limits", getenv("TESSERA_TMP"));
        /* With a limits file, the region's path comes from it too: the environment is not trusted. */
        snprintf(g_cache_line, sizeof g_cache_line, "CUDA_DEVICE_MEMORY_SHARED_CACHE=%s\n",
                 getenv("CUDA_DEVICE_MEMORY_SHARED_CACHE"));
        write_limits(path, "# written by the node agent\nCUDA_DEVICE_MEMORY_LIMIT=64m\nCUDA_DEVICE_SM_LIMIT=50\n"
                           "GPU_CORE_UTILIZATION_POLICY=force\n");
        setenv("TESSERA_LIMITS_FILE", path, 1);
        setenv("CUDA_DEVICE_MEMORY_LIMIT", "1g", 1); /* what a process inside the container would try */
        char decoy[4096];
        snprintf(decoy, sizeof decoy, "%s.private", getenv("CUDA_DEVICE_MEMORY_SHARED_CACHE"));
        setenv("CUDA_DEVICE_MEMORY_SHARED_CACHE", decoy, 1); /* and a private region to escape shared accounting */
    }
    api_load("procaddr");
    api_setup();
    CUdeviceptr a, b;
    CHECK_CU(CUDA_SUCCESS, api.cuMemAlloc(&a, 48 * MIB));
    CHECK_CU(CUDA_ERROR_OUT_OF_MEMORY, api.cuMemAlloc(&b, 32 * MIB));
    uint64_t *limit0 = region_limit0();
    CHECK(*limit0 == 64 * MIB, "the region shows the 64 MiB limit (got %llu)", (unsigned long long)*limit0);
    if (!file_mode) {
        *limit0 = 128 * MIB;
        CHECK_CU(CUDA_SUCCESS, api.cuMemAlloc(&b, 32 * MIB));
        OK("a limit raised in the region applies to the next allocation");
        return 0;
    }
    OK("with a limits file, the process's own CUDA_DEVICE_MEMORY_LIMIT is ignored");
    *limit0 = 0; /* a hostile process clearing the limit in the writable region */
    CHECK_CU(CUDA_ERROR_OUT_OF_MEMORY, api.cuMemAlloc(&b, 32 * MIB));
    OK("writing the region cannot raise a limit that the limits file sets");
    write_limits(path, "CUDA_DEVICE_MEMORY_LIMIT=128m\nCUDA_DEVICE_SM_LIMIT=50\nGPU_CORE_UTILIZATION_POLICY=force\n");
    CHECK_CU(CUDA_SUCCESS, api.cuMemAlloc(&b, 32 * MIB));
    CHECK(*limit0 == 128 * MIB, "the region mirrors the new limit (got %llu)", (unsigned long long)*limit0);
    OK("a rewritten limits file applies to the next allocation");

    CUfunction f = api_kernel(500);
    duty_for(f, 0.2);
    double before = duty_for(f, 0.8);
    write_limits(path, "CUDA_DEVICE_MEMORY_LIMIT=128m\nCUDA_DEVICE_SM_LIMIT=20\nGPU_CORE_UTILIZATION_POLICY=force\n");
    duty_for(f, 0.2);
    double after = duty_for(f, 0.8);
    printf("duty %.1f%% at 50%%, then %.1f%% at 20%%\n", before, after);
    CHECK(before > 45 && before < 55 && after > 15 && after < 25, "live compute share change: %.1f%% then %.1f%%",
          before, after);
    OK("a compute share changed in the limits file applies while kernels run");
    return 0;
}
