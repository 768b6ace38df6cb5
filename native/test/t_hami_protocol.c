/*
 * HAMi's activity protocol through the region, which HAMi's vGPU monitor (and
 * Tessera's node agent) use to arbitrate priorities: launches publish activity
 * (recent_kernel = 2, last_kernel_time), and a container the monitor marks
 * blocked (recent_kernel < 0) launches nothing until it is unblocked, even with
 * no compute share set.
 */
#include <fcntl.h>
#include <pthread.h>
#include <sys/mman.h>
#include <time.h>
#include <unistd.h>

#include "common.h"

static char *g_region;

static void *unblock_later(void *arg) {
    (void)arg;
    usleep(300000);
    __atomic_store_n((int32_t *)(g_region + 2008904), 0, __ATOMIC_RELEASE);
    return NULL;
}

int main(void) {
    api_load("direct");
    api_setup();
    CUfunction f = api_kernel(10);
    CHECK_CU(CUDA_SUCCESS, api.cuLaunchKernel(f, 1, 1, 1, 1, 1, 1, 0, NULL, NULL, NULL));
    int fd = open(getenv("CUDA_DEVICE_MEMORY_SHARED_CACHE"), O_RDWR);
    CHECK(fd >= 0, "open the region");
    g_region = mmap(NULL, 2008953, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0);
    close(fd);
    CHECK(g_region != MAP_FAILED, "map the region");
    int32_t *recent_kernel = (int32_t *)(g_region + 2008904);
    uint64_t *last_kernel_time = (uint64_t *)(g_region + 2008912);
    /* The monitor decays activity; the next launch after the (1 s) publishing interval restores it. */
    *recent_kernel = 0;
    *last_kernel_time = 0;
    usleep(1100000);
    CHECK_CU(CUDA_SUCCESS, api.cuLaunchKernel(f, 1, 1, 1, 1, 1, 1, 0, NULL, NULL, NULL));
    CHECK(*recent_kernel == 2, "activity published: recent_kernel %d", *recent_kernel);
    CHECK(*last_kernel_time + 5 >= (uint64_t)time(NULL), "last_kernel_time %llu is recent",
          (unsigned long long)*last_kernel_time);
    OK("launches publish activity in the region");

    *recent_kernel = -1; /* what the monitor does to a low-priority container */
    pthread_t t;
    CHECK(pthread_create(&t, NULL, unblock_later, NULL) == 0, "thread");
    uint64_t start = now_ns();
    CHECK_CU(CUDA_SUCCESS, api.cuLaunchKernel(f, 1, 1, 1, 1, 1, 1, 0, NULL, NULL, NULL));
    double waited_ms = (double)(now_ns() - start) / 1e6;
    pthread_join(t, NULL);
    CHECK(waited_ms >= 250, "a blocked container's launch returned after %.0f ms, before it was unblocked", waited_ms);
    OK("a container marked blocked waits (%.0f ms) until the monitor unblocks it", waited_ms);
    return 0;
}
