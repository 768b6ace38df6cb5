#include "limiter.h"

#include <pthread.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "board.h"
#include "driver.h"
#include "log.h"
#include "region.h"
#include "tessera.h"

#define MS 1000000ULL
#define MAX_CONTEXTS 64
#define REFRESH_NS (100 * MS)      /* how often limits and switches are re-read */
#define CHECK_NS (1 * MS)          /* how often an unthrottled context looks at the board */
#define PRIORITY_WINDOW_NS (50 * MS) /* a higher-priority process idle this long no longer holds others back */
#define PRIORITY_WARY_NS (1000 * MS)  /* ...but for this long after, work stays in small batches */
#define EVENT_WAIT_LIMIT_NS (5000 * MS)

typedef struct {
    CUcontext ctx; /* NULL = unused entry */
    int dev;
    pthread_mutex_t mu;
    CUevent ev_begin, ev_end; /* timing events around each batch */
    int ev_state;             /* 0 not created, 1 usable, -1 cannot be created here */
    int timed;                /* ev_begin was recorded for the open batch */
    int batching; /* 1 while this context's launches go through batches */
    int yielding; /* lower priority than an active process: wait for it before each batch */
    uint64_t higher_seen; /* when a higher-priority process was last seen active on this device */
    uint32_t share;
    uint64_t quantum_ns;
    uint64_t next_check;
    int pending; /* end-of-batch event recorded, not yet waited for */
    uint64_t batch_start, last_launch, next_start;
    uint64_t late_ns; /* how far past next_start the limiter itself started this batch */
    uint32_t launches, target;
    double solo_ns_per_launch; /* GPU time per launch when nobody else used the GPU; 0 = unknown */
    double last_ns_per_launch;
    uint64_t turn_token; /* this context's name on the device board */
    int has_turn;
} ctx_state_t;

static ctx_state_t g_ctx[MAX_CONTEXTS];
static pthread_mutex_t g_ctx_mu = PTHREAD_MUTEX_INITIALIZER;
static __thread ctx_state_t *t_state;
static __thread CUcontext t_ctx;

static uint64_t g_next_refresh, g_next_activity;
static int g_throttle_any, g_board_on;
static uint64_t g_quantum_ns; /* batch length, read once from TESSERA_SM_QUANTUM_MS */

void tessera_limiter_after_fork(void) {
    pthread_mutex_t fresh = PTHREAD_MUTEX_INITIALIZER;
    g_ctx_mu = fresh;
    memset(g_ctx, 0, sizeof g_ctx);
    for (int i = 0; i < MAX_CONTEXTS; i++) g_ctx[i].mu = fresh;
    g_next_refresh = g_next_activity = 0;
    board_after_fork();
}

void tessera_limiter_at_exit(void) {
    /* A batch still open at exit must not hold the device turn, nor look active to others. */
    for (int i = 0; i < MAX_CONTEXTS; i++)
        if (g_ctx[i].ctx && g_ctx[i].has_turn) board_turn_release(g_ctx[i].dev, g_ctx[i].turn_token);
    board_release();
}

static int switch_on(void) {
    switch (tessera_core_policy()) {
    case CORE_POLICY_FORCE: return 1;
    case CORE_POLICY_DISABLE: return 0;
    default:
        /* HAMi's monitor may turn the limiter off while a container is alone on its GPU. */
        return tessera_region ? __atomic_load_n(&tessera_region->utilization_switch, __ATOMIC_ACQUIRE) != 0 : 1;
    }
}

static void refresh_mode(uint64_t now) {
    __atomic_store_n(&g_next_refresh, now + REFRESH_NS, __ATOMIC_RELAXED);
    if (!tessera_enforcing()) {
        __atomic_store_n(&g_throttle_any, 0, __ATOMIC_RELAXED);
        __atomic_store_n(&g_board_on, 0, __ATOMIC_RELAXED);
        return;
    }
    int any = 0;
    for (int d = 0; d < TESSERA_MAX_DEVICES && !any; d++) any = tessera_sm_limit(d) < 100;
    __atomic_store_n(&g_throttle_any, any && switch_on(), __ATOMIC_RELAXED);
    __atomic_store_n(&g_board_on, board_available(), __ATOMIC_RELAXED);
    if (!__atomic_load_n(&g_quantum_ns, __ATOMIC_RELAXED)) {
        const char *q = getenv("TESSERA_SM_QUANTUM_MS");
        long ms = q ? strtol(q, NULL, 10) : 0;
        __atomic_store_n(&g_quantum_ns, (ms >= 1 && ms <= 200) ? (uint64_t)ms * MS : 10 * MS, __ATOMIC_RELAXED);
    }
}

