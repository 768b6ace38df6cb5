#include "config.h"

#include <ctype.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/stat.h>
#include <unistd.h>

#include "log.h"

#define MAX_FILE_BYTES 65536
#define MAX_ENTRIES 96

typedef struct {
    char key[64];
    char value[PATH_MAX];
} entry_t;

typedef struct {
    entry_t entries[MAX_ENTRIES];
    int count;
} kv_file_t;

typedef struct {
    const kv_file_t *file; /* NULL: read the environment */
} source_t;

static const char *source_get(const source_t *src, const char *key) {
    if (!src->file) return getenv(key);
    for (int i = src->file->count - 1; i >= 0; i--)
        if (strcmp(src->file->entries[i].key, key) == 0) return src->file->entries[i].value;
    return NULL;
}

int tessera_parse_size(const char *text, uint64_t *bytes) {
    if (!text) return -1;
    const char *p = text;
    if (!isdigit((unsigned char)*p)) return -1;
    uint64_t n = 0;
    while (isdigit((unsigned char)*p)) {
        unsigned d = (unsigned)(*p - '0');
        if (n > (UINT64_MAX - d) / 10) return -1;
        n = n * 10 + d;
        p++;
    }
    unsigned shift = 0;
    if (*p) {
        switch (*p) {
        case 'k': case 'K': shift = 10; break;
        case 'm': case 'M': shift = 20; break;
        case 'g': case 'G': shift = 30; break;
        default: return -1;
        }
        p++;
        if (*p == 'i') p++;
        if (*p == 'B' || *p == 'b') p++;
        if (*p) return -1;
    }
    if (shift && n > (UINT64_MAX >> shift)) return -1;
    *bytes = n << shift;
    return 0;
}

int tessera_parse_percent(const char *text, uint32_t *percent) {
    if (!text || !isdigit((unsigned char)*text)) return -1;
    char *end = NULL;
    errno = 0;
    unsigned long v = strtoul(text, &end, 10);
    if (errno || !end || *end || v > 100) return -1;
    *percent = (uint32_t)v;
    return 0;
}

const char *tessera_limits_file_path(void) {
    /* The fixed path wins whenever it exists, so that an environment variable
     * set inside the container cannot point the library at a file the
     * container wrote itself. The override exists for tests and for nodes
     * that mount the file elsewhere. */
    if (access(TESSERA_LIMITS_FILE_DEFAULT, F_OK) == 0) return TESSERA_LIMITS_FILE_DEFAULT;
    const char *alt = getenv("TESSERA_LIMITS_FILE");
    return (alt && *alt) ? alt : TESSERA_LIMITS_FILE_DEFAULT;
}

static void stamp_of(const struct stat *st, tessera_file_stamp_t *stamp) {
    stamp->present = 1;
    stamp->dev = st->st_dev;
    stamp->ino = st->st_ino;
    stamp->size = st->st_size;
    stamp->mtime_ns = (int64_t)st->st_mtim.tv_sec * 1000000000LL + st->st_mtim.tv_nsec;
}

int tessera_limits_file_changed(const char *path, const tessera_file_stamp_t *stamp) {
    struct stat st;
    if (stat(path, &st) != 0) return stamp->present;
    if (!stamp->present) return 1;
    tessera_file_stamp_t now;
    stamp_of(&st, &now);
    return now.dev != stamp->dev || now.ino != stamp->ino || now.size != stamp->size ||
           now.mtime_ns != stamp->mtime_ns;
}

static char *trim(char *s) {
    while (isspace((unsigned char)*s)) s++;
    size_t n = strlen(s);
    while (n && isspace((unsigned char)s[n - 1])) s[--n] = '\0';
    return s;
}

/* Reads KEY=VALUE lines; '#' starts a comment line. Returns 0 when the file was read. */
static int read_kv_file(const char *path, kv_file_t *out, tessera_file_stamp_t *stamp) {
    out->count = 0;
    int fd = open(path, O_RDONLY | O_CLOEXEC);
    if (fd < 0) return -1;
    struct stat st;
    if (fstat(fd, &st) != 0 || !S_ISREG(st.st_mode)) {
        close(fd);
        return -1;
    }
    if (stamp) stamp_of(&st, stamp);
    char *buf = malloc(MAX_FILE_BYTES + 1);
    if (!buf) {
        close(fd);
        return -1;
    }
    size_t len = 0;
    ssize_t r;
    while (len < MAX_FILE_BYTES && (r = read(fd, buf + len, MAX_FILE_BYTES - len)) > 0) len += (size_t)r;
    close(fd);
    buf[len] = '\0';
    if (access(path, W_OK) == 0)
        TLOG(TLOG_WARN, "limits file %s is writable by this process; mount it read-only so that the "
                        "container cannot raise its own limits", path);
    int lineno = 0;
    for (char *save = NULL, *line = strtok_r(buf, "\n", &save); line; line = strtok_r(NULL, "\n", &save)) {
        lineno++;
        char *t = trim(line);
        if (!*t || *t == '#') continue;
        char *eq = strchr(t, '=');
        if (!eq) {
            TLOG(TLOG_ERROR, "%s line %d: expected KEY=VALUE, got '%s'; line ignored", path, lineno, t);
            continue;
        }
        *eq = '\0';
        char *key = trim(t), *value = trim(eq + 1);
        if (strlen(key) >= sizeof out->entries[0].key || strlen(value) >= sizeof out->entries[0].value ||
            out->count == MAX_ENTRIES) {
            TLOG(TLOG_ERROR, "%s line %d: key '%.40s' too long or too many entries; line ignored", path, lineno, key);
            continue;
        }
        strcpy(out->entries[out->count].key, key);
        strcpy(out->entries[out->count].value, value);
        out->count++;
    }
    free(buf);
    return 0;
}

