/*
 * A stub libnvidia-ml.so.1 for the node agent's NVML discovery tests
 * (src/node-agent/discovery/nvml.test.ts). It implements exactly the NVML calls that
 * src/node-agent/discovery/nvml-library.ts declares, with nvml.h's signatures, struct layouts
 * and return codes, so the real koffi binding runs on machines without a GPU.
 *
 * The fake hardware comes from the text file named by TESSERA_NVML_STUB, read at nvmlInit_v2
 * and read again by every nvmlEventSetWait_v2 and nvmlDeviceGetUtilizationRates, so a test can
 * inject XIDs, lost GPUs and new usage while the backend runs (write the file whole, e.g. write a temporary file and rename it). One fact
 * a line; `#` starts a comment; indexes are the order of the `gpu` lines:
 *
 *   gpu <uuid> <memMiB|na> <busId> <mig 0|1|na> <name, the rest of the line>
 *   nvlink <i> <j> <count>       count NVLinks between GPUs i and j (on both ends)
 *   switchlinks <i> <count>      count NVLinks from GPU i to an NVSwitch
 *   topo <i> <j> <level|na>      nvmlGpuTopologyLevel_t of the pair (default 40, NODE)
 *   noevents <i>                 nvmlDeviceRegisterEvents returns NOT_SUPPORTED for GPU i
 *   xid <i> <code>               an XID critical-error event on GPU i; each `xid` line is
 *                                delivered once, in file order, so append lines to inject more
 *   lost <i>                     every query of GPU i returns NVML_ERROR_GPU_IS_LOST
 *   initerror <code>             nvmlInit_v2 returns this code
 *   usage <i> <usedMiB> <gpu%|na> <mem%>
 *                                GPU i's memory in use (nvmlMemory_t.used; free = total - used)
 *                                and utilisation rates; `na` makes nvmlDeviceGetUtilizationRates
 *                                return NOT_SUPPORTED. Without the line: 0 used, 0 %, 0 %.
 *
 * `na` memory or MIG makes that query return NVML_ERROR_NOT_SUPPORTED. A GPU without any
 * `nvlink`/`switchlinks` line answers NOT_SUPPORTED to nvmlDeviceGetNvLinkState; a GPU with
 * some has its links first, then inactive ones up to NVML_NVLINK_MAX_LINKS.
 *
 * Built by test/support/nvml-stub.ts; -DSTUB_NO_REMOTE_DEVICE_TYPE leaves out
 * nvmlDeviceGetNvLinkRemoteDeviceType, as drivers older than R450 do.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define EXPORT __attribute__((visibility("default")))

typedef int nvmlReturn_t;
enum {
    NVML_SUCCESS = 0,
    NVML_ERROR_UNINITIALIZED = 1,
    NVML_ERROR_INVALID_ARGUMENT = 2,
    NVML_ERROR_NOT_SUPPORTED = 3,
    NVML_ERROR_INSUFFICIENT_SIZE = 7,
    NVML_ERROR_DRIVER_NOT_LOADED = 9,
    NVML_ERROR_TIMEOUT = 10,
    NVML_ERROR_GPU_IS_LOST = 15,
    NVML_ERROR_UNKNOWN = 999,
};

#define MAX_GPUS 16
#define NVML_NVLINK_MAX_LINKS 18
#define NVLINK_DEVICE_TYPE_GPU 0
#define NVLINK_DEVICE_TYPE_SWITCH 2
#define EVENT_XID_CRITICAL 0x8ULL
#define MAX_XIDS 256
#define SWITCH_BUS_ID "00000000:C3:00.0"

/* nvml.h layouts. */
typedef struct nvmlDevice_st *nvmlDevice_t;
typedef struct nvmlEventSet_st *nvmlEventSet_t;
typedef struct {
    unsigned long long total, free, used;
} nvmlMemory_t;
typedef struct {
    char busIdLegacy[16];
    unsigned int domain, bus, device, pciDeviceId, pciSubSystemId;
    char busId[32];
} nvmlPciInfo_t;
typedef struct {
    nvmlDevice_t device;
    unsigned long long eventType, eventData;
    unsigned int gpuInstanceId, computeInstanceId;
} nvmlEventData_t;

