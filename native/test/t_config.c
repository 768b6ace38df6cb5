/*
 * Configuration: HAMi-core's value grammar, clear errors that name the key and
 * the value, and bad values that never leave a container unlimited by accident
 * when a valid limit is also given.
 *   t_config            runs every case, each in a fresh process
 *   t_config worker M R allocates M MiB at once and expects R (ok | oom)
 */
#include <fcntl.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include "common.h"

typedef struct {
    const char *what;
    const char *env[4];
    const char *limits_file; /* content, or NULL */
    unsigned alloc_mib;
    const char *expect;
    const char *stderr_has; /* or NULL: stderr must be free of errors */
} case_t;

static const case_t cases[] = {
    {"64m", {"CUDA_DEVICE_MEMORY_LIMIT=64m"}, NULL, 65, "oom", NULL},
    {"64Mi", {"CUDA_DEVICE_MEMORY_LIMIT=64Mi"}, NULL, 64, "ok", NULL},
    {"bytes", {"CUDA_DEVICE_MEMORY_LIMIT=67108864"}, NULL, 65, "oom", NULL},
    {"1g", {"CUDA_DEVICE_MEMORY_LIMIT=1g"}, NULL, 1025, "oom", NULL},
    {"per-device over all", {"CUDA_DEVICE_MEMORY_LIMIT=1g", "CUDA_DEVICE_MEMORY_LIMIT_0=64m"}, NULL, 65, "oom", NULL},
    {"bad per-device value falls back", {"CUDA_DEVICE_MEMORY_LIMIT=64m", "CUDA_DEVICE_MEMORY_LIMIT_0=1.5g"}, NULL, 65,
     "oom", "CUDA_DEVICE_MEMORY_LIMIT_0='1.5g' is not a size"},
    {"garbage", {"CUDA_DEVICE_MEMORY_LIMIT=lots"}, NULL, 1024, "ok", "CUDA_DEVICE_MEMORY_LIMIT='lots' is not a size"},
    {"zero means none", {"CUDA_DEVICE_MEMORY_LIMIT=0"}, NULL, 1024, "ok", NULL},
    {"bad compute share", {"CUDA_DEVICE_SM_LIMIT=150"}, NULL, 1, "ok", "CUDA_DEVICE_SM_LIMIT='150' is not a percentage"},
    {"disabled", {"CUDA_DEVICE_MEMORY_LIMIT=64m", "CUDA_DISABLE_CONTROL=true"}, NULL, 128, "ok", NULL},
    {"limits file wins", {"CUDA_DEVICE_MEMORY_LIMIT=4g", "CUDA_DISABLE_CONTROL=true"},
     "CUDA_DEVICE_MEMORY_LIMIT=64m\n", 65, "oom", NULL},
    {"limits file bad line", {NULL}, "CUDA_DEVICE_MEMORY_LIMIT=64m\nnonsense\n", 65, "oom",
     "line 2: expected KEY=VALUE, got 'nonsense'"},
};

static int worker(unsigned mib, const char *expect) {
    api_load("direct");
    api_setup();
    CUdeviceptr p;
    CUresult r = api.cuMemAlloc(&p, (size_t)mib * MIB);
    int ok = strcmp(expect, "ok") == 0 ? r == CUDA_SUCCESS : r == CUDA_ERROR_OUT_OF_MEMORY;
    if (!ok) fprintf(stderr, "allocating %u MiB returned %d, expected %s\n", mib, r, expect);
    return ok ? 0 : 1;
}

static void run_case(const char *self, int index, const case_t *c) {
    const char *tmp = getenv("TESSERA_TMP");
    int err[2];
    CHECK(pipe(err) == 0, "pipe");
    pid_t pid = fork();
    CHECK(pid >= 0, "fork");
    if (pid == 0) {
        static const char *const scrub[] = {"CUDA_DEVICE_MEMORY_LIMIT", "CUDA_DEVICE_MEMORY_LIMIT_0",
                                            "CUDA_DEVICE_SM_LIMIT", "CUDA_DISABLE_CONTROL", "TESSERA_LIMITS_FILE"};
        for (size_t i = 0; i < sizeof scrub / sizeof scrub[0]; i++) unsetenv(scrub[i]);
        char path[4096];
        snprintf(path, sizeof path, "%s/config-%d.cache", tmp, index);
        setenv("CUDA_DEVICE_MEMORY_SHARED_CACHE", path, 1);
        for (int i = 0; i < 4 && c->env[i]; i++) putenv((char *)c->env[i]);
        if (c->limits_file) {
            snprintf(path, sizeof path, "%s/config-%d.limits", tmp, index);
            FILE *f = fopen(path, "w");
            if (!f) _exit(3);
            fputs(c->limits_file, f);
            fclose(f);
            setenv("TESSERA_LIMITS_FILE", path, 1);
        }
        dup2(err[1], 2);
        close(err[0]);
        char mib[16];
        snprintf(mib, sizeof mib, "%u", c->alloc_mib);
        execl(self, self, "worker", mib, c->expect, (char *)NULL);
        _exit(127);
    }
    close(err[1]);
    char out[8192];
    size_t n = 0;
    ssize_t r;
    while (n < sizeof out - 1 && (r = read(err[0], out + n, sizeof out - 1 - n)) > 0) n += (size_t)r;
    out[n] = '\0';
    close(err[0]);
    int status;
    CHECK(waitpid(pid, &status, 0) == pid, "waitpid");
    CHECK(WIFEXITED(status) && WEXITSTATUS(status) == 0, "case '%s' failed; its stderr:\n%s", c->what, out);
    if (c->stderr_has) CHECK(strstr(out, c->stderr_has), "case '%s': stderr lacks \"%s\":\n%s", c->what, c->stderr_has, out);
    else CHECK(!strstr(out, "ERROR"), "case '%s': unexpected error:\n%s", c->what, out);
    OK("config: %s", c->what);
}

int main(int argc, char **argv) {
    if (argc == 4 && strcmp(argv[1], "worker") == 0) return worker((unsigned)atoi(argv[2]), argv[3]);
    CHECK(getenv("TESSERA_TMP"), "needs TESSERA_TMP");
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) run_case(argv[0], (int)i, &cases[i]);
    return 0;
}
