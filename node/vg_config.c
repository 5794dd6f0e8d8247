/* vg_config.c: key table driven configuration: one setter per value type,
 * a strict "key = value" file parser, VIGIL_* environment, flags. */
#include "vg_config.h"

#include "vg_err.h"
#include "vg_log.h"
#include "vg_mem.h"

#include <ctype.h>
#include <errno.h>
#include <math.h>
#include <stddef.h>
#include <stdlib.h>
#include <string.h>

extern char **environ;

typedef enum { T_STR, T_BOOL, T_INT, T_U32, T_I64, T_SIZE, T_F64 } s_type;

typedef struct {
    const char *key;
    s_type type;
    size_t off, size;
    const char *def;
    const char *help;
} s_key_t;

#define S_KEY(key, TYPE, field, def, help)                                                       \
    {#key, T_##TYPE, offsetof(vg_node_config_t, field), sizeof(((vg_node_config_t *) 0)->field), \
     def,  help},
static const s_key_t s_keys[] = {VG_NODE_KEYS(S_KEY)};
#undef S_KEY

static const s_key_t *s_find(const char *key)
{
    for (size_t i = 0; i < VG_ARRAY_LEN(s_keys); i++)
        if (strcmp(s_keys[i].key, key) == 0) return &s_keys[i];
    return NULL;
}

static int s_parse_size(const char *v, size_t *out)
{
    char *end;
    errno = 0;
    unsigned long long n = strtoull(v, &end, 10);
    if (end == v || errno || v[0] == '-') return -1;
    unsigned long long mul = 1;
    if (*end == 'k' || *end == 'K')
        mul = 1024, end++;
    else if (*end == 'm' || *end == 'M')
        mul = 1024 * 1024, end++;
    else if (*end == 'g' || *end == 'G')
        mul = 1024ull * 1024 * 1024, end++;
    if (*end || n > SIZE_MAX / mul) return -1;
    *out = (size_t) (n * mul);
    return 0;
}

static int s_set_typed(vg_node_config_t *cfg, const s_key_t *k, const char *v, vg_perr_t *err)
{
    void *p = (char *) cfg + k->off;
    char *end;
    errno = 0;
    switch (k->type) {
    case T_STR:
        if (strlen(v) >= k->size)
            return vg_perr_set(err, VG_ERR_INVALID, k->key, "longer than %zu bytes", k->size - 1);
        memcpy(p, v, strlen(v) + 1);
        return 0;
    case T_BOOL:
        if (!strcmp(v, "true") || !strcmp(v, "1") || !strcmp(v, "yes") || !strcmp(v, "on"))
            return *(bool *) p = true, 0;
        if (!strcmp(v, "false") || !strcmp(v, "0") || !strcmp(v, "no") || !strcmp(v, "off"))
            return *(bool *) p = false, 0;
        return vg_perr_set(err, VG_ERR_INVALID, k->key, "must be true or false (got '%s')", v);
    case T_INT:
    case T_U32:
    case T_I64: {
        long long n = strtoll(v, &end, 10);
        bool bad = end == v || *end || errno || (k->type != T_I64 && (n < 0 || n > INT32_MAX));
        if (bad)
            return vg_perr_set(err, VG_ERR_INVALID, k->key,
                               "must be a non-negative integer (got '%s')", v);
        if (k->type == T_INT)
            *(int *) p = (int) n;
        else if (k->type == T_U32)
            *(uint32_t *) p = (uint32_t) n;
        else
            *(int64_t *) p = n;
        return 0;
    }
    case T_SIZE:
        if (s_parse_size(v, (size_t *) p))
            return vg_perr_set(err, VG_ERR_INVALID, k->key,
                               "must be a size like 65536, 64k or 8m (got '%s')", v);
        return 0;
    case T_F64: {
        double d = strtod(v, &end);
        if (end == v || *end || !isfinite(d))
            return vg_perr_set(err, VG_ERR_INVALID, k->key, "must be a number (got '%s')", v);
        *(double *) p = d;
        return 0;
    }
    }
    return VG_ERR_INTERNAL;
}

int vg_node_config_set(vg_node_config_t *cfg, const char *key, const char *value, vg_perr_t *err)
{
    const s_key_t *k = s_find(key);
    if (k) return s_set_typed(cfg, k, value, err);
    char msg[256];
    int rc = vg_detect_config_set(&cfg->engine.detect, key, value, msg, sizeof msg);
    if (rc == VG_ERR_NOT_FOUND) return vg_perr_set(err, rc, key, "unknown option (see --help)");
    if (rc) return vg_perr_set(err, rc, key, "%s", msg);
    return 0;
}

