/*
 * Processes of one container share one limit through the accounting region,
 * and the memory of a process that dies, even by SIGKILL, is reclaimed.
 * Run with CUDA_DEVICE_MEMORY_LIMIT=64m.
 */
#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include "common.h"

static int wait_child(pid_t pid) {
    int status;
    CHECK(waitpid(pid, &status, 0) == pid, "waitpid");
    return WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status);
}

int main(void) {
    api_load("direct");
    api_setup();
    CUdeviceptr mine, other;
    CHECK_CU(CUDA_SUCCESS, api.cuMemAlloc(&mine, 16 * MIB));

    pid_t child = fork();
    CHECK(child >= 0, "fork");
    if (child == 0) {
        CUdeviceptr p, q;
        if (api.cuMemAlloc(&p, 32 * MIB) != CUDA_SUCCESS) _exit(10); /* 16 + 32 fit */
        if (api.cuMemAlloc(&q, 32 * MIB) != CUDA_ERROR_OUT_OF_MEMORY) _exit(11); /* 16 + 32 + 32 do not */
        exit(0); /* leaves its 32 MiB allocated: exiting returns them */
    }
    CHECK(wait_child(child) == 0, "the child must see the parent's 16 MiB in the shared limit");
    CHECK_CU(CUDA_SUCCESS, api.cuMemAlloc(&other, 48 * MIB));
    CHECK_CU(CUDA_SUCCESS, api.cuMemFree(other));
    OK("forked processes share one limit; an exiting process's memory returns");

    int ready[2];
    CHECK(pipe(ready) == 0, "pipe");
    child = fork();
    CHECK(child >= 0, "fork");
    if (child == 0) {
        CUdeviceptr p;
        char c = api.cuMemAlloc(&p, 48 * MIB) == CUDA_SUCCESS ? 'y' : 'n';
        if (write(ready[1], &c, 1) != 1) _exit(2);
        pause();
        _exit(0);
    }
    char c = 0;
    CHECK(read(ready[0], &c, 1) == 1 && c == 'y', "the second child allocates 48 MiB");
    CHECK_CU(CUDA_ERROR_OUT_OF_MEMORY, api.cuMemAlloc(&other, 16 * MIB));
    kill(child, SIGKILL);
    /* Not reaped yet (a zombie): its slot is reclaimed all the same. */
    usleep(50000);
    CHECK_CU(CUDA_SUCCESS, api.cuMemAlloc(&other, 48 * MIB));
    CHECK(wait_child(child) == 128 + SIGKILL, "the child was killed");
    OK("a killed process's memory returns to the container");
    CHECK_CU(CUDA_SUCCESS, api.cuMemFree(other));
    CHECK_CU(CUDA_SUCCESS, api.cuMemFree(mine));
    return 0;
}
