/* vg_signals.c: sigtimedwait() on the blocked SIGINT/SIGTERM set; EINTR is
 * retried with the remaining time. */
#include "vg_signals.h"

#include "vg_time.h"

#include <errno.h>
#include <pthread.h>
#include <signal.h>

static void s_set(sigset_t *set)
{
    sigemptyset(set);
    sigaddset(set, SIGINT);
    sigaddset(set, SIGTERM);
}

void vg_signals_block(void)
{
    sigset_t set;
    s_set(&set);
    pthread_sigmask(SIG_BLOCK, &set, NULL);
}

int vg_signals_wait(int timeout_ms)
{
    sigset_t set;
    s_set(&set);
    uint64_t deadline = vg_now_ns() + (uint64_t) (timeout_ms < 0 ? 0 : timeout_ms) * 1000000u;
    for (;;) {
        int sig;
        if (timeout_ms < 0) {
            sig = sigwaitinfo(&set, NULL);
        } else {
            uint64_t now = vg_now_ns();
            uint64_t left = deadline > now ? deadline - now : 0;
            struct timespec ts = {(time_t) (left / 1000000000u), (long) (left % 1000000000u)};
            sig = sigtimedwait(&set, NULL, &ts);
        }
        if (sig > 0) return sig;
        if (errno == EAGAIN) return 0;
        if (errno != EINTR) return 0;
    }
}
