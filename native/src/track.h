/* Process-local records of what this process allocated, so that frees un-charge exactly what was charged. */
#ifndef TESSERA_TRACK_H
#define TESSERA_TRACK_H

#include <pthread.h>
#include <stdint.h>

typedef struct {
    uint64_t bytes;
    int dev;
    uintptr_t aux; /* kind-specific: the pool of a stream-ordered allocation */
} track_rec_t;

typedef struct {
    uint64_t key; /* 0 = empty, UINT64_MAX = deleted */
    track_rec_t rec;
} track_slot_t;

typedef struct {
    pthread_mutex_t mu;
    track_slot_t *slots;
    size_t cap, used, tombstones;
} track_map_t;

#define TRACK_MAP_INIT {PTHREAD_MUTEX_INITIALIZER, 0, 0, 0, 0}

/* Records key -> rec; returns 0, or -1 when out of host memory (the caller then cannot track it). */
int track_put(track_map_t *m, uint64_t key, track_rec_t rec);
/* Removes key and returns its record in *out; 0 if found, -1 if not. */
int track_take(track_map_t *m, uint64_t key, track_rec_t *out);
/* Drops every record without freeing anything (a forked child owns none of its parent's memory). */
void track_reset(track_map_t *m);

#endif