struct nvmlDevice_st {
    int index;
};

typedef struct {
    char remote[32];
    int type;
} link_t;

typedef struct {
    char uuid[96];
    char name[96];
    char bus_id[32];
    long long mem_mib; /* -1: not supported */
    int mig;           /* -1: not supported */
    int lost;
    int no_events;
    int nlinks;
    link_t links[NVML_NVLINK_MAX_LINKS];
    long long used_mib;
    int util_gpu; /* -1: not supported */
    int util_mem;
} gpu_t;

typedef struct {
    unsigned int gpu, memory;
} nvmlUtilization_t;

typedef struct {
    int ngpus;
    gpu_t gpu[MAX_GPUS];
    int topo[MAX_GPUS][MAX_GPUS];
    int init_error;
    int nxids;
    int xid_gpu[MAX_XIDS];
    unsigned long long xid_code[MAX_XIDS];
} config_t;

static config_t g_cfg;
static int g_init_count;
static int g_xids_delivered;
static struct nvmlDevice_st g_handles[MAX_GPUS];

struct nvmlEventSet_st {
    unsigned long long mask[MAX_GPUS];
};
static struct nvmlEventSet_st g_sets[4];
static int g_sets_used[4];

static int add_link(config_t *c, int i, const char *remote, int type) {
    gpu_t *g = &c->gpu[i];
    if (g->nlinks >= NVML_NVLINK_MAX_LINKS) return -1;
    char copy[sizeof g->links[0].remote]; /* remote may be another GPU's bus id in *c */
    snprintf(copy, sizeof copy, "%s", remote);
    memcpy(g->links[g->nlinks].remote, copy, sizeof copy);
    g->links[g->nlinks].type = type;
    g->nlinks++;
    return 0;
}

static int valid_gpu(const config_t *c, int i) { return i >= 0 && i < c->ngpus; }

