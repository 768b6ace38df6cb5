#include "track.h"

#include <stdlib.h>
#include <string.h>

#define DELETED UINT64_MAX

static size_t hash(uint64_t key, size_t cap) {
    key ^= key >> 33;
    key *= 0xff51afd7ed558ccdULL;
    key ^= key >> 33;
    return (size_t)key & (cap - 1);
}

static int grow(track_map_t *m) {
    size_t cap = m->cap ? m->cap * 2 : 256;
    track_slot_t *slots = calloc(cap, sizeof *slots);
    if (!slots) return -1;
    for (size_t i = 0; i < m->cap; i++) {
        uint64_t k = m->slots[i].key;
        if (k == 0 || k == DELETED) continue;
        size_t j = hash(k, cap);
        while (slots[j].key) j = (j + 1) & (cap - 1);
        slots[j] = m->slots[i];
    }
    free(m->slots);
    m->slots = slots;
    m->cap = cap;
    m->tombstones = 0;
    return 0;
}

int track_put(track_map_t *m, uint64_t key, track_rec_t rec) {
    if (key == 0 || key == DELETED) return -1;
    pthread_mutex_lock(&m->mu);
    if ((m->used + m->tombstones + 1) * 2 > m->cap && grow(m) != 0) {
        pthread_mutex_unlock(&m->mu);
        return -1;
    }
    size_t j = hash(key, m->cap);
    while (m->slots[j].key && m->slots[j].key != DELETED && m->slots[j].key != key) j = (j + 1) & (m->cap - 1);
    if (m->slots[j].key == DELETED) m->tombstones--;
    if (m->slots[j].key != key) m->used++;
    m->slots[j].key = key;
    m->slots[j].rec = rec;
    pthread_mutex_unlock(&m->mu);
    return 0;
}

int track_take(track_map_t *m, uint64_t key, track_rec_t *out) {
    int found = -1;
    pthread_mutex_lock(&m->mu);
    if (m->cap && key != 0 && key != DELETED) {
        size_t j = hash(key, m->cap);
        while (m->slots[j].key) {
            if (m->slots[j].key == key) {
                *out = m->slots[j].rec;
                m->slots[j].key = DELETED;
                m->used--;
                m->tombstones++;
                found = 0;
                break;
            }
            j = (j + 1) & (m->cap - 1);
        }
    }
    pthread_mutex_unlock(&m->mu);
    return found;
}

void track_reset(track_map_t *m) {
    pthread_mutex_t fresh = PTHREAD_MUTEX_INITIALIZER;
    m->mu = fresh;
    free(m->slots);
    m->slots = NULL;
    m->cap = m->used = m->tombstones = 0;
}
