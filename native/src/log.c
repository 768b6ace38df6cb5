#include "log.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <unistd.h>

int tessera_log_level = TLOG_WARN;

void tessera_log_init(void) {
    const char *v = getenv("LIBCUDA_LOG_LEVEL");
    if (v && *v) {
        char *end = NULL;
        long n = strtol(v, &end, 10);
        if (end && *end == '\0' && n >= 0 && n <= 10) tessera_log_level = (int)n;
    }
}

void tessera_log_write(int level, const char *fmt, ...) {
    static const char *const names[] = {"", "ERROR", "WARN", "INFO", "DEBUG"};
    char buf[1024];
    int n = snprintf(buf, sizeof buf, "[tessera %d] %s: ", (int)getpid(),
                     level >= 1 && level <= 4 ? names[level] : "LOG");
    va_list ap;
    va_start(ap, fmt);
    if (n > 0 && (size_t)n < sizeof buf) n += vsnprintf(buf + n, sizeof buf - (size_t)n, fmt, ap);
    va_end(ap);
    if (n < 0) return;
    if ((size_t)n >= sizeof buf - 1) n = (int)sizeof buf - 2;
    buf[n++] = '\n';
    /* One write(2) per line keeps lines from concurrent processes whole. */
    ssize_t w = write(STDERR_FILENO, buf, (size_t)n);
    (void)w;
}