/* Parses the file into *c; returns 0, or -1 after printing the offending line. */
static int load_config(const char *path, config_t *c) {
    FILE *f = fopen(path, "r");
    if (!f) {
        fprintf(stderr, "stub_nvml_inventory: cannot open %s (TESSERA_NVML_STUB)\n", path);
        return -1;
    }
    memset(c, 0, sizeof *c);
    for (int i = 0; i < MAX_GPUS; i++)
        for (int j = 0; j < MAX_GPUS; j++) c->topo[i][j] = 40;
    char line[512];
    int lineno = 0, bad = 0;
    while (!bad && fgets(line, sizeof line, f)) {
        lineno++;
        char *hash = strchr(line, '#');
        if (hash) *hash = '\0';
        line[strcspn(line, "\r\n")] = '\0';
        char word[32] = "";
        int i = -1, j = -1, n = -1, consumed = 0;
        if (sscanf(line, " %31s%n", word, &consumed) != 1) continue;
        const char *rest = line + consumed;
        if (strcmp(word, "gpu") == 0) {
            if (c->ngpus >= MAX_GPUS) {
                bad = 1;
                break;
            }
            gpu_t *g = &c->gpu[c->ngpus];
            char mem[32], mig[8];
            int name_at = 0;
            if (sscanf(rest, " %95s %31s %31s %7s %n", g->uuid, mem, g->bus_id, mig, &name_at) != 4 || rest[name_at] == '\0') {
                bad = 1;
                break;
            }
            snprintf(g->name, sizeof g->name, "%s", rest + name_at);
            g->mem_mib = strcmp(mem, "na") == 0 ? -1 : atoll(mem);
            g->mig = strcmp(mig, "na") == 0 ? -1 : atoi(mig);
            c->ngpus++;
        } else if (strcmp(word, "nvlink") == 0) {
            bad = sscanf(rest, "%d %d %d", &i, &j, &n) != 3 || !valid_gpu(c, i) || !valid_gpu(c, j) || i == j;
            for (int k = 0; !bad && k < n; k++)
                bad = add_link(c, i, c->gpu[j].bus_id, NVLINK_DEVICE_TYPE_GPU) ||
                      add_link(c, j, c->gpu[i].bus_id, NVLINK_DEVICE_TYPE_GPU);
        } else if (strcmp(word, "switchlinks") == 0) {
            bad = sscanf(rest, "%d %d", &i, &n) != 2 || !valid_gpu(c, i);
            for (int k = 0; !bad && k < n; k++) bad = add_link(c, i, SWITCH_BUS_ID, NVLINK_DEVICE_TYPE_SWITCH);
        } else if (strcmp(word, "topo") == 0) {
            char level[8];
            bad = sscanf(rest, "%d %d %7s", &i, &j, level) != 3 || !valid_gpu(c, i) || !valid_gpu(c, j);
            if (!bad) c->topo[i][j] = c->topo[j][i] = strcmp(level, "na") == 0 ? -1 : atoi(level);
        } else if (strcmp(word, "noevents") == 0) {
            bad = sscanf(rest, "%d", &i) != 1 || !valid_gpu(c, i);
            if (!bad) c->gpu[i].no_events = 1;
        } else if (strcmp(word, "lost") == 0) {
            bad = sscanf(rest, "%d", &i) != 1 || !valid_gpu(c, i);
            if (!bad) c->gpu[i].lost = 1;
        } else if (strcmp(word, "xid") == 0) {
            unsigned long long code = 0;
            bad = sscanf(rest, "%d %llu", &i, &code) != 2 || !valid_gpu(c, i) || c->nxids >= MAX_XIDS;
            if (!bad) {
                c->xid_gpu[c->nxids] = i;
                c->xid_code[c->nxids] = code;
                c->nxids++;
            }
        } else if (strcmp(word, "usage") == 0) {
            long long used = 0;
            char gpu_pct[8];
            int mem_pct = 0;
            bad = sscanf(rest, "%d %lld %7s %d", &i, &used, gpu_pct, &mem_pct) != 4 || !valid_gpu(c, i) || used < 0;
            if (!bad) {
                c->gpu[i].used_mib = used;
                c->gpu[i].util_gpu = strcmp(gpu_pct, "na") == 0 ? -1 : atoi(gpu_pct);
                c->gpu[i].util_mem = mem_pct;
            }
        } else if (strcmp(word, "initerror") == 0) {
            bad = sscanf(rest, "%d", &c->init_error) != 1;
        } else {
            bad = 1;
        }
    }
    fclose(f);
    if (bad) fprintf(stderr, "stub_nvml_inventory: %s:%d: cannot use this line\n", path, lineno);
    return bad ? -1 : 0;
}

/* Takes the runtime facts (lost GPUs, new XIDs) from the file as it is now. */
static void reload_runtime(void) {
    const char *path = getenv("TESSERA_NVML_STUB");
    static config_t next;
    if (!path || load_config(path, &next) != 0) return; /* keep the last good facts */
    for (int i = 0; i < g_cfg.ngpus && i < next.ngpus; i++) {
        g_cfg.gpu[i].lost = next.gpu[i].lost;
        g_cfg.gpu[i].used_mib = next.gpu[i].used_mib;
        g_cfg.gpu[i].util_gpu = next.gpu[i].util_gpu;
        g_cfg.gpu[i].util_mem = next.gpu[i].util_mem;
    }
    g_cfg.nxids = next.nxids;
    memcpy(g_cfg.xid_gpu, next.xid_gpu, sizeof next.xid_gpu);
    memcpy(g_cfg.xid_code, next.xid_code, sizeof next.xid_code);
}

/* The GPU behind a handle, or NULL; *ret says why not. */
static gpu_t *gpu_of(nvmlDevice_t dev, nvmlReturn_t *ret) {
    if (g_init_count == 0) {
        *ret = NVML_ERROR_UNINITIALIZED;
        return NULL;
    }
    if (!dev || dev < g_handles || dev >= g_handles + g_cfg.ngpus) {
        *ret = NVML_ERROR_INVALID_ARGUMENT;
        return NULL;
    }
    gpu_t *g = &g_cfg.gpu[dev->index];
    if (g->lost) {
        *ret = NVML_ERROR_GPU_IS_LOST;
        return NULL;
    }
    *ret = NVML_SUCCESS;
    return g;
}

