/*
 * dlsym(RTLD_NEXT, ...) keeps its meaning with the library preloaded: an
 * interposer loaded after us still finds the next definition, not itself.
 */
#include <dlfcn.h>
#include <string.h>

#include "common.h"

int main(int argc, char **argv) {
    CHECK(argc == 2, "usage: t_dlsym_next <dir of libnext_*.so>");
    char path[4096];
    /* Local scope: only a lookup made relative to libnext_wrap itself can find libnext_base (its dependency). */
    snprintf(path, sizeof path, "%s/libnext_wrap.so", argv[1]);
    void *wrap = dlopen(path, RTLD_NOW | RTLD_LOCAL);
    CHECK(wrap, "dlopen %s: %s", path, dlerror());
    int (*probe)(void) = (int (*)(void))dlsym(wrap, "next_probe");
    CHECK(probe, "dlsym next_probe");
    int v = probe();
    CHECK(v == 42, "the interposer's RTLD_NEXT lookup returned %d, expected 42 (41 from the next library + 1)", v);
    OK("dlsym(RTLD_NEXT) resolves relative to its caller");
    return 0;
}
