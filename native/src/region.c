#include "region.h"

#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#include "log.h"

region_t *tessera_region;

static int g_fd = -1;
static int g_slot = -1;       /* index of this process's slot, -1 until claimed */
static pid_t g_slot_owner;    /* pid that claimed g_slot (detects fork) */
static region_proc_slot_t g_overflow_slot; /* used when all 1024 slots are taken */
static pthread_mutex_t g_mu = PTHREAD_MUTEX_INITIALIZER;

#define LOAD(p) __atomic_load_n((p), __ATOMIC_ACQUIRE)
#define STORE(p, v) __atomic_store_n((p), (v), __ATOMIC_RELEASE)

static void lock_region(void) {
    pthread_mutex_lock(&g_mu);
    if (g_fd >= 0) {
        while (flock(g_fd, LOCK_EX) != 0 && errno == EINTR) {
        }
    }
}

static void unlock_region(void) {
    if (g_fd >= 0) flock(g_fd, LOCK_UN);
    pthread_mutex_unlock(&g_mu);
}

/* Reads state and start time (clock ticks since boot) of pid from /proc. Returns 0 on success. */
static int read_proc_stat(pid_t pid, char *state, uint64_t *start) {
    char path[64], buf[1024];
    snprintf(path, sizeof path, "/proc/%d/stat", (int)pid);
    int fd = open(path, O_RDONLY | O_CLOEXEC);
    if (fd < 0) return -1;
    ssize_t n = read(fd, buf, sizeof buf - 1);
    close(fd);
    if (n <= 0) return -1;
    buf[n] = '\0';
    /* The command name may contain spaces and parentheses: fields resume after the last ')'. */
    char *p = strrchr(buf, ')');
    if (!p || p[1] != ' ') return -1;
    p += 2;
    *state = *p;
    /* After ')' the state is field 3; starttime is field 22. */
    for (int field = 3; field < 22; field++) {
        p = strchr(p, ' ');
        if (!p) return -1;
        p++;
    }
    *start = strtoull(p, NULL, 10);
    return 0;
}

static uint64_t my_start_time(void) {
    char state;
    uint64_t start = 0;
    return read_proc_stat(getpid(), &state, &start) == 0 ? start : 0;
}

static int slot_owner_is_dead(const region_proc_slot_t *slot) {
    pid_t pid = LOAD(&slot->pid);
    if (pid <= 0) return 0;
    uint64_t recorded = LOAD(&slot->start_time);
    if (pid == getpid()) return recorded != 0 && recorded != my_start_time();
    if (kill(pid, 0) == -1 && errno == ESRCH) return 1;
    char state;
    uint64_t start;
    if (read_proc_stat(pid, &state, &start) != 0) return 0; /* no /proc: trust kill() */
    if (state == 'Z' || state == 'X') return 1;              /* exited; the driver has freed its memory */
    return recorded != 0 && start != recorded;               /* PID reused by another process */
}

static void clear_slot(region_proc_slot_t *slot) {
    for (int d = 0; d < TESSERA_MAX_DEVICES; d++) {
        STORE(&slot->used[d].total, 0);
        STORE(&slot->used[d].data_size, 0);
        STORE(&slot->used[d].context_size, 0);
        STORE(&slot->used[d].module_size, 0);
        STORE(&slot->monitorused[d], 0);
        STORE(&slot->device_util[d].sm_util, 0);
    }
    STORE(&slot->status, 0);
    STORE(&slot->start_time, 0);
    STORE(&slot->pid, 0);
}

static int reap_locked(void) {
    int reaped = 0, n = LOAD(&tessera_region->proc_num);
    for (int i = 0; i < n && i < REGION_MAX_PROCS; i++) {
        region_proc_slot_t *slot = &tessera_region->procs[i];
        if (i == g_slot && g_slot_owner == getpid()) continue;
        if (slot_owner_is_dead(slot)) {
            TLOG(TLOG_INFO, "reclaiming %llu bytes of exited process %d",
                 (unsigned long long)LOAD(&slot->used[0].total), (int)LOAD(&slot->pid));
            clear_slot(slot);
            reaped++;
        }
    }
    return reaped;
}

int tessera_region_reap(void) {
    if (!tessera_region) return 0;
    lock_region();
    int n = reap_locked();
    unlock_region();
    return n;
}