void vg_node_config_default(vg_node_config_t *cfg)
{
    memset(cfg, 0, sizeof *cfg);
    vg_engine_config_default(&cfg->engine);
    for (size_t i = 0; i < VG_ARRAY_LEN(s_keys); i++) {
        vg_perr_t err;
        vg_perr_clear(&err);
        int rc = s_set_typed(cfg, &s_keys[i], s_keys[i].def, &err);
        VG_ASSERT(rc == 0);
    }
}

/* ---- file ---------------------------------------------------------------- */

static char *s_trim(char *s, char *end)
{
    while (s < end && isspace((unsigned char) *s)) s++;
    while (end > s && isspace((unsigned char) end[-1])) end--;
    *end = 0;
    return s;
}

int vg_config_parse(const char *text, size_t len, vg_config_kv_fn *fn, void *arg, vg_perr_t *err)
{
    char line[1024], where[32];
    int lineno = 0;
    for (const char *p = text, *end = text + len; p < end;) {
        const char *nl = memchr(p, '\n', (size_t) (end - p));
        size_t n = (size_t) ((nl ? nl : end) - p);
        lineno++;
        snprintf(where, sizeof where, "line %d", lineno);
        if (n >= sizeof line)
            return vg_perr_set(err, VG_ERR_PARSE, where, "line too long (max 1023 bytes)");
        memcpy(line, p, n);
        line[n] = 0;
        p = nl ? nl + 1 : end;
        if (memchr(line, 0, n)) return vg_perr_set(err, VG_ERR_PARSE, where, "NUL byte in line");
        char *s = s_trim(line, line + n);
        if (!*s || *s == '#') continue;
        char *eq = strchr(s, '=');
        if (!eq) return vg_perr_set(err, VG_ERR_PARSE, where, "expected 'key = value'");
        char *key = s_trim(s, eq), *val = s_trim(eq + 1, eq + 1 + strlen(eq + 1));
        if (!*key) return vg_perr_set(err, VG_ERR_PARSE, where, "missing key before '='");
        for (char *k = key; *k; k++)
            if (!isalnum((unsigned char) *k) && *k != '_' && *k != '.')
                return vg_perr_set(err, VG_ERR_PARSE, where, "invalid character in key '%s'", key);
        size_t vl = strlen(val);
        if (vl >= 2 && val[0] == '"' && val[vl - 1] == '"') {
            val[vl - 1] = 0;
            val++;
        } else if (strchr(val, '#')) {
            *strchr(val, '#') = 0; /* trailing comment */
            val = s_trim(val, val + strlen(val));
        }
        int rc = fn(arg, key, val, lineno, err);
        if (rc) return rc;
    }
    return 0;
}

static int s_file_kv(void *arg, const char *key, const char *value, int line, vg_perr_t *err)
{
    vg_node_config_t *cfg = arg;
    int rc = vg_node_config_set(cfg, key, value, err);
    if (rc) {
        char field[96];
        snprintf(field, sizeof field, "%s:%d: %s", cfg->config_path, line, err->field);
        snprintf(err->field, sizeof err->field, "%s", field);
    }
    return rc;
}

static int s_load_file(vg_node_config_t *cfg, vg_perr_t *err)
{
    FILE *f = fopen(cfg->config_path, "rb");
    if (!f)
        return vg_perr_set(err, VG_ERR_IO, "config", "cannot open %s: %s", cfg->config_path,
                           strerror(errno));
    char *buf = NULL;
    size_t len = 0, cap = 0;
    for (;;) {
        if (cap - len < 4096) buf = vg_realloc(buf, cap = cap ? cap * 2 : 8192);
        size_t n = fread(buf + len, 1, cap - len, f);
        len += n;
        if (n == 0) break;
        if (len > (1u << 20)) {
            fclose(f);
            free(buf);
            return vg_perr_set(err, VG_ERR_TOO_LARGE, "config", "%s is larger than 1 MiB",
                               cfg->config_path);
        }
    }
    fclose(f);
    int rc = vg_config_parse(buf, len, s_file_kv, cfg, err);
    free(buf);
    return rc;
}

/* ---- environment, flags ------------------------------------------------ */

