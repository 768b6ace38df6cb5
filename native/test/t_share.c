/*
 * Containers sharing one simulated GPU (one device timeline, one device
 * board, separate accounting regions), each a t_limiter worker:
 *   fair      two containers at CUDA_DEVICE_SM_LIMIT=50 each get about half
 *   priority  a CUDA_TASK_PRIORITY=0 container keeps the GPU against an
 *             unthrottled priority-1 one that was there first
 *   sequential a container at 50% starts after another one at 50% exited
 *             mid-batch: what the first left on the device board must not
 *             change what the second gets
 */
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include "common.h"

typedef struct {
    const char *suffix, *priority, *sm_limit, *expect, *seconds;
    unsigned delay_ms;
} worker_t;

static pid_t spawn(const char *self_dir, const worker_t *w) {
    pid_t pid = fork();
    CHECK(pid >= 0, "fork");
    if (pid) return pid;
    usleep(w->delay_ms * 1000);
    char cache[4096];
    snprintf(cache, sizeof cache, "%s.%s", getenv("CUDA_DEVICE_MEMORY_SHARED_CACHE"), w->suffix);
    setenv("CUDA_DEVICE_MEMORY_SHARED_CACHE", cache, 1); /* each worker is its own container */
    setenv("CUDA_TASK_PRIORITY", w->priority, 1);
    setenv("CUDA_DEVICE_SM_LIMIT", w->sm_limit, 1);
    setenv("GPU_CORE_UTILIZATION_POLICY", "force", 1);
    char path[4096];
    snprintf(path, sizeof path, "%s/t_limiter", self_dir);
    execl(path, path, "kernel", w->expect, w->seconds, "500", (char *)NULL);
    _exit(127);
}

int main(int argc, char **argv) {
    CHECK(argc == 2, "usage: t_share <fair|priority|sequential>");
    CHECK(getenv("CUDA_DEVICE_MEMORY_SHARED_CACHE") && getenv("FAKE_GPU_STATE") && getenv("TESSERA_BOARD_DIR"),
          "needs CUDA_DEVICE_MEMORY_SHARED_CACHE, FAKE_GPU_STATE and TESSERA_BOARD_DIR");
    char dir[4096];
    snprintf(dir, sizeof dir, "%s", argv[0]);
    char *slash = strrchr(dir, '/');
    if (slash) *slash = '\0';
    else snprintf(dir, sizeof dir, ".");
    worker_t workers[2];
    if (strcmp(argv[1], "fair") == 0) {
        workers[0] = (worker_t){"a", "1", "50", "50~7", "1.5", 0};
        workers[1] = (worker_t){"b", "1", "50", "50~7", "1.5", 0};
    } else if (strcmp(argv[1], "priority") == 0) {
        workers[0] = (worker_t){"low", "1", "0", "any", "2.0", 0};
        workers[1] = (worker_t){"high", "0", "0", ">=90", "1.0", 300};
    } else if (strcmp(argv[1], "sequential") == 0) {
        workers[0] = (worker_t){"first", "1", "50", "50", "0.5", 0};
        workers[1] = (worker_t){"second", "1", "50", "50", "1.0", 0};
    } else {
        CHECK(0, "unknown scenario '%s'", argv[1]);
    }
    int sequential = strcmp(argv[1], "sequential") == 0;
    pid_t pids[2] = {spawn(dir, &workers[0]), 0};
    int failed = 0;
    for (int i = 0; i < 2; i++) {
        int status;
        if (i == 1 || !sequential) pids[1] = pids[1] ? pids[1] : spawn(dir, &workers[1]);
        CHECK(waitpid(pids[i], &status, 0) == pids[i], "waitpid");
        if (!WIFEXITED(status) || WEXITSTATUS(status) != 0) {
            fprintf(stderr, "worker %s failed (status %d)\n", workers[i].suffix, status);
            failed = 1;
        }
    }
    CHECK(!failed, "scenario %s", argv[1]);
    OK("%s: containers sharing one GPU get what their shares and priorities say", argv[1]);
    return 0;
}