static int host_pid(void) {
    /* NSpid lists this process's PID in every namespace visible from /proc's
     * mount: with more than one entry, the first is the outer (host) PID. */
    FILE *f = fopen("/proc/self/status", "re");
    if (!f) return 0;
    char line[256];
    int result = 0;
    while (fgets(line, sizeof line, f)) {
        int outer, inner;
        if (strncmp(line, "NSpid:", 6) == 0) {
            if (sscanf(line + 6, "%d %d", &outer, &inner) == 2) result = outer;
            break;
        }
    }
    fclose(f);
    return result;
}

static region_proc_slot_t *my_slot(void) {
    pid_t me = getpid();
    if (g_slot_owner == me) return g_slot >= 0 ? &tessera_region->procs[g_slot] : &g_overflow_slot;
    lock_region();
    if (g_slot_owner != me) {
        reap_locked();
        int n = LOAD(&tessera_region->proc_num), chosen = -1;
        for (int i = 0; i < n && chosen < 0; i++)
            if (LOAD(&tessera_region->procs[i].pid) == 0) chosen = i;
        if (chosen < 0 && n < REGION_MAX_PROCS) {
            chosen = n;
            STORE(&tessera_region->proc_num, n + 1);
        }
        if (chosen >= 0) {
            region_proc_slot_t *slot = &tessera_region->procs[chosen];
            clear_slot(slot);
            slot->hostpid = host_pid();
            STORE(&slot->start_time, my_start_time());
            STORE(&slot->status, 1);
            STORE(&slot->pid, me);
        } else {
            TLOG(TLOG_ERROR, "all %d process slots of the accounting region are in use; this process's "
                             "usage is counted for itself only", REGION_MAX_PROCS);
            memset(&g_overflow_slot, 0, sizeof g_overflow_slot);
        }
        g_slot = chosen;
        g_slot_owner = me;
    }
    unlock_region();
    return g_slot >= 0 ? &tessera_region->procs[g_slot] : &g_overflow_slot;
}

void tessera_region_charge(int dev, int64_t delta) {
    if (!tessera_region || dev < 0 || dev >= TESSERA_MAX_DEVICES || delta == 0) return;
    region_proc_slot_t *slot = my_slot();
    /* HAMi's readers retry while the sequence number is odd. */
    __atomic_fetch_add(&slot->seqlock, 1, __ATOMIC_ACQ_REL);
    __atomic_fetch_add(&slot->used[dev].total, (uint64_t)delta, __ATOMIC_ACQ_REL);
    __atomic_fetch_add(&slot->used[dev].data_size, (uint64_t)delta, __ATOMIC_ACQ_REL);
    __atomic_fetch_add(&slot->seqlock, 1, __ATOMIC_ACQ_REL);
}

uint64_t tessera_region_usage(int dev) {
    if (!tessera_region || dev < 0 || dev >= TESSERA_MAX_DEVICES) return 0;
    uint64_t sum = 0;
    int n = LOAD(&tessera_region->proc_num);
    for (int i = 0; i < n && i < REGION_MAX_PROCS; i++)
        if (LOAD(&tessera_region->procs[i].pid) != 0) sum += LOAD(&tessera_region->procs[i].used[dev].total);
    if (g_slot < 0 && g_slot_owner == getpid()) sum += LOAD(&g_overflow_slot.used[dev].total);
    return sum;
}

uint64_t tessera_region_my_usage(int dev) {
    if (!tessera_region || dev < 0 || dev >= TESSERA_MAX_DEVICES || g_slot_owner != getpid()) return 0;
    region_proc_slot_t *slot = g_slot >= 0 ? &tessera_region->procs[g_slot] : &g_overflow_slot;
    return LOAD(&slot->used[dev].total);
}

static uint64_t sm_for_region(uint32_t percent) { return percent >= 100 ? 0 : percent; }

static void init_fresh(region_t *r, const tessera_config_t *cfg) {
    memset(r, 0, sizeof *r);
    r->major_version = REGION_MAJOR;
    r->minor_version = REGION_MINOR;
    sem_init(&r->sem, 1, 1);
    sem_init(&r->sem_postinit, 1, 1);
    r->utilization_switch = 1;
    r->recent_kernel = 2;
    r->priority = cfg->priority;
    for (int d = 0; d < TESSERA_MAX_DEVICES; d++) {
        r->limit[d] = cfg->mem_limit[d];
        r->sm_limit[d] = sm_for_region(cfg->sm_limit[d]);
    }
    STORE(&r->initialized_flag, REGION_MAGIC);
}

void tessera_region_publish_limits(const tessera_config_t *cfg) {
    if (!tessera_region) return;
    for (int d = 0; d < TESSERA_MAX_DEVICES; d++) {
        STORE(&tessera_region->limit[d], cfg->mem_limit[d]);
        STORE(&tessera_region->sm_limit[d], sm_for_region(cfg->sm_limit[d]));
    }
    STORE(&tessera_region->priority, cfg->priority);
}

