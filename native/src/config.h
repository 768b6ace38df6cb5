/*
 * Limits a container runs with: where they come from and how they are parsed.
 *
 * Two sources, never mixed:
 *  - the trusted limits file the node agent mounts read-only (default
 *    /etc/tessera/limits). When it exists, the process environment is not
 *    consulted for limits at all: a process can rewrite its own environment,
 *    it cannot rewrite a read-only mount. The file is re-read when it changes.
 *  - otherwise HAMi-core's environment variables, so that HAMi's device
 *    plugins can inject this library unchanged.
 * Both use the same keys and the same value grammar.
 */
#ifndef TESSERA_CONFIG_H
#define TESSERA_CONFIG_H

#include <limits.h>
#include <stdint.h>
#include <sys/types.h>

#define TESSERA_MAX_DEVICES 16
#define TESSERA_LIMITS_FILE_DEFAULT "/etc/tessera/limits"
#define TESSERA_DEFAULT_CACHE_PATH "/tmp/cudevshr.cache"

typedef enum { CORE_POLICY_DEFAULT = 0, CORE_POLICY_FORCE = 1, CORE_POLICY_DISABLE = 2 } core_policy_t;

typedef struct {
    uint64_t mem_limit[TESSERA_MAX_DEVICES]; /* bytes; 0 = no limit */
    uint32_t sm_limit[TESSERA_MAX_DEVICES];  /* percent 1..100; 100 = no throttling */
    int priority;                            /* 0 = high; larger = lower (HAMi) */
    core_policy_t policy;
    char cache_path[PATH_MAX];
    int from_file;       /* 1 when the trusted limits file supplied these values */
    int control_disabled; /* CUDA_DISABLE_CONTROL=true without a limits file */
} tessera_config_t;

/* Identity of the limits file as last read, to notice rewrites. */
typedef struct {
    int present;
    dev_t dev;
    ino_t ino;
    off_t size;
    int64_t mtime_ns;
} tessera_file_stamp_t;

/*
 * Parses a memory size: decimal digits with an optional unit k, m or g (any
 * case, powers of 1024, optionally followed by "i" or "iB"/"B"), or plain
 * bytes. Returns 0 and stores the bytes, or -1 for anything else (empty,
 * fractions, signs, overflow, unknown units).
 */
int tessera_parse_size(const char *text, uint64_t *bytes);

/* Parses a percentage 0..100. Returns 0 or -1. */
int tessera_parse_percent(const char *text, uint32_t *percent);

/* Path of the limits file in effect (the fixed path, or TESSERA_LIMITS_FILE when the fixed one is absent). */
const char *tessera_limits_file_path(void);

/*
 * Loads the configuration. Errors in single values are logged with the key
 * and the offending text, and that key is ignored; loading never fails.
 * stamp (optional) receives the identity of the file that was read.
 */
void tessera_config_load(tessera_config_t *cfg, tessera_file_stamp_t *stamp);

/* 1 when the limits file at path differs from stamp (appeared, vanished or was rewritten). */
int tessera_limits_file_changed(const char *path, const tessera_file_stamp_t *stamp);

#endif
