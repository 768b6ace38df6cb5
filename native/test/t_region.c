/*
 * The accounting region is HAMi-core's v1.2 layout, so HAMi's vGPU monitor and
 * Tessera's node agent read it at the same offsets. Run with
 * CUDA_DEVICE_MEMORY_LIMIT=64m CUDA_DEVICE_SM_LIMIT=30.
 */
#include <fcntl.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "common.h"

#define AT(type, off) (*(const type *)(buf + (off)))

int main(void) {
    api_load("direct");
    api_setup();
    CUdeviceptr p;
    CHECK_CU(CUDA_SUCCESS, api.cuMemAlloc(&p, 24 * MIB));

    const char *path = getenv("CUDA_DEVICE_MEMORY_SHARED_CACHE");
    struct stat st;
    CHECK(stat(path, &st) == 0 && st.st_size == 2008953, "region file size %lld, HAMi's is 2008953",
          (long long)st.st_size);
    char *buf = malloc((size_t)st.st_size);
    int fd = open(path, O_RDONLY);
    CHECK(fd >= 0 && read(fd, buf, (size_t)st.st_size) == st.st_size, "read the region");
    close(fd);
    CHECK(AT(int32_t, 0) == 19920718, "magic");
    CHECK(AT(uint32_t, 4) == 1 && AT(uint32_t, 8) == 2, "version 1.2");
    CHECK(AT(uint64_t, 1600) == 64 * MIB, "limit[0] at 1600: %llu", (unsigned long long)AT(uint64_t, 1600));
    CHECK(AT(uint64_t, 1728) == 30, "sm_limit[0] at 1728: %llu", (unsigned long long)AT(uint64_t, 1728));
    CHECK(strcmp(buf + 64, "GPU-fa4e0000-0000-0000-0000-000000000000") == 0, "uuids[0] at 64: '%s'", buf + 64);
    CHECK(AT(uint64_t, 56) >= 1, "device_num");
    int procs = AT(int32_t, 2008896), found = 0;
    for (int i = 0; i < procs; i++) {
        size_t slot = 1856 + (size_t)i * 1960;
        if (AT(int32_t, slot) != getpid()) continue;
        found = 1;
        CHECK(AT(uint64_t, slot + 8 + 32) == 24 * MIB, "used[0].total: %llu", (unsigned long long)AT(uint64_t, slot + 40));
        CHECK(AT(uint64_t, slot + 8 + 16) == 24 * MIB, "used[0].data_size");
        CHECK(AT(int32_t, slot + 1928) == 1, "status running");
        CHECK(AT(uint64_t, slot + 1936) % 2 == 0, "seqlock even between updates");
    }
    CHECK(found, "this process has a slot among %d", procs);
    CHECK(AT(int32_t, 2008900) == 1, "utilization_switch");
    CHECK(AT(int32_t, 2008908) == 1, "priority (default 1)");
    free(buf);
    OK("the region matches HAMi-core's v1.2 layout field for field");
    CHECK_CU(CUDA_SUCCESS, api.cuMemFree(p));
    return 0;
}