static int s_load_env(vg_node_config_t *cfg, vg_perr_t *err)
{
    for (char **e = environ; *e; e++) {
        if (strncmp(*e, "VIGIL_", 6) != 0) continue;
        const char *eq = strchr(*e, '=');
        if (!eq) continue;
        char key[96];
        size_t n = (size_t) (eq - *e) - 6, o = 0;
        if (n >= sizeof key) continue;
        for (size_t i = 0; i < n; i++) {
            char c = (*e)[6 + i];
            if (c == '_' && i + 1 < n && (*e)[7 + i] == '_') c = '.', i++;
            key[o++] = (char) tolower((unsigned char) c);
        }
        key[o] = 0;
        /* read elsewhere, or meant for the other Vigil programs */
        static const char *const others[] = {"log",     "config", "admin_password",
                                             "api_key", "token",  "cluster"};
        bool other = false;
        for (size_t i = 0; i < sizeof others / sizeof *others; i++)
            other = other || !strcmp(key, others[i]);
        if (other) continue;
        if (vg_node_config_set(cfg, key, eq + 1, err)) {
            char field[96];
            snprintf(field, sizeof field, "%.*s", (int) (eq - *e), *e);
            snprintf(err->field, sizeof err->field, "%s", field);
            return err->code;
        }
    }
    return 0;
}

static void s_flag_to_key(const char *flag, char *key, size_t cap)
{
    size_t i = 0;
    for (; flag[i] && flag[i] != '=' && i + 1 < cap; i++) key[i] = flag[i] == '-' ? '_' : flag[i];
    key[i] = 0;
}

static int s_load_flags(vg_node_config_t *cfg, int argc, char **argv, vg_perr_t *err)
{
    for (int i = 1; i < argc; i++) {
        const char *a = argv[i];
        if (!strcmp(a, "-c") || !strcmp(a, "--config")) {
            i++; /* handled before */
            continue;
        }
        if (!strncmp(a, "--config=", 9)) continue;
        if (strncmp(a, "--", 2) != 0)
            return vg_perr_set(err, VG_ERR_INVALID, a, "unexpected argument (see --help)");
        char key[96];
        s_flag_to_key(a + 2, key, sizeof key);
        const char *eq = strchr(a, '=');
        if (!strcmp(key, "set")) {
            const char *kv = eq ? eq + 1 : (i + 1 < argc ? argv[++i] : NULL);
            const char *sep = kv ? strchr(kv, '=') : NULL;
            if (!sep) return vg_perr_set(err, VG_ERR_INVALID, "--set", "expects key=value");
            char k2[96];
            snprintf(k2, sizeof k2, "%.*s", (int) (sep - kv), kv);
            if (vg_node_config_set(cfg, k2, sep + 1, err)) return err->code;
            continue;
        }
        const s_key_t *k = s_find(key);
        const char *val = eq ? eq + 1 : NULL;
        if (!val && k && k->type == T_BOOL) val = "true";
        if (!val) {
            if (i + 1 >= argc) return vg_perr_set(err, VG_ERR_INVALID, a, "needs a value");
            val = argv[++i];
        }
        if (vg_node_config_set(cfg, key, val, err)) {
            snprintf(err->field, sizeof err->field, "--%s", a + 2);
            if (strchr(err->field, '=')) *strchr(err->field, '=') = 0;
            return err->code;
        }
    }
    return 0;
}

void vg_node_config_usage(FILE *out, const char *prog)
{
    fprintf(out,
            "usage: %s [--config FILE] [--OPTION VALUE ...] [--set KEY=VALUE ...]\n\n"
            "Runs a Vigil node: per-user features and detectors over LMDB state. With\n"
            "--gateway it also serves the HTTP API (POST /v1/transactions, GET\n"
            "/v1/anomalies, /metrics, ...). Ctrl-C (SIGINT/SIGTERM) drains and stops.\n\n"
            "Configuration, later wins: defaults < config file (--config, VIGIL_CONFIG) <\n"
            "environment (VIGIL_<KEY>, e.g. VIGIL_DATA_DIR) < flags (--data-dir).\n"
            "Config file lines are 'key = value'; '#' starts a comment.\n\n"
            "Options (flag / file key, default):\n",
            prog);
    for (size_t i = 0; i < VG_ARRAY_LEN(s_keys); i++) {
        char flag[64];
        snprintf(flag, sizeof flag, "--%s", s_keys[i].key);
        for (char *p = flag + 2; *p; p++)
            if (*p == '_') *p = '-';
        fprintf(out, "  %-22s %s (default %s)\n", flag, s_keys[i].help,
                s_keys[i].def[0] ? s_keys[i].def : "none");
    }
    fprintf(out, "\nDetector options (any source; env uses __ for '.', e.g. VIGIL_MAD__K=5):\n"
                 "  --set NAME.enabled=true|false   NAME.k=THRESHOLD   NAME.min_history=N\n"
                 "  --set NAME.weight=0..1          anomaly_threshold, review_threshold,\n"
                 "  block_threshold, travel_min_km, velocity_min_count\n"
                 "  detectors:");
    for (int d = 0; d < VG_DET_COUNT; d++) fprintf(out, " %s", vg_detector_name(d));
    fprintf(out, "\n\n  -c, --config FILE   read FILE first\n  -h, --help          this text\n"
                 "  --version           print the version\n");
}

