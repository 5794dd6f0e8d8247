/* vg_log.h: leveled logging to stderr, one line per call, thread-safe.
 * The level comes from vg_log_set_level() or VIGIL_LOG (error|warn|info|
 * debug); default info. Safe to call from any thread. */
#ifndef VG_LOG_H
#define VG_LOG_H

typedef enum { VG_LOG_ERROR = 0, VG_LOG_WARN, VG_LOG_INFO, VG_LOG_DEBUG } vg_log_level;

void vg_log_set_level(vg_log_level level);
vg_log_level vg_log_get_level(void);
/* Parse "error", "warn", "info", "debug"; returns 0 or VG_ERR_INVALID. */
int vg_log_level_parse(const char *s, vg_log_level *out);

void vg_log(vg_log_level level, const char *module, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

#define vg_error(mod, ...) vg_log(VG_LOG_ERROR, mod, __VA_ARGS__)
#define vg_warn(mod, ...)  vg_log(VG_LOG_WARN, mod, __VA_ARGS__)
#define vg_info(mod, ...)  vg_log(VG_LOG_INFO, mod, __VA_ARGS__)
#define vg_debug(mod, ...)                                                              \
    do {                                                                                \
        if (vg_log_get_level() >= VG_LOG_DEBUG) vg_log(VG_LOG_DEBUG, mod, __VA_ARGS__); \
    } while (0)

#endif