/*
 * Reads KEY and KEY_<i> for every device: the per-device value wins, a bad one falls back to
 * KEY's, a bad KEY to fallback. parse returns 0 on success; expected describes valid values.
 */
static void load_per_device(const source_t *src, const char *key, int (*parse)(const char *, uint64_t *),
                            const char *expected, uint64_t fallback, uint64_t out[TESSERA_MAX_DEVICES],
                            const char *origin) {
    uint64_t all = fallback;
    const char *v = source_get(src, key);
    if (v && *v && parse(v, &all) != 0) {
        TLOG(TLOG_ERROR, "%s: %s='%s' is not %s; ignored", origin, key, v, expected);
        all = fallback;
    }
    for (int i = 0; i < TESSERA_MAX_DEVICES; i++) {
        char name[64];
        snprintf(name, sizeof name, "%s_%d", key, i);
        out[i] = all;
        v = source_get(src, name);
        if (v && *v && parse(v, &out[i]) != 0) {
            TLOG(TLOG_ERROR, "%s: %s='%s' is not %s; ignored", origin, name, v, expected);
            out[i] = all;
        }
    }
}

static int parse_percent64(const char *text, uint64_t *value) {
    uint32_t p;
    if (tessera_parse_percent(text, &p) != 0) return -1;
    *value = p;
    return 0;
}

static void load_limits(const source_t *src, tessera_config_t *cfg, const char *origin) {
    load_per_device(src, "CUDA_DEVICE_MEMORY_LIMIT", tessera_parse_size, "a size (expected e.g. 4096m, 4g or bytes)", 0,
                    cfg->mem_limit, origin);
    uint64_t sm[TESSERA_MAX_DEVICES];
    load_per_device(src, "CUDA_DEVICE_SM_LIMIT", parse_percent64, "a percentage 0-100", 0, sm, origin);
    for (int i = 0; i < TESSERA_MAX_DEVICES; i++) cfg->sm_limit[i] = sm[i] == 0 ? 100 : (uint32_t)sm[i]; /* 0 = none */
}

static void load_rest(const source_t *src, tessera_config_t *cfg, const char *origin) {
    const char *v = source_get(src, "CUDA_TASK_PRIORITY");
    cfg->priority = 1;
    if (v && *v) {
        char *end = NULL;
        long p = strtol(v, &end, 10);
        if (end && !*end && p >= 0 && p <= 1000) cfg->priority = (int)p;
        else TLOG(TLOG_ERROR, "%s: CUDA_TASK_PRIORITY='%s' is not an integer 0-1000; using 1", origin, v);
    }
    v = source_get(src, "GPU_CORE_UTILIZATION_POLICY");
    cfg->policy = CORE_POLICY_DEFAULT;
    if (v && strcasecmp(v, "force") == 0) cfg->policy = CORE_POLICY_FORCE;
    else if (v && strcasecmp(v, "disable") == 0) cfg->policy = CORE_POLICY_DISABLE;

    v = source_get(src, "CUDA_DEVICE_MEMORY_SHARED_CACHE");
    if (v && *v) {
        snprintf(cfg->cache_path, sizeof cfg->cache_path, "%s", v);
    } else {
        /* Newer HAMi-core derives a per-container path from these (KAI-resource-isolator sets them). */
        const char *mount = source_get(src, "CONTAINER_VGPU_MOUNT");
        const char *pod = source_get(src, "POD_UID");
        const char *ctr = source_get(src, "CONTAINER_NAME");
        if (pod && *pod && ctr && *ctr)
            snprintf(cfg->cache_path, sizeof cfg->cache_path, "%s/containers/%s_%s/usage.cache",
                     (mount && *mount) ? mount : "/usr/local/vgpu", pod, ctr);
        else
            snprintf(cfg->cache_path, sizeof cfg->cache_path, "%s", TESSERA_DEFAULT_CACHE_PATH);
    }
}

void tessera_config_load(tessera_config_t *cfg, tessera_file_stamp_t *stamp) {
    memset(cfg, 0, sizeof *cfg);
    if (stamp) memset(stamp, 0, sizeof *stamp);
    const char *path = tessera_limits_file_path();
    kv_file_t *file = calloc(1, sizeof *file);
    source_t src = {NULL};
    const char *origin = "environment";
    if (file && read_kv_file(path, file, stamp) == 0) {
        src.file = file;
        origin = path;
        cfg->from_file = 1;
    }
    load_limits(&src, cfg, origin);
    load_rest(&src, cfg, origin);
    if (!cfg->from_file) {
        const char *off = getenv("CUDA_DISABLE_CONTROL");
        cfg->control_disabled = off && (strcasecmp(off, "true") == 0 || strcmp(off, "1") == 0);
    }
    free(file);
}