/* An existing region keeps its limits (others may already run under them, and the
 * node agent may have changed them live) except where it has none: HAMi lets an
 * unconfigured first process (an SSH session, say) leave the container unlimited. */
static void merge_into_existing(region_t *r, const tessera_config_t *cfg) {
    if (cfg->from_file) {
        tessera_region_publish_limits(cfg);
        return;
    }
    for (int d = 0; d < TESSERA_MAX_DEVICES; d++) {
        uint64_t have = LOAD(&r->limit[d]);
        if (have == 0 && cfg->mem_limit[d] != 0) STORE(&r->limit[d], cfg->mem_limit[d]);
        else if (have != 0 && cfg->mem_limit[d] != 0 && have != cfg->mem_limit[d])
            TLOG(TLOG_WARN, "device %d: this process asks for a %llu-byte limit but the container's region "
                            "holds %llu; the region's limit applies", d,
                 (unsigned long long)cfg->mem_limit[d], (unsigned long long)have);
        if (LOAD(&r->sm_limit[d]) == 0 && cfg->sm_limit[d] < 100) STORE(&r->sm_limit[d], (uint64_t)cfg->sm_limit[d]);
    }
}

static void ensure_parent_dir(const char *path) {
    char dir[PATH_MAX];
    snprintf(dir, sizeof dir, "%s", path);
    char *slash = strrchr(dir, '/');
    if (!slash || slash == dir) return;
    *slash = '\0';
    mkdir(dir, 0777);
}

static region_t *map_file(const char *path, const tessera_config_t *cfg) {
    ensure_parent_dir(path);
    int fd = open(path, O_RDWR | O_CREAT | O_CLOEXEC, 0666);
    if (fd < 0) {
        TLOG(TLOG_WARN, "cannot open accounting region %s: %s", path, strerror(errno));
        return NULL;
    }
    fchmod(fd, 0666); /* processes of other users in the container share it; fails harmlessly if not ours */
    g_fd = fd;
    lock_region();
    struct stat st;
    const off_t need = (off_t)sizeof(region_t) + 1; /* HAMi's file size */
    region_t *r = MAP_FAILED;
    if (fstat(fd, &st) == 0 && (st.st_size >= need || ftruncate(fd, need) == 0))
        r = mmap(NULL, sizeof(region_t), PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0);
    if (r == MAP_FAILED) {
        TLOG(TLOG_WARN, "cannot map accounting region %s: %s", path, strerror(errno));
        unlock_region();
        g_fd = -1;
        close(fd);
        return NULL;
    }
    if (LOAD(&r->initialized_flag) != REGION_MAGIC || r->major_version != REGION_MAJOR) init_fresh(r, cfg);
    else merge_into_existing(r, cfg);
    unlock_region();
    return r;
}

void tessera_region_open(const tessera_config_t *cfg) {
    region_t *r = map_file(cfg->cache_path, cfg);
    if (!r) {
        TLOG(TLOG_WARN, "using a private accounting region: limits hold for this process alone");
        r = calloc(1, sizeof *r);
        if (!r) {
            TLOG(TLOG_ERROR, "out of host memory for the accounting region; memory limits disabled");
            return;
        }
        init_fresh(r, cfg);
    }
    tessera_region = r;
}

void tessera_region_set_uuid(int dev, const char *uuid) {
    if (!tessera_region || dev < 0 || dev >= TESSERA_MAX_DEVICES) return;
    if (strncmp(tessera_region->uuids[dev], uuid, sizeof tessera_region->uuids[dev]) == 0) return;
    lock_region();
    snprintf(tessera_region->uuids[dev], sizeof tessera_region->uuids[dev], "%s", uuid);
    if (LOAD(&tessera_region->device_num) < (uint64_t)dev + 1) STORE(&tessera_region->device_num, (uint64_t)dev + 1);
    unlock_region();
}

void tessera_region_forget_slot(void) {
    pthread_mutex_t fresh = PTHREAD_MUTEX_INITIALIZER;
    g_mu = fresh; /* another thread may have held it at fork() */
    g_slot = -1;
    g_slot_owner = 0;
}

void tessera_region_release_slot(void) {
    if (!tessera_region || g_slot_owner != getpid() || g_slot < 0) return;
    clear_slot(&tessera_region->procs[g_slot]);
    g_slot_owner = 0;
    g_slot = -1;
}
