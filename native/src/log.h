/* Leveled logging to stderr, controlled by LIBCUDA_LOG_LEVEL (HAMi-core's levels). */
#ifndef TESSERA_LOG_H
#define TESSERA_LOG_H

enum { TLOG_ERROR = 1, TLOG_WARN = 2, TLOG_INFO = 3, TLOG_DEBUG = 4 };

/* Errors always print; 2 (the default) adds warnings, 3 info, 4 debug. */
extern int tessera_log_level;

void tessera_log_init(void);
void tessera_log_write(int level, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

#define TLOG(level, ...)                                                                           \
    do {                                                                                           \
        if ((level) <= tessera_log_level || (level) == TLOG_ERROR) tessera_log_write((level), __VA_ARGS__); \
    } while (0)

#endif