int vg_node_config_load(vg_node_config_t *cfg, int argc, char **argv, bool *exit_now,
                        vg_perr_t *err)
{
    vg_node_config_default(cfg);
    *exit_now = false;
    const char *path = getenv("VIGIL_CONFIG");
    for (int i = 1; i < argc; i++) {
        if (!strcmp(argv[i], "-h") || !strcmp(argv[i], "--help")) {
            vg_node_config_usage(stdout, argv[0]);
            return *exit_now = true, 0;
        }
        if (!strcmp(argv[i], "--version")) {
            printf("vigil-node %s\n", VG_VERSION);
            return *exit_now = true, 0;
        }
        if ((!strcmp(argv[i], "-c") || !strcmp(argv[i], "--config")) && i + 1 < argc)
            path = argv[++i];
        else if (!strncmp(argv[i], "--config=", 9))
            path = argv[i] + 9;
        else if (!strcmp(argv[i], "-c") || !strcmp(argv[i], "--config"))
            return vg_perr_set(err, VG_ERR_INVALID, argv[i], "needs a file name");
    }
    if (path && *path) {
        snprintf(cfg->config_path, sizeof cfg->config_path, "%s", path);
        if (s_load_file(cfg, err)) return err->code;
    }
    if (s_load_env(cfg, err) || s_load_flags(cfg, argc, argv, err)) return err->code;
    vg_log_level lv;
    if (vg_log_level_parse(cfg->log_level, &lv))
        return vg_perr_set(err, VG_ERR_INVALID, "log_level", "must be error, warn, info or debug");
    char msg[256];
    if (vg_detect_config_check(&cfg->engine.detect, msg, sizeof msg))
        return vg_perr_set(err, VG_ERR_INVALID, "detectors", "%s", msg);
    if (vg_features_config_check(&cfg->engine.features, msg, sizeof msg))
        return vg_perr_set(err, VG_ERR_INVALID, "features", "%s", msg);
    if (!strcmp(cfg->rules_policy, "action"))
        cfg->engine.rules_policy = VG_RULES_POLICY_ACTION;
    else if (!strcmp(cfg->rules_policy, "score"))
        cfg->engine.rules_policy = VG_RULES_POLICY_SCORE;
    else
        return vg_perr_set(err, VG_ERR_INVALID, "rules_policy", "must be action or score");
    if (!(cfg->engine.model_threshold > 0 && cfg->engine.model_threshold < 1))
        return vg_perr_set(err, VG_ERR_INVALID, "model_threshold", "must be in (0, 1)");
    if (!(cfg->engine.model_weight >= 0 && cfg->engine.model_weight <= 1))
        return vg_perr_set(err, VG_ERR_INVALID, "model_weight", "must be in [0, 1]");
    if (strcmp(cfg->store, "lmdb") && strcmp(cfg->store, "postgres"))
        return vg_perr_set(err, VG_ERR_INVALID, "store", "must be lmdb or postgres");
    if (!strcmp(cfg->store, "postgres") && !cfg->pg_dsn[0])
        return vg_perr_set(err, VG_ERR_INVALID, "pg_dsn",
                           "store = postgres needs a connection string (--pg-dsn)");
    if (cfg->pg_pool < 1 || cfg->pg_pool > 64)
        return vg_perr_set(err, VG_ERR_INVALID, "pg_pool", "must be 1..64");
    if (cfg->retention_days < 0)
        return vg_perr_set(err, VG_ERR_INVALID, "retention_days", "must be 0 (keep) or more");
    if (cfg->model_file[0] && cfg->listen[0])
        return vg_perr_set(err, VG_ERR_INVALID, "model",
                           "in cluster mode models are pushed with vigilctl models push");
    if (cfg->rules_file[0] && cfg->listen[0])
        return vg_perr_set(err, VG_ERR_INVALID, "rules",
                           "in cluster mode rules are pushed with vigilctl rules push");
    if (cfg->kafka_topics[0] && !cfg->kafka_brokers[0])
        return vg_perr_set(err, VG_ERR_INVALID, "kafka_topics",
                           "needs the brokers (--kafka-brokers)");
    if (cfg->kafka_topics[0] && !cfg->gateway)
        return vg_perr_set(err, VG_ERR_INVALID, "kafka_topics",
                           "the bridge runs with --gateway (or in vigil-gateway)");
    return 0;
}
