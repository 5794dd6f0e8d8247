/* vg_log.c: formats a whole line first, then writes it with one write(2),
 * so lines from different threads never interleave. */
#include "vg_log.h"

#include "vg_err.h"

#include <stdarg.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

static atomic_int s_level = -1;
static const char *s_names[] = {"error", "warn", "info", "debug"};

int vg_log_level_parse(const char *s, vg_log_level *out)
{
    for (int i = 0; i < 4; i++)
        if (s && strcmp(s, s_names[i]) == 0) {
            *out = (vg_log_level) i;
            return VG_OK;
        }
    return VG_ERR_INVALID;
}

void vg_log_set_level(vg_log_level level)
{
    atomic_store(&s_level, (int) level);
}

vg_log_level vg_log_get_level(void)
{
    int lv = atomic_load_explicit(&s_level, memory_order_relaxed);
    if (lv < 0) {
        vg_log_level parsed = VG_LOG_INFO;
        vg_log_level_parse(getenv("VIGIL_LOG"), &parsed);
        lv = (int) parsed;
        atomic_store(&s_level, lv);
    }
    return (vg_log_level) lv;
}

void vg_log(vg_log_level level, const char *module, const char *fmt, ...)
{
    if (level > vg_log_get_level()) return;
    char line[1024];
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    struct tm tm;
    gmtime_r(&ts.tv_sec, &tm);
    int n = snprintf(line, sizeof line,
                     "%04d-%02d-%02dT%02d:%02d:%02d.%03ldZ %-5s %s: ", tm.tm_year + 1900,
                     tm.tm_mon + 1, tm.tm_mday, tm.tm_hour, tm.tm_min, tm.tm_sec,
                     ts.tv_nsec / 1000000, s_names[level], module ? module : "-");
    va_list ap;
    va_start(ap, fmt);
    if (n >= 0 && (size_t) n < sizeof line)
        n += vsnprintf(line + n, sizeof line - (size_t) n, fmt, ap);
    va_end(ap);
    if (n < 0) return;
    if ((size_t) n >= sizeof line - 1) n = (int) sizeof line - 2;
    line[n++] = '\n';
    ssize_t w = write(STDERR_FILENO, line, (size_t) n);
    (void) w;
}