static nvmlReturn_t copy_string(char *out, unsigned length, const char *value) {
    if (!out) return NVML_ERROR_INVALID_ARGUMENT;
    if (strlen(value) + 1 > length) return NVML_ERROR_INSUFFICIENT_SIZE;
    memcpy(out, value, strlen(value) + 1);
    return NVML_SUCCESS;
}

static void fill_pci(nvmlPciInfo_t *pci, const char *bus_id) {
    unsigned domain = 0, bus = 0, device = 0, function = 0;
    memset(pci, 0, sizeof *pci);
    sscanf(bus_id, "%x:%x:%x.%x", &domain, &bus, &device, &function);
    pci->domain = domain;
    pci->bus = bus;
    pci->device = device;
    pci->pciDeviceId = 0x20B510DE;
    pci->pciSubSystemId = 0x153310DE;
    snprintf(pci->busIdLegacy, sizeof pci->busIdLegacy, "%04X:%02X:%02X.%X", domain & 0xffff, bus, device, function);
    snprintf(pci->busId, sizeof pci->busId, "%s", bus_id);
}

EXPORT const char *nvmlErrorString(nvmlReturn_t result) {
    switch (result) {
    case NVML_SUCCESS: return "Success";
    case NVML_ERROR_UNINITIALIZED: return "Uninitialized";
    case NVML_ERROR_INVALID_ARGUMENT: return "Invalid Argument";
    case NVML_ERROR_NOT_SUPPORTED: return "Not Supported";
    case NVML_ERROR_INSUFFICIENT_SIZE: return "Insufficient Size";
    case NVML_ERROR_DRIVER_NOT_LOADED: return "Driver Not Loaded";
    case NVML_ERROR_TIMEOUT: return "Timeout";
    case NVML_ERROR_GPU_IS_LOST: return "GPU is lost";
    default: return "Unknown Error";
    }
}

EXPORT nvmlReturn_t nvmlInit_v2(void) {
    if (g_init_count > 0) {
        g_init_count++;
        return NVML_SUCCESS;
    }
    const char *path = getenv("TESSERA_NVML_STUB");
    if (!path) {
        fprintf(stderr, "stub_nvml_inventory: TESSERA_NVML_STUB names no file\n");
        return NVML_ERROR_DRIVER_NOT_LOADED;
    }
    if (load_config(path, &g_cfg) != 0) return NVML_ERROR_UNKNOWN;
    if (g_cfg.init_error != 0) return g_cfg.init_error;
    for (int i = 0; i < MAX_GPUS; i++) g_handles[i].index = i;
    memset(g_sets_used, 0, sizeof g_sets_used);
    g_xids_delivered = 0;
    g_init_count = 1;
    return NVML_SUCCESS;
}

EXPORT nvmlReturn_t nvmlShutdown(void) {
    if (g_init_count == 0) return NVML_ERROR_UNINITIALIZED;
    g_init_count--;
    return NVML_SUCCESS;
}

EXPORT nvmlReturn_t nvmlDeviceGetCount_v2(unsigned int *count) {
    if (g_init_count == 0) return NVML_ERROR_UNINITIALIZED;
    if (!count) return NVML_ERROR_INVALID_ARGUMENT;
    *count = (unsigned)g_cfg.ngpus;
    return NVML_SUCCESS;
}

EXPORT nvmlReturn_t nvmlDeviceGetHandleByIndex_v2(unsigned int index, nvmlDevice_t *device) {
    if (g_init_count == 0) return NVML_ERROR_UNINITIALIZED;
    if (!device || index >= (unsigned)g_cfg.ngpus) return NVML_ERROR_INVALID_ARGUMENT;
    *device = &g_handles[index];
    return NVML_SUCCESS;
}

