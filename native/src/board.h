/*
 * The device board: a small memory-mapped file per physical GPU, shared by
 * every container on the node that uses it (in a node-wide directory the node
 * agent mounts, HAMi's /tmp/vgpulock by default). Each process using the GPU
 * keeps one entry fresh: its priority and when it last had work on the GPU.
 * Two things need this view across containers:
 *  - priority: a lower-priority process yields while a higher-priority one is active;
 *  - fairness: a throttled process can tell whether its last batch shared
 *    the GPU with others, and so how much of the GPU it really consumed.
 * It is advisory and self-healing: entries not refreshed for a few seconds are
 * ignored and reused, so a killed process costs nothing.
 */
#ifndef TESSERA_BOARD_H
#define TESSERA_BOARD_H

#include <stdint.h>

/* 1 when a board directory exists on this node. */
int board_available(void);

/* Marks this process active on dev now; in_batch = 1 while it has throttled work queued. */
void board_touch(int dev, uint64_t now_ns, int in_batch);

/* 1 when a process with a higher priority (smaller number) than prio was active on dev within window_ns. */
int board_higher_priority_active(int dev, uint64_t now_ns, int prio, uint64_t window_ns);

/* How many other processes had work on dev at some time since since_ns. */
int board_others_active_since(int dev, uint64_t since_ns);

/*
 * The device turn: throttled processes on one GPU run their batches one at a
 * time, so each batch's GPU time is its own and shares can be charged exactly
 * whatever the GPU's own scheduling between contexts. Waits at most wait_ns
 * (so that no cycle between processes on several GPUs can block for long);
 * returns 1 when this caller holds the turn. A holder that stops sending
 * heartbeats (dead, or its application idle) loses the turn after a while.
 */
int board_turn_acquire(int dev, uint64_t token, uint64_t wait_ns);
void board_turn_heartbeat(int dev, uint64_t token, uint64_t now_ns);
void board_turn_release(int dev, uint64_t token);

void board_after_fork(void);

/* Frees this process's entries (at exit). */
void board_release(void);

#endif