/*
 * HAMi's activity protocol, so that HAMi's vGPU monitor and Tessera's node
 * agent can arbitrate priorities through the region: publish the last kernel
 * time (seconds) and activity, and hold launches while the monitor has marked
 * this container blocked (recent_kernel < 0).
 */
static void region_activity(uint64_t coarse_now) {
    region_t *r = tessera_region;
    if (!r) return;
    if (coarse_now >= __atomic_load_n(&g_next_activity, __ATOMIC_RELAXED)) {
        __atomic_store_n(&g_next_activity, coarse_now + 1000 * MS, __ATOMIC_RELAXED);
        struct timespec wall;
        clock_gettime(CLOCK_REALTIME_COARSE, &wall);
        __atomic_store_n(&r->last_kernel_time, (uint64_t)wall.tv_sec, __ATOMIC_RELAXED);
        int rk = __atomic_load_n(&r->recent_kernel, __ATOMIC_ACQUIRE);
        if (rk >= 0 && rk != 2) __atomic_store_n(&r->recent_kernel, 2, __ATOMIC_RELEASE);
    }
    while (__atomic_load_n(&r->recent_kernel, __ATOMIC_ACQUIRE) < 0) tessera_sleep_ns(1 * MS);
}

static ctx_state_t *current_state(void) {
    CUcontext ctx = NULL;
    if (!real_cuCtxGetCurrent || real_cuCtxGetCurrent(&ctx) != CUDA_SUCCESS || !ctx) return NULL;
    if (ctx == t_ctx && t_state && t_state->ctx == ctx) return t_state;
    ctx_state_t *found = NULL;
    pthread_mutex_lock(&g_ctx_mu);
    for (int i = 0; i < MAX_CONTEXTS && !found; i++)
        if (g_ctx[i].ctx == ctx) found = &g_ctx[i];
    for (int i = 0; i < MAX_CONTEXTS && !found; i++)
        if (!g_ctx[i].ctx) {
            found = &g_ctx[i];
            found->ctx = ctx;
            found->dev = tessera_current_device();
            found->target = 1;
        }
    pthread_mutex_unlock(&g_ctx_mu);
    t_ctx = ctx;
    t_state = found;
    return found;
}

/* Decides whether this context's launches go through batches, and with which share. */
static void decide(ctx_state_t *st, uint64_t now) {
    st->share = g_throttle_any ? tessera_sm_limit(st->dev) : 100;
    st->yielding = g_board_on && board_higher_priority_active(st->dev, now, tessera_priority(), PRIORITY_WINDOW_NS);
    if (st->yielding) st->higher_seen = now;
    /*
     * A higher-priority process that went quiet may only be waiting for its own
     * queued work, or be descheduled for a moment. Launching freely now would queue
     * up to the driver's limit in front of its next launch, so stay in small,
     * completed batches a while before running unthrottled again.
     */
    int wary = st->higher_seen && now - st->higher_seen < PRIORITY_WARY_NS;
    int batching = st->share < 100 || st->yielding || wary;
    if (!batching && st->batching) {
        st->pending = 0;
        st->launches = 0;
        if (st->has_turn) board_turn_release(st->dev, st->turn_token);
        st->has_turn = 0;
    }
    st->batching = batching;
    /* While yielding, keep little work queued so a higher-priority arrival waits at most ~2 ms. */
    st->quantum_ns = st->yielding || wary ? 2 * MS : __atomic_load_n(&g_quantum_ns, __ATOMIC_RELAXED);
}

static CUresult relaxed(CUresult (*fn)(CUevent, CUstream), CUevent ev, CUstream stream) {
    /* Our own event calls must not disturb, or be refused by, a graph capture in progress. */
    CUstreamCaptureMode mode = CU_STREAM_CAPTURE_MODE_RELAXED;
    int swapped = real_cuThreadExchangeStreamCaptureMode && real_cuThreadExchangeStreamCaptureMode(&mode) == CUDA_SUCCESS;
    CUresult r = fn(ev, stream);
    if (swapped) real_cuThreadExchangeStreamCaptureMode(&mode);
    return r;
}

static CUresult query_event(CUevent ev, CUstream unused) {
    (void)unused;
    return real_cuEventQuery(ev);
}

static CUresult record_event(CUevent ev, CUstream stream) { return real_cuEventRecord(ev, stream); }

static int ensure_events(ctx_state_t *st) {
    if (st->ev_state == 0) {
        int ok = real_cuEventCreate && real_cuEventCreate(&st->ev_begin, 0) == CUDA_SUCCESS;
        if (ok && real_cuEventCreate(&st->ev_end, 0) != CUDA_SUCCESS) {
            real_cuEventDestroy_v2(st->ev_begin);
            ok = 0;
        }
        st->ev_state = ok ? 1 : -1;
    }
    return st->ev_state == 1;
}

