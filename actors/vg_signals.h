/* vg_signals.h: SIGINT/SIGTERM handling for a process of many threads.
 * Block both in main before any thread exists (threads inherit the mask),
 * then wait for them synchronously: no async signal handler anywhere. */
#ifndef VG_SIGNALS_H
#define VG_SIGNALS_H

/* Blocks SIGINT and SIGTERM in the calling thread; threads created
 * afterwards inherit the mask. Call in main before starting any thread. */
void vg_signals_block(void);

/* Waits up to timeout_ms (< 0 = forever) for SIGINT or SIGTERM and
 * consumes it. Returns the signal number, or 0 on timeout. Any thread
 * that has them blocked (normally main). */
int vg_signals_wait(int timeout_ms);

#endif