EXPORT nvmlReturn_t nvmlDeviceGetUUID(nvmlDevice_t device, char *uuid, unsigned int length) {
    nvmlReturn_t ret;
    gpu_t *g = gpu_of(device, &ret);
    return g ? copy_string(uuid, length, g->uuid) : ret;
}

EXPORT nvmlReturn_t nvmlDeviceGetName(nvmlDevice_t device, char *name, unsigned int length) {
    nvmlReturn_t ret;
    gpu_t *g = gpu_of(device, &ret);
    return g ? copy_string(name, length, g->name) : ret;
}

EXPORT nvmlReturn_t nvmlDeviceGetMemoryInfo(nvmlDevice_t device, nvmlMemory_t *memory) {
    nvmlReturn_t ret;
    gpu_t *g = gpu_of(device, &ret);
    if (!g) return ret;
    if (!memory) return NVML_ERROR_INVALID_ARGUMENT;
    if (g->mem_mib < 0) return NVML_ERROR_NOT_SUPPORTED;
    memory->total = (unsigned long long)g->mem_mib << 20;
    memory->used = (unsigned long long)g->used_mib << 20;
    memory->free = memory->used > memory->total ? 0 : memory->total - memory->used;
    return NVML_SUCCESS;
}

EXPORT nvmlReturn_t nvmlDeviceGetUtilizationRates(nvmlDevice_t device, nvmlUtilization_t *utilization) {
    if (g_init_count > 0) reload_runtime();
    nvmlReturn_t ret;
    gpu_t *g = gpu_of(device, &ret);
    if (!g) return ret;
    if (!utilization) return NVML_ERROR_INVALID_ARGUMENT;
    if (g->util_gpu < 0) return NVML_ERROR_NOT_SUPPORTED;
    utilization->gpu = (unsigned)g->util_gpu;
    utilization->memory = (unsigned)g->util_mem;
    return NVML_SUCCESS;
}

EXPORT nvmlReturn_t nvmlDeviceGetPciInfo_v3(nvmlDevice_t device, nvmlPciInfo_t *pci) {
    nvmlReturn_t ret;
    gpu_t *g = gpu_of(device, &ret);
    if (!g) return ret;
    if (!pci) return NVML_ERROR_INVALID_ARGUMENT;
    fill_pci(pci, g->bus_id);
    return NVML_SUCCESS;
}

EXPORT nvmlReturn_t nvmlDeviceGetMigMode(nvmlDevice_t device, unsigned int *currentMode, unsigned int *pendingMode) {
    nvmlReturn_t ret;
    gpu_t *g = gpu_of(device, &ret);
    if (!g) return ret;
    if (!currentMode || !pendingMode) return NVML_ERROR_INVALID_ARGUMENT;
    if (g->mig < 0) return NVML_ERROR_NOT_SUPPORTED;
    *currentMode = *pendingMode = (unsigned)g->mig;
    return NVML_SUCCESS;
}

EXPORT nvmlReturn_t nvmlDeviceGetNvLinkState(nvmlDevice_t device, unsigned int link, int *isActive) {
    nvmlReturn_t ret;
    gpu_t *g = gpu_of(device, &ret);
    if (!g) return ret;
    if (!isActive || link >= NVML_NVLINK_MAX_LINKS) return NVML_ERROR_INVALID_ARGUMENT;
    if (g->nlinks == 0) return NVML_ERROR_NOT_SUPPORTED;
    *isActive = (int)link < g->nlinks ? 1 : 0;
    return NVML_SUCCESS;
}

EXPORT nvmlReturn_t nvmlDeviceGetNvLinkRemotePciInfo_v2(nvmlDevice_t device, unsigned int link, nvmlPciInfo_t *pci) {
    nvmlReturn_t ret;
    gpu_t *g = gpu_of(device, &ret);
    if (!g) return ret;
    if (!pci || link >= NVML_NVLINK_MAX_LINKS) return NVML_ERROR_INVALID_ARGUMENT;
    if ((int)link >= g->nlinks) return NVML_ERROR_NOT_SUPPORTED;
    fill_pci(pci, g->links[link].remote);
    return NVML_SUCCESS;
}