static int capturing(CUstream stream) {
    CUstreamCaptureStatus status = CU_STREAM_CAPTURE_STATUS_NONE;
    if (real_cuStreamIsCapturing) real_cuStreamIsCapturing(stream, &status);
    return status != CU_STREAM_CAPTURE_STATUS_NONE;
}

/* GPU time between the batch's two events, or 0 when it cannot be read. */
static uint64_t batch_gpu_ns(ctx_state_t *st) {
    if (!st->timed) return 0;
    float ms = 0;
    CUresult r = real_cuEventElapsedTime_v2 ? real_cuEventElapsedTime_v2(&ms, st->ev_begin, st->ev_end)
               : real_cuEventElapsedTime ? real_cuEventElapsedTime(&ms, st->ev_begin, st->ev_end)
                                         : CUDA_ERROR_NOT_FOUND;
    return r == CUDA_SUCCESS && ms > 0 ? (uint64_t)((double)ms * 1e6) : 0;
}

/* Charges a batch of `busy` ns (GPU time if measured, else wall time) and sets when the next may start. */
static void charge_batch(ctx_state_t *st, uint64_t busy) {
    double per_launch = (double)busy / st->launches;
    int others = g_board_on ? board_others_active_since(st->dev, st->batch_start) : 0;
    double work;
    if (!others) {
        /* Alone on the GPU: the batch's wall time is its GPU time. */
        st->solo_ns_per_launch = st->solo_ns_per_launch ? 0.7 * st->solo_ns_per_launch + 0.3 * per_launch : per_launch;
        work = (double)busy;
    } else if (st->solo_ns_per_launch) {
        /* Time-sliced with others: charge what the work costs alone, not the time spent waiting for them. */
        double solo = st->solo_ns_per_launch * st->launches;
        work = solo < (double)busy ? solo : (double)busy;
    } else {
        work = (double)busy / (others + 1);
    }
    st->last_ns_per_launch = per_launch;
    double period = work * 100.0 / (st->share ? st->share : 100);
    /*
     * Time the limiter lost on its own account (woken late from its sleep, or noticing the batch's
     * end late because the host took the CPU away) comes off the next idle gap, so the share is not
     * forfeited. At most one idle gap: this never lets work run back to back for longer than that.
     */
    double idle = period - work;
    double credit = (double)st->late_ns < idle ? (double)st->late_ns : idle;
    TLOG(TLOG_DEBUG, "batch on device %d: %u launches, %.2f ms, %d others, charged %.2f ms at %u%%, %.2f ms late",
         st->dev, st->launches, (double)busy / 1e6, others, work / 1e6, st->share, (double)st->late_ns / 1e6);
    st->next_start = st->batch_start + (uint64_t)(period - credit);
}

/* Closes the batch: charges it, then hands back the device turn. */
static void account_batch(ctx_state_t *st, uint64_t busy, uint64_t done) {
    if (st->launches) charge_batch(st, busy);
    st->launches = 0;
    st->pending = 0;
    if (g_board_on) board_touch(st->dev, done, 0);
    if (st->has_turn) board_turn_release(st->dev, st->turn_token);
    st->has_turn = 0;
}

static void finish_batch(ctx_state_t *st) {
    uint64_t start = tessera_now_ns();
    uint64_t now = start;
    double per = st->solo_ns_per_launch ? st->solo_ns_per_launch : st->last_ns_per_launch;
    for (;;) {
        CUresult r = relaxed(query_event, st->ev_end, NULL);
        now = tessera_now_ns();
        if (r != CUDA_ERROR_NOT_READY) break; /* done, or an error: stop measuring either way */
        if (now - start > EVENT_WAIT_LIMIT_NS) {
            TLOG(TLOG_WARN, "compute limiter: batch on device %d still running after %llu ms; not waiting longer",
                 st->dev, (unsigned long long)(EVENT_WAIT_LIMIT_NS / MS));
            break;
        }
        if (st->has_turn) board_turn_heartbeat(st->dev, st->turn_token, now);
        /* Sleep about half of what should remain, between 10 µs and 1 ms. */
        double expected_end = (double)st->batch_start + per * st->launches;
        double remaining = expected_end - (double)now;
        uint64_t nap = remaining > 0 ? (uint64_t)(remaining / 2) : 0;
        tessera_sleep_ns(nap < 10000 ? 10000 : nap > MS ? MS : nap);
    }
    /* The GPU's own clock, when available, leaves out launch latency and our polling delay. */
    uint64_t gpu = batch_gpu_ns(st);
    account_batch(st, gpu ? gpu : now - st->batch_start, now);
}

