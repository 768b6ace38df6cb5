/*
 * Compute share enforcement (CUDA_DEVICE_SM_LIMIT) and priorities.
 *
 * HAMi-core refills a token bucket from NVML utilisation samples; on large
 * GPUs it barely throttles (its refill step grows with the SM count squared)
 * and it cannot see graph or cooperative launches. Tessera instead measures
 * the GPU time its own work takes: launches are grouped into batches of about
 * one quantum (10 ms) of GPU work; at the end of a batch an event is
 * recorded, and before the next batch starts the limiter waits for that
 * event and then keeps the GPU free of this context's work long enough that
 * work / elapsed equals the share. The cost is one event per batch, not per
 * launch, and nothing at all when no share is set.
 */
#ifndef TESSERA_LIMITER_H
#define TESSERA_LIMITER_H

#include "../include/cuda_abi.h"

typedef struct {
    void *state; /* the batch this launch joined; NULL when not throttled */
} launch_ticket_t;

/* Before a launch on stream: may wait for the context's turn. */
void tessera_launch_begin(CUstream stream, launch_ticket_t *ticket);
/* After the launch returned result. */
void tessera_launch_end(CUstream stream, launch_ticket_t *ticket, CUresult result);

#endif