#ifndef STUB_NO_REMOTE_DEVICE_TYPE
EXPORT nvmlReturn_t nvmlDeviceGetNvLinkRemoteDeviceType(nvmlDevice_t device, unsigned int link, int *type) {
    nvmlReturn_t ret;
    gpu_t *g = gpu_of(device, &ret);
    if (!g) return ret;
    if (!type || link >= NVML_NVLINK_MAX_LINKS) return NVML_ERROR_INVALID_ARGUMENT;
    if ((int)link >= g->nlinks) return NVML_ERROR_NOT_SUPPORTED;
    *type = g->links[link].type;
    return NVML_SUCCESS;
}
#endif

EXPORT nvmlReturn_t nvmlDeviceGetTopologyCommonAncestor(nvmlDevice_t device1, nvmlDevice_t device2, int *pathInfo) {
    nvmlReturn_t ret;
    if (!gpu_of(device1, &ret) || !gpu_of(device2, &ret)) return ret;
    if (!pathInfo) return NVML_ERROR_INVALID_ARGUMENT;
    int level = device1 == device2 ? 0 : g_cfg.topo[device1->index][device2->index];
    if (level < 0) return NVML_ERROR_NOT_SUPPORTED;
    *pathInfo = level;
    return NVML_SUCCESS;
}

EXPORT nvmlReturn_t nvmlEventSetCreate(nvmlEventSet_t *set) {
    if (g_init_count == 0) return NVML_ERROR_UNINITIALIZED;
    if (!set) return NVML_ERROR_INVALID_ARGUMENT;
    for (int s = 0; s < 4; s++) {
        if (g_sets_used[s]) continue;
        g_sets_used[s] = 1;
        memset(&g_sets[s], 0, sizeof g_sets[s]);
        *set = &g_sets[s];
        return NVML_SUCCESS;
    }
    return NVML_ERROR_UNKNOWN;
}

EXPORT nvmlReturn_t nvmlEventSetFree(nvmlEventSet_t set) {
    if (g_init_count == 0) return NVML_ERROR_UNINITIALIZED;
    if (!set || set < g_sets || set >= g_sets + 4) return NVML_ERROR_INVALID_ARGUMENT;
    g_sets_used[set - g_sets] = 0;
    return NVML_SUCCESS;
}

EXPORT nvmlReturn_t nvmlDeviceRegisterEvents(nvmlDevice_t device, unsigned long long eventTypes, nvmlEventSet_t set) {
    nvmlReturn_t ret;
    gpu_t *g = gpu_of(device, &ret);
    if (!g) return ret;
    if (!set || set < g_sets || set >= g_sets + 4) return NVML_ERROR_INVALID_ARGUMENT;
    if (g->no_events) return NVML_ERROR_NOT_SUPPORTED;
    set->mask[device->index] |= eventTypes;
    return NVML_SUCCESS;
}

EXPORT nvmlReturn_t nvmlEventSetWait_v2(nvmlEventSet_t set, nvmlEventData_t *data, unsigned int timeoutms) {
    (void)timeoutms; /* the stub never blocks */
    if (g_init_count == 0) return NVML_ERROR_UNINITIALIZED;
    if (!set || !data || set < g_sets || set >= g_sets + 4) return NVML_ERROR_INVALID_ARGUMENT;
    reload_runtime();
    while (g_xids_delivered < g_cfg.nxids) {
        int gpu = g_cfg.xid_gpu[g_xids_delivered];
        unsigned long long code = g_cfg.xid_code[g_xids_delivered];
        g_xids_delivered++;
        if (!(set->mask[gpu] & EVENT_XID_CRITICAL)) continue; /* not registered: never seen */
        data->device = &g_handles[gpu];
        data->eventType = EVENT_XID_CRITICAL;
        data->eventData = code;
        data->gpuInstanceId = 0xFFFFFFFFu;
        data->computeInstanceId = 0xFFFFFFFFu;
        return NVML_SUCCESS;
    }
    return NVML_ERROR_TIMEOUT;
}
