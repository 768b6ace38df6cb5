#include "board.h"

#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#include "config.h"
#include "driver.h"
#include "log.h"
#include "tessera.h"

#define BOARD_MAGIC 0x54534242u /* "TSBB" */
#define BOARD_ENTRIES 64
#define STALE_NS 2000000000ULL /* active processes refresh their entry far more often than this */

typedef struct {
    uint64_t token; /* 0 = free */
    int32_t priority;
    int32_t in_batch;
    uint64_t last_active_ns; /* CLOCK_MONOTONIC: one clock for every container on the host */
    uint64_t reserved;
} board_entry_t;

typedef struct {
    uint32_t magic;
    uint32_t version;
    uint64_t turn_token;     /* batch holder, 0 = free */
    uint64_t turn_heartbeat; /* CLOCK_MONOTONIC ns of the holder's last sign of life */
    uint64_t reserved[5];
    board_entry_t entries[BOARD_ENTRIES];
} board_t;

#define TURN_STALE_NS 50000000ULL

static struct {
    board_t *board; /* NULL until mapped; (board_t *)-1 when unavailable */
    int mine;       /* index of this process's entry, -1 if none */
} g_dev[TESSERA_MAX_DEVICES];
static uint64_t g_token;
static pthread_mutex_t g_mu = PTHREAD_MUTEX_INITIALIZER;
static int g_dir_state; /* 0 unknown, 1 present, -1 absent */
static char g_dir[PATH_MAX];

#define UNAVAILABLE ((board_t *)-1)

int board_available(void) {
    int s = __atomic_load_n(&g_dir_state, __ATOMIC_ACQUIRE);
    if (s) return s > 0;
    const char *dir = getenv("TESSERA_BOARD_DIR");
    snprintf(g_dir, sizeof g_dir, "%s", dir && *dir ? dir : "/tmp/vgpulock");
    struct stat st;
    s = (stat(g_dir, &st) == 0 && S_ISDIR(st.st_mode) && access(g_dir, W_OK) == 0) ? 1 : -1;
    __atomic_store_n(&g_dir_state, s, __ATOMIC_RELEASE);
    return s > 0;
}

static uint64_t new_token(void) {
    uint64_t t = ((uint64_t)getpid() << 32) ^ tessera_now_ns();
    return t ? t : 1;
}

static board_t *map_board(int dev) {
    CUuuid id;
    if (!real_cuDeviceGetUuid_v2 || real_cuDeviceGetUuid_v2(&id, dev) != CUDA_SUCCESS) return UNAVAILABLE;
    char path[PATH_MAX + 64];
    const unsigned char *b = (const unsigned char *)id.bytes;
    snprintf(path, sizeof path, "%s/tessera-GPU-%02x%02x%02x%02x-%02x%02x-%02x%02x-%02x%02x-%02x%02x%02x%02x%02x%02x.board",
             g_dir, b[0], b[1], b[2], b[3], b[4], b[5], b[6], b[7], b[8], b[9], b[10], b[11], b[12], b[13], b[14],
             b[15]);
    int fd = open(path, O_RDWR | O_CREAT | O_CLOEXEC, 0666);
    if (fd < 0) {
        TLOG(TLOG_WARN, "device board %s unavailable: %s; priorities apply within this container only", path,
             strerror(errno));
        return UNAVAILABLE;
    }
    fchmod(fd, 0666);
    board_t *board = MAP_FAILED;
    struct stat st;
    if (fstat(fd, &st) == 0 && (st.st_size >= (off_t)sizeof(board_t) || ftruncate(fd, sizeof(board_t)) == 0))
        board = mmap(NULL, sizeof(board_t), PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0);
    close(fd);
    if (board == MAP_FAILED) return UNAVAILABLE;
    /* All fields start at zero, which is a valid empty board: no initialisation race to lose. */
    uint32_t zero = 0;
    __atomic_compare_exchange_n(&board->magic, &zero, BOARD_MAGIC, 0, __ATOMIC_ACQ_REL, __ATOMIC_ACQUIRE);
    if (board->magic != BOARD_MAGIC) {
        munmap(board, sizeof(board_t));
        return UNAVAILABLE;
    }
    return board;
}

static board_t *board_for(int dev) {
    if (dev < 0 || dev >= TESSERA_MAX_DEVICES || !board_available()) return NULL;
    board_t *b = __atomic_load_n(&g_dev[dev].board, __ATOMIC_ACQUIRE);
    if (!b) {
        pthread_mutex_lock(&g_mu);
        if (!g_dev[dev].board) {
            g_dev[dev].mine = -1;
            __atomic_store_n(&g_dev[dev].board, map_board(dev), __ATOMIC_RELEASE);
        }
        b = g_dev[dev].board;
        pthread_mutex_unlock(&g_mu);
    }
    return b == UNAVAILABLE ? NULL : b;
}

static int entry_is_live(const board_entry_t *e, uint64_t now) {
    uint64_t last = __atomic_load_n(&e->last_active_ns, __ATOMIC_ACQUIRE);
    return __atomic_load_n(&e->token, __ATOMIC_ACQUIRE) != 0 && last + STALE_NS > now;
}

