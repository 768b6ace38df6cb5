/*
 * The compute limiter's duty cycle on the simulated device follows the share.
 *   t_limiter <launch> <expectation> [seconds] [kernel µs]
 * launch: kernel | ex | coop | graph | ptds. Prints the measured duty cycle
 * and checks it: "50" means 50 ± 4 points, "50~7" 50 ± 7, ">=90" and "<=10"
 * bounds, "any" no check.
 * TEST_STEAL=<stop ms>/<every ms>: a child process stops this one for that long,
 * about that often, while it measures, as a hypervisor taking the vCPU away does.
 */
#include <signal.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include "common.h"

typedef CUresult (*launch_fn)(CUfunction, CUstream);
static CUgraphExec g_exec;

static CUresult by_kernel(CUfunction f, CUstream s) { return api.cuLaunchKernel(f, 132, 1, 1, 256, 1, 1, 0, s, NULL, NULL); }
static CUresult by_ex(CUfunction f, CUstream s) {
    CUlaunchConfig c = {132, 1, 1, 256, 1, 1, 0, s, NULL, 0};
    return api.cuLaunchKernelEx(&c, f, NULL, NULL);
}
static CUresult by_coop(CUfunction f, CUstream s) {
    return api.cuLaunchCooperativeKernel(f, 132, 1, 1, 256, 1, 1, 0, s, NULL);
}
static CUresult by_graph(CUfunction f, CUstream s) {
    (void)f;
    return api.cuGraphLaunch(g_exec, s);
}

/* Stops the parent for `stop_ms` at pseudo-random moments, `every_ms` apart on average. */
static pid_t start_stealer(const char *spec) {
    double stop_ms = 0, every_ms = 0;
    CHECK(sscanf(spec, "%lf/%lf", &stop_ms, &every_ms) == 2 && stop_ms > 0 && every_ms > 0,
          "TEST_STEAL='%s': expected <stop ms>/<every ms>", spec);
    pid_t parent = getpid();
    pid_t child = fork();
    CHECK(child >= 0, "fork failed");
    if (child > 0) return child;
    unsigned seed = 42;
    for (;;) {
        usleep((useconds_t)(every_ms * 1000 * 2 * (rand_r(&seed) / (double)RAND_MAX)));
        if (kill(parent, SIGSTOP) != 0) _exit(0);
        usleep((useconds_t)(stop_ms * 1000));
        kill(parent, SIGCONT);
    }
}

int main(int argc, char **argv) {
    CHECK(argc >= 3, "usage: t_limiter <kernel|ex|coop|graph|ptds> <expected %%> [seconds] [kernel us]");
    const char *how = argv[1];
    const char *expect = argv[2];
    double expected = atof(expect[0] == '<' || expect[0] == '>' ? expect + 2 : expect);
    const char *tilde = strchr(expect, '~');
    double tolerance = tilde ? atof(tilde + 1) : 4;
    double seconds = argc > 3 ? atof(argv[3]) : 1.0;
    unsigned us = argc > 4 ? (unsigned)atoi(argv[4]) : 200;
    api_load(strcmp(how, "ptds") == 0 ? "ptds" : "procaddr");
    api_setup();
    CUfunction f = api_kernel(us);
    launch_fn launch = by_kernel;
    uint64_t per_launch = (uint64_t)us * 1000;
    if (strcmp(how, "ex") == 0) launch = by_ex;
    else if (strcmp(how, "coop") == 0) launch = by_coop;
    else if (strcmp(how, "graph") == 0) {
        /* A graph of four kernels: one launch runs all four. */
        CUgraph g;
        CUgraphNode node;
        CHECK_CU(CUDA_SUCCESS, api.cuGraphCreate(&g, 0));
        CUDA_KERNEL_NODE_PARAMS p;
        memset(&p, 0, sizeof p);
        p.func = f;
        for (int i = 0; i < 4; i++) CHECK_CU(CUDA_SUCCESS, api.cuGraphAddKernelNode(&node, g, NULL, 0, &p));
        CHECK_CU(CUDA_SUCCESS, api.cuGraphInstantiate(&g_exec, g, 0));
        CHECK_CU(CUDA_SUCCESS, api.cuGraphDestroy(g));
        launch = by_graph;
        per_launch *= 4;
    } else if (strcmp(how, "kernel") != 0 && strcmp(how, "ptds") != 0) {
        CHECK(0, "unknown launch kind '%s'", how);
    }
    /* Warm up, so the measured window starts in steady state. */
    uint64_t start = now_ns();
    while (now_ns() - start < 200000000ULL) CHECK_CU(CUDA_SUCCESS, launch(f, NULL));
    CHECK_CU(CUDA_SUCCESS, api.cuCtxSynchronize());
    const char *steal = getenv("TEST_STEAL");
    pid_t stealer = steal ? start_stealer(steal) : 0;
    uint64_t launches = 0;
    start = now_ns();
    uint64_t end = start + (uint64_t)(seconds * 1e9);
    while (now_ns() < end) {
        CHECK_CU(CUDA_SUCCESS, launch(f, NULL));
        launches++;
    }
    CHECK_CU(CUDA_SUCCESS, api.cuCtxSynchronize());
    double elapsed = (double)(now_ns() - start);
    if (stealer > 0) {
        kill(stealer, SIGKILL);
        waitpid(stealer, NULL, 0);
    }
    double duty = 100.0 * (double)(launches * per_launch) / elapsed;
    printf("duty %.1f%% (expected %s) over %.2f s, %llu launches via %s\n", duty, expect, elapsed / 1e9,
           (unsigned long long)launches, how);
    if (strncmp(expect, ">=", 2) == 0) CHECK(duty >= expected, "duty cycle %.1f%% is below %.0f%%", duty, expected);
    else if (strncmp(expect, "<=", 2) == 0) CHECK(duty <= expected, "duty cycle %.1f%% is above %.0f%%", duty, expected);
    else if (strcmp(expect, "any") != 0)
        CHECK(duty > expected - tolerance && duty < expected + tolerance,
              "duty cycle %.1f%% is not within %.0f points of %.0f%%", duty, tolerance, expected);
    OK("%s launches: duty cycle %.1f%% (expected %s)", how, duty, expect);
    if (g_exec) api.cuGraphExecDestroy(g_exec);
    return 0;
}