/* A batch left open while the process went quiet: its GPU work ended long ago. */
static void close_stale_batch(ctx_state_t *st) {
    double per = st->solo_ns_per_launch ? st->solo_ns_per_launch : st->last_ns_per_launch;
    uint64_t busy = st->last_launch - st->batch_start + (uint64_t)per;
    account_batch(st, busy, st->last_launch);
}

/* `asked`: when the launch that opens this batch reached the limiter. */
static void start_batch(ctx_state_t *st, uint64_t asked) {
    uint64_t now = tessera_now_ns();
    if (now < st->next_start) {
        tessera_sleep_ns(st->next_start - now);
        now = tessera_now_ns();
    }
    /* Late past both the permitted start and the application's own launch: the limiter's delay. */
    uint64_t due = asked > st->next_start ? asked : st->next_start;
    st->late_ns = st->next_start && now > due ? now - due : 0;
    while (st->yielding) {
        now = tessera_now_ns();
        if (!board_higher_priority_active(st->dev, now, tessera_priority(), PRIORITY_WINDOW_NS)) break;
        tessera_sleep_ns(MS);
    }
    if (g_board_on) {
        if (!st->turn_token) st->turn_token = ((uint64_t)getpid() << 20) ^ (uint64_t)(st - g_ctx + 1) ^ tessera_now_ns();
        st->has_turn = board_turn_acquire(st->dev, st->turn_token, 2 * st->quantum_ns);
    }
    now = tessera_now_ns();
    st->batch_start = now;
    st->last_launch = now;
    double per = st->solo_ns_per_launch ? st->solo_ns_per_launch : st->last_ns_per_launch;
    uint32_t want = per > 0 ? (uint32_t)((double)st->quantum_ns / per) : 1;
    uint32_t most = st->target * 2 + 1; /* grow gradually: early estimates include start-up costs */
    st->target = want < 1 ? 1 : want > most ? most : want > 65536 ? 65536 : want;
    if (g_board_on) board_touch(st->dev, now, 1);
}

void tessera_launch_begin(CUstream stream, launch_ticket_t *ticket) {
    (void)stream;
    ticket->state = NULL;
    uint64_t coarse = tessera_coarse_ns();
    region_activity(coarse);
    if (coarse >= __atomic_load_n(&g_next_refresh, __ATOMIC_RELAXED)) refresh_mode(coarse);
    if (!__atomic_load_n(&g_throttle_any, __ATOMIC_RELAXED) && !__atomic_load_n(&g_board_on, __ATOMIC_RELAXED)) return;
    ctx_state_t *st = current_state();
    if (!st) return;
    pthread_mutex_lock(&st->mu);
    if (!st->batching) {
        if (coarse < st->next_check) {
            pthread_mutex_unlock(&st->mu);
            return;
        }
        st->next_check = coarse + CHECK_NS;
        if (g_board_on) board_touch(st->dev, tessera_now_ns(), 0);
        decide(st, tessera_now_ns());
        if (!st->batching) {
            pthread_mutex_unlock(&st->mu);
            return;
        }
    }
    uint64_t now = tessera_now_ns();
    uint64_t asked = now;
    if (st->pending) finish_batch(st);
    else if (st->launches && now - st->last_launch > st->quantum_ns) close_stale_batch(st);
    if (st->launches == 0) {
        decide(st, now); /* shares and priorities may have changed since the last batch */
        if (!st->batching) {
            pthread_mutex_unlock(&st->mu);
            return;
        }
        start_batch(st, asked);
        st->timed = ensure_events(st) && !capturing(stream) &&
                    relaxed(record_event, st->ev_begin, stream) == CUDA_SUCCESS;
    }
    ticket->state = st;
    pthread_mutex_unlock(&st->mu);
}

void tessera_launch_end(CUstream stream, launch_ticket_t *ticket, CUresult result) {
    ctx_state_t *st = ticket->state;
    if (!st) return;
    pthread_mutex_lock(&st->mu);
    uint64_t now = tessera_now_ns();
    if (result == CUDA_SUCCESS && st->batching) {
        st->launches++;
        st->last_launch = now;
        if (st->has_turn) board_turn_heartbeat(st->dev, st->turn_token, now);
    }
    if (st->batching && !st->pending && st->launches &&
        (st->launches >= st->target || now - st->batch_start >= st->quantum_ns)) {
        if (ensure_events(st) && !capturing(stream) && relaxed(record_event, st->ev_end, stream) == CUDA_SUCCESS) {
            st->pending = 1;
        } else {
            /* No way to observe completion (capture in progress, no event): fall back to host time. */
            close_stale_batch(st);
        }
    }
    pthread_mutex_unlock(&st->mu);
}