static board_entry_t *my_entry(board_t *b, int dev, uint64_t now) {
    int i = g_dev[dev].mine;
    if (!g_token) g_token = new_token();
    if (i >= 0 && __atomic_load_n(&b->entries[i].token, __ATOMIC_ACQUIRE) == g_token) return &b->entries[i];
    /* Claim a free or stale entry. */
    for (i = 0; i < BOARD_ENTRIES; i++) {
        board_entry_t *e = &b->entries[i];
        uint64_t seen = __atomic_load_n(&e->token, __ATOMIC_ACQUIRE);
        if (seen && entry_is_live(e, now)) continue;
        if (__atomic_compare_exchange_n(&e->token, &seen, g_token, 0, __ATOMIC_ACQ_REL, __ATOMIC_ACQUIRE)) {
            __atomic_store_n(&e->priority, tessera_priority(), __ATOMIC_RELEASE);
            __atomic_store_n(&e->last_active_ns, now, __ATOMIC_RELEASE);
            g_dev[dev].mine = i;
            return e;
        }
    }
    return NULL;
}

void board_touch(int dev, uint64_t now_ns, int in_batch) {
    board_t *b = board_for(dev);
    if (!b) return;
    board_entry_t *e = my_entry(b, dev, now_ns);
    if (!e) return;
    __atomic_store_n(&e->priority, tessera_priority(), __ATOMIC_RELAXED);
    __atomic_store_n(&e->in_batch, in_batch, __ATOMIC_RELEASE);
    __atomic_store_n(&e->last_active_ns, now_ns, __ATOMIC_RELEASE);
}

int board_higher_priority_active(int dev, uint64_t now_ns, int prio, uint64_t window_ns) {
    board_t *b = board_for(dev);
    if (!b) return 0;
    for (int i = 0; i < BOARD_ENTRIES; i++) {
        const board_entry_t *e = &b->entries[i];
        if (i == g_dev[dev].mine || !entry_is_live(e, now_ns)) continue;
        if (__atomic_load_n(&e->priority, __ATOMIC_ACQUIRE) >= prio) continue;
        if (__atomic_load_n(&e->in_batch, __ATOMIC_ACQUIRE) ||
            __atomic_load_n(&e->last_active_ns, __ATOMIC_ACQUIRE) + window_ns > now_ns)
            return 1;
    }
    return 0;
}

int board_others_active_since(int dev, uint64_t since_ns) {
    board_t *b = board_for(dev);
    if (!b) return 0;
    uint64_t now = tessera_now_ns();
    int n = 0;
    for (int i = 0; i < BOARD_ENTRIES; i++) {
        const board_entry_t *e = &b->entries[i];
        if (i == g_dev[dev].mine || !entry_is_live(e, now)) continue;
        if (__atomic_load_n(&e->in_batch, __ATOMIC_ACQUIRE) ||
            __atomic_load_n(&e->last_active_ns, __ATOMIC_ACQUIRE) >= since_ns)
            n++;
    }
    return n;
}

int board_turn_acquire(int dev, uint64_t token, uint64_t wait_ns) {
    board_t *b = board_for(dev);
    if (!b) return 0;
    uint64_t start = tessera_now_ns();
    for (;;) {
        uint64_t now = tessera_now_ns();
        uint64_t holder = __atomic_load_n(&b->turn_token, __ATOMIC_ACQUIRE);
        if (holder == token) return 1;
        int stale = holder && __atomic_load_n(&b->turn_heartbeat, __ATOMIC_ACQUIRE) + TURN_STALE_NS < now;
        if ((holder == 0 || stale) &&
            __atomic_compare_exchange_n(&b->turn_token, &holder, token, 0, __ATOMIC_ACQ_REL, __ATOMIC_ACQUIRE)) {
            __atomic_store_n(&b->turn_heartbeat, now, __ATOMIC_RELEASE);
            return 1;
        }
        if (now - start >= wait_ns) return 0;
        tessera_sleep_ns(20000);
    }
}

void board_turn_heartbeat(int dev, uint64_t token, uint64_t now_ns) {
    board_t *b = board_for(dev);
    if (!b) return;
    if (__atomic_load_n(&b->turn_token, __ATOMIC_RELAXED) == token)
        __atomic_store_n(&b->turn_heartbeat, now_ns, __ATOMIC_RELEASE);
    int i = g_dev[dev].mine;
    if (i >= 0) __atomic_store_n(&b->entries[i].last_active_ns, now_ns, __ATOMIC_RELEASE);
}

void board_turn_release(int dev, uint64_t token) {
    board_t *b = board_for(dev);
    if (b) __atomic_compare_exchange_n(&b->turn_token, &token, 0, 0, __ATOMIC_ACQ_REL, __ATOMIC_ACQUIRE);
}

void board_after_fork(void) {
    pthread_mutex_t fresh = PTHREAD_MUTEX_INITIALIZER;
    g_mu = fresh;
    g_token = 0; /* the child is another process: it claims entries of its own */
    for (int d = 0; d < TESSERA_MAX_DEVICES; d++) g_dev[d].mine = -1;
}

void board_release(void) {
    for (int d = 0; d < TESSERA_MAX_DEVICES; d++) {
        board_t *b = __atomic_load_n(&g_dev[d].board, __ATOMIC_ACQUIRE);
        int i = g_dev[d].mine;
        if (!b || b == UNAVAILABLE || i < 0) continue;
        uint64_t mine = g_token;
        __atomic_store_n(&b->entries[i].in_batch, 0, __ATOMIC_RELEASE);
        __atomic_compare_exchange_n(&b->entries[i].token, &mine, 0, 0, __ATOMIC_ACQ_REL, __ATOMIC_ACQUIRE);
    }
}
