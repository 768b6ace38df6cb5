/* An interposer that reaches the function it wraps with dlsym(RTLD_NEXT, ...), as many profilers do. */
#include <dlfcn.h>

int next_probe(void);
int next_probe(void) {
    int (*next)(void) = (int (*)(void))dlsym(RTLD_NEXT, "next_probe");
    return next ? next() + 1 : -1;
}
