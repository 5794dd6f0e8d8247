/* vigil_train.c: vigil-train, offline Isolation Forest training. Two modes:
 * --csv evaluates the algorithm on any labelled numeric table (mean +- sd
 * over seeds); --data replays transactions through the node's feature
 * code, trains on the older part, evaluates on the time-ordered hold-out,
 * writes a model artifact and records the run (registry file, MLflow). */
#include "vg_csv.h"
#include "vg_err.h"
#include "vg_eval.h"
#include "vg_iforest.h"
#include "vg_jw.h"
#include "vg_labels.h"
#include "vg_mem.h"
#include "vg_mlflow.h"
#include "vg_model.h"
#include "vg_replay.h"

#include <errno.h>
#include <fcntl.h>
#include <math.h>
#include <stddef.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>
#include <sys/time.h>
#include <time.h>
#include <unistd.h>

#define S_REGISTRY_DEFAULT "vigil-train-runs.ndjson"
#define S_PROGRESS_SECS    3.0
#define S_MAX_SEEDS        1000

/* Default model inputs: per-user relative or scale-free (see --help). */
static const char *const s_default_features[] = {
    "log_amount", "amount_to_median", "count_10m",  "count_1h",    "secs_since_prev",
    "hour_prob",  "new_merchant",     "new_device", "new_country", "speed_kmh",
};

typedef struct {
    const char *csv, *data, *labels, *out, *scores, *label_column;
    char registry[1024];
    const char *features_arg;
    bool registry_set, no_registry, json, quiet;
    uint32_t trees, sample, seeds;
    uint64_t seed;
    double holdout;
    /* resolved */
    const char *features[VG_FEATURE_COUNT];
    uint8_t feature_index[VG_FEATURE_COUNT];
    uint32_t n_features;
} s_opts_t;

static void s_usage(FILE *out)
{
    fputs("usage: vigil-train --csv FILE [options]\n"
          "       vigil-train --data FILE --out MODEL [--labels FILE] [options]\n"
          "\n"
          "Isolation Forest training for Vigil (Liu, Ting & Zhou 2008).\n"
          "\n"
          "Algorithm evaluation on any labelled numeric table:\n"
          "  --csv FILE           CSV with a header row; every cell a number (an empty\n"
          "                       cell is a missing value). All columns except the label\n"
          "                       column are features. Trains on ALL rows (unsupervised,\n"
          "                       as in the paper), scores all rows and prints AUC-ROC\n"
          "                       and AUC-PR as mean +- sd over --seeds seeds.\n"
          "  --label-column NAME  label column, values 0/1 (default 'label'); used only\n"
          "                       for evaluation. If the default is absent: no evaluation.\n"
          "  --seeds N            training runs, seeds --seed .. --seed+N-1 (default 5)\n"
          "  --scores FILE        write the first seed's score of every row (CSV 'score')\n"
          "\n"
          "Model training on transactions:\n"
          "  --data FILE          transactions as NDJSON or a JSON array (the POST\n"
          "                       /v1/transactions schema), or CSV with a header row\n"
          "                       of those field names (attributes.NAME columns last;\n"
          "                       empty cell = absent). They are replayed in FILE\n"
          "                       ORDER (which must be event-time order) through the\n"
          "                       node's feature code: per-user state, duplicates\n"
          "                       (same id and timestamp) skipped, late events scored\n"
          "                       but not applied, invalid items counted and skipped.\n"
          "                       One feature row per transaction.\n"
          "  --out MODEL          write the model artifact here (docs/MODEL_FORMAT.md)\n"
          "  --labels FILE        ground truth for the evaluation, by transaction id:\n"
          "                       CSV with a header naming 'id' and 'label' columns (as\n"
          "                       written by vigil-loadgen --labels: id,label,kind), a\n"
          "                       JSON object {\"<id>\": 1|0, ...}, or a JSON array of the\n"
          "                       anomalous ids (all other ids normal)\n"
          "  --features LIST      comma-separated model inputs from the feature engine\n"
          "                       (--list-features); default:\n"
          "                       log_amount,amount_to_median,count_10m,count_1h,\n"
          "                       secs_since_prev,hour_prob,new_merchant,new_device,\n"
          "                       new_country,speed_kmh\n"
          "                       (amount in log and relative to the user's own median;\n"
          "                       the user's velocity; time of day against the user's\n"
          "                       own hour profile; novelty of merchant, device and\n"
          "                       country; implied travel speed. Missing values, e.g.\n"
          "                       for a user's first transaction, follow the bulk of the\n"
          "                       data at every split: they never count as anomalous.)\n"
          "  --holdout F          share of the rows, the LAST ones in time order, held\n"
          "                       out for evaluation, 0 <= F < 1 (default 0.2); the\n"
          "                       forest is trained on the rest. With labels the hold-out\n"
          "                       gives AUC-ROC, AUC-PR and precision at k (k = number of\n"
          "                       anomalies in the hold-out); ids missing from a CSV or\n"
          "                       object label file are left out of the evaluation.\n"
          "                       --holdout 0: train on all rows, evaluate in-sample.\n"
          "  --registry FILE      append one JSON line per run (time, parameters, data\n"
          "                       and label fingerprints, metrics, artifact path and\n"
          "                       xxh64) to FILE (default ./" S_REGISTRY_DEFAULT ")\n"
          "  --no-registry        do not record the run\n"
          "  --scores FILE        write 'id,score' for every replayed transaction\n"
          "  --list-features      print the feature engine's features and exit\n"
          "\n"
          "Common:\n"
          "  --trees N            trees, 1..10000 (default 100)\n"
          "  --sample N           sub-sample size psi, 2..1048576 (default 256)\n"
          "  --seed N             random seed (default 1); same data and options give\n"
          "                       the same forest (and, with SOURCE_DATE_EPOCH set, the\n"
          "                       same artifact bytes)\n"
          "  --json               print the result as one JSON object on stdout\n"
          "  --quiet              no progress lines on stderr\n"
          "  --help, --version\n"
          "\n"
          "Environment (--data mode):\n"
          "  SOURCE_DATE_EPOCH    seconds since the epoch to record as the model's\n"
          "                       creation time instead of now (reproducible artifacts)\n"
          "  MLFLOW_TRACKING_URI  when set (http[s]://host:port), the run is also logged\n"
          "                       to MLflow over its REST API: experiment\n"
          "                       MLFLOW_EXPERIMENT_NAME (default 'vigil-train', created\n"
          "                       if needed), a run named after MODEL with the\n"
          "                       parameters and metrics, then FINISHED. Credentials:\n"
          "                       MLFLOW_TRACKING_TOKEN, or MLFLOW_TRACKING_USERNAME and\n"
          "                       MLFLOW_TRACKING_PASSWORD. A tracking failure is a\n"
          "                       warning; the model is still written. Unset: nothing.\n"
          "\n"
          "Exit status: 0 done, 1 bad usage or failure.\n",
          out);
}

static void s_list_features(FILE *out)
{
#define S_FEATURE_DOC(name, doc) fprintf(out, "  %-18s %s\n", #name, doc);
    VG_FEATURE_LIST(S_FEATURE_DOC)
#undef S_FEATURE_DOC
}

static void s_die(const char *fmt, ...) __attribute__((format(printf, 1, 2), noreturn));

static void s_die(const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    fputs("vigil-train: ", stderr);
    vfprintf(stderr, fmt, ap);
    fputc('\n', stderr);
    va_end(ap);
    exit(1);
}

static double s_now(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double) ts.tv_sec + ts.tv_nsec * 1e-9;
}

static int64_t s_wall_ms(void)
{
    struct timeval tv;
    gettimeofday(&tv, NULL);
    return (int64_t) tv.tv_sec * 1000 + tv.tv_usec / 1000;
}

/* ---- options ------------------------------------------------------------ */

static uint64_t s_uint(const char *flag, const char *v, uint64_t lo, uint64_t hi)
{
    char *end;
    errno = 0;
    unsigned long long u = strtoull(v, &end, 10);
    if (end == v || *end || errno || *v == '-' || u < lo || u > hi)
        s_die("%s: expected an integer in %llu..%llu, got '%s'", flag, (unsigned long long) lo,
              (unsigned long long) hi, v);
    return u;
}

static void s_resolve_features(s_opts_t *o)
{
    if (!o->features_arg) {
        for (uint32_t i = 0; i < VG_ARRAY_LEN(s_default_features); i++)
            o->features[i] = s_default_features[i];
        o->n_features = (uint32_t) VG_ARRAY_LEN(s_default_features);
    } else {
        const char *p = o->features_arg;
        while (*p) {
            const char *c = strchr(p, ','), *e = c ? c : p + strlen(p);
            int k = vg_model_feature_index(p, (size_t) (e - p));
            if (k < 0)
                s_die("--features: '%.*s' is not a feature of this engine (see "
                      "--list-features)",
                      (int) (e - p), p);
            for (uint32_t i = 0; i < o->n_features; i++)
                if (o->feature_index[i] == k)
                    s_die("--features: '%s' listed twice", vg_feature_name(k));
            if (o->n_features == VG_FEATURE_COUNT) s_die("--features: too many");
            o->feature_index[o->n_features] = (uint8_t) k;
            o->features[o->n_features++] = vg_feature_name(k);
            p = c ? c + 1 : e;
        }
        if (o->n_features == 0) s_die("--features: empty list");
    }
    for (uint32_t i = 0; i < o->n_features; i++)
        o->feature_index[i] =
            (uint8_t) vg_model_feature_index(o->features[i], strlen(o->features[i]));
}

/* The options, as data: name, kind, where the value goes, integer range. */
typedef enum { K_FLAG, K_PATH, K_U32, K_U64, K_HOLDOUT, K_REGISTRY, K_EXIT } s_kind;

#define S_AT(field) offsetof(s_opts_t, field)
static const struct {
    const char *name;
    s_kind kind;
    size_t at;
    uint64_t lo, hi;
} s_optab[] = {
    {"--csv", K_PATH, S_AT(csv), 0, 0},
    {"--data", K_PATH, S_AT(data), 0, 0},
    {"--labels", K_PATH, S_AT(labels), 0, 0},
    {"--out", K_PATH, S_AT(out), 0, 0},
    {"--scores", K_PATH, S_AT(scores), 0, 0},
    {"--label-column", K_PATH, S_AT(label_column), 0, 0},
    {"--features", K_PATH, S_AT(features_arg), 0, 0},
    {"--trees", K_U32, S_AT(trees), 1, VG_IFOREST_MAX_TREES},
    {"--sample", K_U32, S_AT(sample), 2, VG_IFOREST_MAX_SAMPLE},
    {"--seeds", K_U32, S_AT(seeds), 1, S_MAX_SEEDS},
    {"--seed", K_U64, S_AT(seed), 0, UINT64_MAX},
    {"--holdout", K_HOLDOUT, S_AT(holdout), 0, 0},
    {"--registry", K_REGISTRY, S_AT(registry), 0, 0},
    {"--json", K_FLAG, S_AT(json), 0, 0},
    {"--quiet", K_FLAG, S_AT(quiet), 0, 0},
    {"--no-registry", K_FLAG, S_AT(no_registry), 0, 0},
    {"--help", K_EXIT, 0, 0, 0},
    {"--version", K_EXIT, 0, 0, 0},
    {"--list-features", K_EXIT, 0, 0, 0},
};
#undef S_AT

static void s_exit_option(const char *name)
{
    if (!strcmp(name, "--help"))
        s_usage(stdout);
    else if (!strcmp(name, "--version"))
        printf("vigil-train %s\n", VG_VERSION);
    else
        s_list_features(stdout);
    exit(0);
}

static void s_apply(s_opts_t *o, int k, const char *v)
{
    char *field = (char *) o + s_optab[k].at, *end;
    const char *flag = s_optab[k].name;
    switch (s_optab[k].kind) {
    case K_FLAG: *(bool *) field = true; break;
    case K_PATH: *(const char **) field = v; break;
    case K_U32:
        *(uint32_t *) field = (uint32_t) s_uint(flag, v, s_optab[k].lo, s_optab[k].hi);
        break;
    case K_U64: *(uint64_t *) field = s_uint(flag, v, s_optab[k].lo, s_optab[k].hi); break;
    case K_HOLDOUT:
        o->holdout = strtod(v, &end);
        if (end == v || *end || !(o->holdout >= 0 && o->holdout < 1))
            s_die("--holdout: expected a number with 0 <= F < 1, got '%s'", v);
        break;
    case K_REGISTRY:
        if (!*v || strlen(v) >= sizeof o->registry) s_die("--registry: bad file name");
        snprintf(o->registry, sizeof o->registry, "%s", v);
        o->registry_set = true;
        break;
    case K_EXIT: s_exit_option(flag);
    }
}

static void s_parse(int argc, char **argv, s_opts_t *o)
{
    for (int i = 1; i < argc; i++) {
        const char *a = strcmp(argv[i], "-h") ? argv[i] : "--help";
        const char *eq = strncmp(a, "--", 2) == 0 ? strchr(a, '=') : NULL;
        size_t nl = eq ? (size_t) (eq - a) : strlen(a);
        int k = -1;
        for (int j = 0; j < (int) VG_ARRAY_LEN(s_optab); j++)
            if (strlen(s_optab[j].name) == nl && !strncmp(a, s_optab[j].name, nl)) k = j;
        if (k < 0) s_die("%.*s: unknown option (see --help)", (int) VG_MIN(nl, 64), a);
        bool takes = s_optab[k].kind != K_FLAG && s_optab[k].kind != K_EXIT;
        const char *v = eq ? eq + 1 : takes && i + 1 < argc ? argv[++i] : NULL;
        if (takes && !v) s_die("%s: missing value", s_optab[k].name);
        if (!takes && eq) s_die("%s: takes no value", s_optab[k].name);
        s_apply(o, k, v);
    }
    if (!o->csv == !o->data) s_die("give either --csv FILE or --data FILE (see --help)");
    if (o->data && !o->out) s_die("--data needs --out MODEL (where to write the model)");
    if (o->csv && (o->out || o->labels || o->features_arg))
        s_die("--out, --labels and --features belong to --data mode; --csv takes the features "
              "and labels from the table");
    if (!o->registry_set) snprintf(o->registry, sizeof o->registry, "%s", S_REGISTRY_DEFAULT);
    if (o->data) s_resolve_features(o);
}

/* ---- shared output helpers ---------------------------------------------- */

static void s_hex(char out[17], uint64_t v)
{
    snprintf(out, 17, "%016llx", (unsigned long long) v);
}

static void s_print_json(vg_jw_t *w)
{
    fwrite(w->buf, 1, w->len, stdout);
    fputc('\n', stdout);
}

/* Appends one line to the registry with a single write (O_APPEND). */
static void s_registry_append(const char *path, vg_jw_t *w)
{
    char *line = vg_malloc(w->len + 1);
    memcpy(line, w->buf, w->len);
    line[w->len] = '\n';
    int fd = open(path, O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0644);
    bool ok = fd >= 0 && write(fd, line, w->len + 1) == (ssize_t) (w->len + 1);
    if (fd >= 0) close(fd);
    free(line);
    if (!ok)
        fprintf(stderr, "vigil-train: warning: cannot append to registry %s: %s\n", path,
                strerror(errno));
}

static void s_mean_sd(const double *v, uint32_t n, double *mean, double *sd)
{
    double s = 0, ss = 0;
    for (uint32_t i = 0; i < n; i++) s += v[i];
    *mean = s / n;
    for (uint32_t i = 0; i < n; i++) ss += (v[i] - *mean) * (v[i] - *mean);
    *sd = n > 1 ? sqrt(ss / (n - 1)) : 0;
}

/* ---- --csv mode --------------------------------------------------------- */

typedef struct {
    double *x;      /* rows x d features */
    uint8_t *label; /* rows, NULL without a label column */
    const char **names;
    uint32_t d;
    size_t rows, positives;
} s_table_t;

static void s_table_from_csv(const s_opts_t *o, const vg_csv_t *csv, s_table_t *t)
{
    const char *lname = o->label_column ? o->label_column : "label";
    int lc = vg_csv_column(csv, lname);
    if (lc < 0 && o->label_column)
        s_die("%s: no column named '%s' (--label-column)", o->csv, lname);
    t->d = csv->cols - (lc >= 0);
    if (t->d == 0) s_die("%s: no feature columns", o->csv);
    t->rows = csv->rows;
    t->x = vg_malloc((t->rows ? t->rows : 1) * t->d * sizeof *t->x);
    t->names = vg_malloc(t->d * sizeof *t->names);
    t->label = lc >= 0 ? vg_malloc(t->rows ? t->rows : 1) : NULL;
    for (uint32_t c = 0, j = 0; c < csv->cols; c++)
        if ((int) c != lc) t->names[j++] = csv->names[c];
    for (size_t r = 0; r < t->rows; r++) {
        const double *src = csv->cells + r * csv->cols;
        double *dst = t->x + r * t->d;
        for (uint32_t c = 0, j = 0; c < csv->cols; c++) {
            if ((int) c != lc) {
                if (isinf(src[c]))
                    s_die("%s: row %zu, column %u '%s': infinite value", o->csv, r + 1, c + 1,
                          csv->names[c]);
                dst[j++] = src[c];
                continue;
            }
            if (src[c] != 0 && src[c] != 1)
                s_die("%s: row %zu, column %u '%s': a label must be 0 or 1", o->csv, r + 1, c + 1,
                      csv->names[c]);
            t->label[r] = src[c] == 1;
            t->positives += t->label[r];
        }
    }
}

static void s_write_scores(const char *path, const double *score, size_t n, const vg_str_t *ids)
{
    FILE *fp = fopen(path, "w");
    if (!fp) s_die("--scores: cannot write %s: %s", path, strerror(errno));
    fputs(ids ? "id,score\n" : "score\n", fp);
    for (size_t i = 0; i < n; i++) {
        if (ids) fprintf(fp, "%.*s,", (int) ids[i].len, ids[i].ptr);
        fprintf(fp, "%.6f\n", score[i]);
    }
    if (fclose(fp) != 0) s_die("--scores: cannot write %s", path);
}

typedef struct {
    double *roc, *pr, train_s, score_s;
} s_csv_result_t;

static void s_csv_runs(const s_opts_t *o, const s_table_t *t, s_csv_result_t *res)
{
    double *score = vg_malloc(t->rows * sizeof *score);
    for (uint32_t s = 0; s < o->seeds; s++) {
        vg_iforest_params_t p = {o->trees, o->sample, o->seed + s, t->names};
        vg_iforest_t *f = NULL;
        char err[256];
        double t0 = s_now();
        if (vg_iforest_train(t->x, t->rows, t->d, &p, &f, err, sizeof err))
            s_die("%s: %s", o->csv, err);
        double t1 = s_now();
        vg_iforest_score_many(f, t->x, t->rows, score);
        res->train_s += t1 - t0;
        res->score_s += s_now() - t1;
        vg_iforest_destroy(&f);
        res->roc[s] = t->label ? vg_eval_auc_roc(score, t->label, t->rows) : NAN;
        res->pr[s] = t->label ? vg_eval_auc_pr(score, t->label, t->rows) : NAN;
        if (s == 0 && o->scores) s_write_scores(o->scores, score, t->rows, NULL);
        if (!o->quiet && !o->json && o->seeds > 1 && t->rows > 100000)
            fprintf(stderr, "vigil-train: seed %llu done (%u/%u)\n",
                    (unsigned long long) (o->seed + s), s + 1, o->seeds);
    }
    free(score);
}

static void s_csv_json(const s_opts_t *o, const s_table_t *t, const s_csv_result_t *res, vg_jw_t *w)
{
    vg_jw_obj_begin(w);
    vg_jw_kcstr(w, "mode", "csv");
    vg_jw_kcstr(w, "file", o->csv);
    vg_jw_kint(w, "rows", (int64_t) t->rows);
    vg_jw_kint(w, "features", t->d);
    vg_jw_kint(w, "positives", (int64_t) t->positives);
    vg_jw_kint(w, "trees", o->trees);
    vg_jw_kint(w, "sample", o->sample);
    vg_jw_key(w, "seeds");
    vg_jw_arr_begin(w);
    for (uint32_t s = 0; s < o->seeds; s++) vg_jw_num(w, (double) (o->seed + s));
    vg_jw_arr_end(w);
    const char *names[2] = {"auc_roc", "auc_pr"};
    const double *runs[2] = {res->roc, res->pr};
    for (int m = 0; m < 2; m++) {
        double mean, sd;
        s_mean_sd(runs[m], o->seeds, &mean, &sd);
        vg_jw_key(w, names[m]);
        vg_jw_obj_begin(w);
        vg_jw_knum(w, "mean", mean);
        vg_jw_knum(w, "sd", sd);
        vg_jw_key(w, "runs");
        vg_jw_arr_begin(w);
        for (uint32_t s = 0; s < o->seeds; s++) vg_jw_num(w, runs[m][s]);
        vg_jw_arr_end(w);
        vg_jw_obj_end(w);
    }
    vg_jw_knum(w, "train_ms", res->train_s * 1e3 / o->seeds);
    vg_jw_knum(w, "score_ms", res->score_s * 1e3 / o->seeds);
    vg_jw_obj_end(w);
}

static void s_csv_text(const s_opts_t *o, const s_table_t *t, const s_csv_result_t *res)
{
    printf("%s: %zu rows, %u features", o->csv, t->rows, t->d);
    if (t->label)
        printf(", %zu anomalies (%.2f%%)\n", t->positives, 100.0 * t->positives / t->rows);
    else
        printf(", no label column: not evaluated\n");
    printf("iforest: %u trees, sample %u, %u seed%s (%llu..%llu)\n", o->trees, o->sample, o->seeds,
           o->seeds > 1 ? "s" : "", (unsigned long long) o->seed,
           (unsigned long long) (o->seed + o->seeds - 1));
    if (t->label) {
        double mean, sd;
        s_mean_sd(res->roc, o->seeds, &mean, &sd);
        printf("AUC-ROC %.4f +- %.4f\n", mean, sd);
        s_mean_sd(res->pr, o->seeds, &mean, &sd);
        printf("AUC-PR  %.4f +- %.4f\n", mean, sd);
    }
    printf("time per seed: train %.1f ms, score %.1f ms (%.0f ns/row)\n",
           res->train_s * 1e3 / o->seeds, res->score_s * 1e3 / o->seeds,
           res->score_s * 1e9 / o->seeds / (double) t->rows);
}

static int s_run_csv(const s_opts_t *o)
{
    vg_csv_t csv;
    char err[512];
    if (vg_csv_read(o->csv, &csv, err, sizeof err)) s_die("%s", err);
    s_table_t t = {0};
    s_table_from_csv(o, &csv, &t);
    if (t.rows < 2) s_die("%s: need at least 2 data rows, got %zu", o->csv, t.rows);
    if (t.label && (t.positives == 0 || t.positives == t.rows))
        fprintf(stderr, "vigil-train: warning: %s: labels are all %d: AUC undefined\n", o->csv,
                t.positives != 0);
    s_csv_result_t res = {vg_malloc(o->seeds * sizeof(double)),
                          vg_malloc(o->seeds * sizeof(double)), 0, 0};
    s_csv_runs(o, &t, &res);
    vg_jw_t w;
    vg_jw_init(&w);
    s_csv_json(o, &t, &res, &w);
    if (o->json)
        s_print_json(&w);
    else
        s_csv_text(o, &t, &res);
    if (o->registry_set && !o->no_registry) s_registry_append(o->registry, &w);
    vg_jw_fini(&w);
    free(res.roc);
    free(res.pr);
    free(t.x);
    free(t.label);
    free(t.names);
    vg_csv_fini(&csv);
    return 0;
}

/* ---- --data mode -------------------------------------------------------- */

typedef struct {
    const s_opts_t *o;
    double start, last;
} s_progress_t;

static void s_progress(void *arg, size_t done, size_t total, size_t rows)
{
    s_progress_t *p = arg;
    double now = s_now();
    if (p->o->quiet || now - p->last < S_PROGRESS_SECS) return;
    p->last = now;
    fprintf(stderr, "vigil-train: replay %3.0f%%  %zu rows  %.0f rows/s  %.0f s\n",
            total ? 100.0 * (double) done / (double) total : 100.0, rows, rows / (now - p->start),
            now - p->start);
}

typedef struct {
    vg_replay_t rp;
    vg_labels_t labels;
    bool has_labels;
    size_t n_train, n_eval, n_unlabelled;
    vg_model_metrics_t metrics;
    double t_replay, t_train, t_eval;
    uint64_t artifact_hash;
    size_t artifact_bytes;
    char mlflow_run[128], mlflow_error[256];
} s_data_run_t;

static void s_evaluate(const s_opts_t *o, const vg_iforest_t *f, s_data_run_t *run)
{
    size_t lo = o->holdout > 0 ? run->n_train : 0, n = run->rp.rows - lo, m = 0;
    double *score = vg_malloc((n ? n : 1) * sizeof *score);
    uint8_t *label = vg_malloc(n ? n : 1);
    for (size_t i = 0; i < n; i++) {
        int l = vg_labels_get(&run->labels, run->rp.ids[lo + i]);
        if (l < 0) {
            run->n_unlabelled++;
            continue;
        }
        score[m] = vg_iforest_score(f, run->rp.x + (lo + i) * run->rp.d);
        label[m++] = (uint8_t) l;
    }
    vg_model_metrics_t *mt = &run->metrics;
    size_t pos = vg_eval_positives(label, m);
    mt->eval_rows = (double) m;
    mt->positives = (double) pos;
    mt->k = (double) pos;
    mt->auc_roc = vg_eval_auc_roc(score, label, m);
    mt->auc_pr = vg_eval_auc_pr(score, label, m);
    mt->precision_at_k = vg_eval_precision_at_k(score, label, m, pos);
    free(score);
    free(label);
}

static vg_iforest_t *s_train(const s_opts_t *o, s_data_run_t *run)
{
    run->n_eval = (size_t) floor((double) run->rp.rows * o->holdout);
    run->n_train = run->rp.rows - run->n_eval;
    if (run->n_train < 2)
        s_die("%s: %zu rows for training after the hold-out; need at least 2", o->data,
              run->n_train);
    vg_iforest_params_t p = {o->trees, o->sample, o->seed, o->features};
    vg_iforest_t *f = NULL;
    char err[256];
    double t0 = s_now();
    if (vg_iforest_train(run->rp.x, run->n_train, run->rp.d, &p, &f, err, sizeof err))
        s_die("%s: %s", o->data, err);
    run->t_train = s_now() - t0;
    vg_model_metrics_init(&run->metrics);
    run->metrics.train_rows = (double) run->n_train;
    if (run->has_labels) {
        t0 = s_now();
        s_evaluate(o, f, run);
        run->t_eval = s_now() - t0;
    }
    return f;
}

static void s_save(const s_opts_t *o, vg_iforest_t **f, s_data_run_t *run)
{
    vg_model_meta_t meta;
    vg_model_meta_init(&meta);
    meta.data_hash = run->rp.fingerprint;
    const char *epoch = getenv("SOURCE_DATE_EPOCH");
    if (epoch && *epoch)
        meta.created_ms =
            (int64_t) s_uint("SOURCE_DATE_EPOCH", epoch, 0, VG_TX_TS_MAX / 1000) * 1000;
    meta.sample = o->sample;
    meta.holdout = o->holdout;
    meta.metrics = run->metrics;
    snprintf(meta.source, sizeof meta.source, "%s", o->data);
    snprintf(meta.tool, sizeof meta.tool, "vigil-train %s", VG_VERSION);
    vg_model_t *m = NULL;
    char err[512];
    if (vg_model_new(f, o->features, o->n_features, &meta, &m, err, sizeof err))
        s_die("model: %s", err);
    if (vg_model_save(m, o->out, &run->artifact_hash, err, sizeof err)) s_die("%s", err);
    vg_mpw_t w;
    vg_mpw_init(&w);
    vg_model_encode(m, &w);
    run->artifact_bytes = w.len;
    vg_mpw_fini(&w);
    vg_model_destroy(&m);
}

static void s_metrics_json(vg_jw_t *w, const vg_model_metrics_t *mt)
{
    vg_jw_key(w, "metrics");
    vg_jw_obj_begin(w);
#define S_METRIC_JSON(name, doc) vg_jw_knum(w, #name, mt->name);
    VG_MODEL_METRIC_LIST(S_METRIC_JSON)
#undef S_METRIC_JSON
    vg_jw_obj_end(w);
}

static void s_data_json(const s_opts_t *o, const s_data_run_t *run, vg_jw_t *w)
{
    char hex[17], when[32];
    vg_ts_format(s_wall_ms(), when);
    vg_jw_obj_begin(w);
    vg_jw_kcstr(w, "time", when);
    vg_jw_kcstr(w, "tool", "vigil-train " VG_VERSION);
    vg_jw_kcstr(w, "mode", "data");
    vg_jw_kcstr(w, "data", o->data);
    s_hex(hex, run->rp.fingerprint);
    vg_jw_kcstr(w, "data_xxh64", hex);
    vg_jw_kcstr(w, "labels", o->labels);
    if (run->has_labels) s_hex(hex, vg_model_fingerprint(run->labels.buf, run->labels.len));
    vg_jw_kcstr(w, "labels_xxh64", run->has_labels ? hex : NULL);
    vg_jw_kint(w, "transactions", (int64_t) run->rp.n_items);
    vg_jw_kint(w, "rows", (int64_t) run->rp.rows);
    vg_jw_kint(w, "users", (int64_t) run->rp.n_users);
    vg_jw_kint(w, "invalid", (int64_t) run->rp.n_invalid);
    vg_jw_kint(w, "duplicates", (int64_t) run->rp.n_duplicate);
    vg_jw_kint(w, "late", (int64_t) run->rp.n_late);
    vg_jw_kint(w, "unlabelled_eval_rows", (int64_t) run->n_unlabelled);
    vg_jw_key(w, "features");
    vg_jw_arr_begin(w);
    for (uint32_t i = 0; i < o->n_features; i++) vg_jw_cstr(w, o->features[i]);
    vg_jw_arr_end(w);
    vg_jw_key(w, "params");
    vg_jw_obj_begin(w);
    vg_jw_kint(w, "trees", o->trees);
    vg_jw_kint(w, "sample", o->sample);
    vg_jw_kint(w, "seed", (int64_t) o->seed);
    vg_jw_knum(w, "holdout", o->holdout);
    vg_jw_obj_end(w);
    s_metrics_json(w, &run->metrics);
    vg_jw_key(w, "artifact");
    vg_jw_obj_begin(w);
    vg_jw_kcstr(w, "path", o->out);
    s_hex(hex, run->artifact_hash);
    vg_jw_kcstr(w, "xxh64", hex);
    vg_jw_kint(w, "bytes", (int64_t) run->artifact_bytes);
    s_hex(hex, vg_model_schema_hash_current(o->features, o->n_features));
    vg_jw_kcstr(w, "schema_hash", hex);
    vg_jw_obj_end(w);
    vg_jw_key(w, "seconds");
    vg_jw_obj_begin(w);
    vg_jw_knum(w, "replay", run->t_replay);
    vg_jw_knum(w, "train", run->t_train);
    vg_jw_knum(w, "evaluate", run->t_eval);
    vg_jw_obj_end(w);
    vg_jw_kcstr(w, "mlflow_run_id", run->mlflow_run[0] ? run->mlflow_run : NULL);
    vg_jw_kcstr(w, "mlflow_error", run->mlflow_error[0] ? run->mlflow_error : NULL);
    vg_jw_obj_end(w);
}

static void s_data_text(const s_opts_t *o, const s_data_run_t *run)
{
    const vg_replay_t *rp = &run->rp;
    printf("replayed %s: %zu transactions, %zu users -> %zu rows (%zu invalid, %zu duplicates, "
           "%zu late) in %.1f s\n",
           o->data, rp->n_items, rp->n_users, rp->rows, rp->n_invalid, rp->n_duplicate, rp->n_late,
           run->t_replay);
    if (rp->n_invalid) printf("  first invalid: %s\n", rp->first_error);
    printf("features (%u):", o->n_features);
    for (uint32_t i = 0; i < o->n_features; i++) printf("%s%s", i ? "," : " ", o->features[i]);
    printf("\ntrained on %zu rows (first %.0f%%), %u trees, sample %u, seed %llu: %.2f s\n",
           run->n_train, 100.0 * (1.0 - o->holdout), o->trees, o->sample,
           (unsigned long long) o->seed, run->t_train);
    const vg_model_metrics_t *mt = &run->metrics;
    if (run->has_labels) {
        printf("%s: %.0f rows, %.0f anomalies: AUC-ROC %.4f  AUC-PR %.4f  precision@%.0f %.4f\n",
               o->holdout > 0 ? "hold-out" : "in-sample (no hold-out)", mt->eval_rows,
               mt->positives, mt->auc_roc, mt->auc_pr, mt->k, mt->precision_at_k);
        if (run->n_unlabelled)
            printf("  %zu evaluation rows had no label and were left out\n", run->n_unlabelled);
    } else {
        printf("no --labels: not evaluated\n");
    }
    char hex[17];
    s_hex(hex, run->artifact_hash);
    printf("model: %s (%zu bytes, xxh64 %s)\n", o->out, run->artifact_bytes, hex);
    if (!o->no_registry) printf("registry: %s\n", o->registry);
    if (run->mlflow_run[0]) printf("mlflow run: %s\n", run->mlflow_run);
}

static void s_mlflow(const s_opts_t *o, s_data_run_t *run)
{
    vg_mlflow_t *ml = NULL;
    const char *base = strrchr(o->out, '/');
    char err[512], buf[64];
    if (vg_mlflow_start("vigil-train", base ? base + 1 : o->out, &ml, err, sizeof err)) {
        snprintf(run->mlflow_error, sizeof run->mlflow_error, "%s", err);
        fprintf(stderr, "vigil-train: warning: %s\n", err);
        return;
    }
    if (!ml) return;
    snprintf(run->mlflow_run, sizeof run->mlflow_run, "%s", vg_mlflow_run_id(ml));
    char feats[VG_FEATURE_COUNT * 24] = "";
    for (uint32_t i = 0; i < o->n_features; i++)
        snprintf(feats + strlen(feats), sizeof feats - strlen(feats), "%s%s", i ? "," : "",
                 o->features[i]);
    vg_mlflow_param(ml, "features", feats);
#define S_PARAM_U(name, v) \
    (snprintf(buf, sizeof buf, "%llu", (unsigned long long) (v)), vg_mlflow_param(ml, name, buf))
    S_PARAM_U("trees", o->trees);
    S_PARAM_U("sample", o->sample);
    S_PARAM_U("seed", o->seed);
#undef S_PARAM_U
    snprintf(buf, sizeof buf, "%g", o->holdout);
    vg_mlflow_param(ml, "holdout", buf);
    vg_mlflow_param(ml, "data", o->data);
    s_hex(buf, run->rp.fingerprint);
    vg_mlflow_param(ml, "data_xxh64", buf);
    vg_mlflow_param(ml, "artifact", o->out);
#define S_METRIC_ML(name, doc) vg_mlflow_metric(ml, #name, run->metrics.name);
    VG_MODEL_METRIC_LIST(S_METRIC_ML)
#undef S_METRIC_ML
    if (vg_mlflow_finish(&ml, true, err, sizeof err)) {
        snprintf(run->mlflow_error, sizeof run->mlflow_error, "%s", err);
        fprintf(stderr, "vigil-train: warning: %s\n", err);
    }
}

static int s_run_data(const s_opts_t *o)
{
    s_data_run_t run = {0};
    char err[512];
    if (o->labels) {
        if (vg_labels_read(o->labels, &run.labels, err, sizeof err)) s_die("%s", err);
        run.has_labels = true;
    }
    s_progress_t prog = {o, s_now(), s_now()};
    vg_replay_opts_t ro = {.features = o->feature_index,
                           .n_features = o->n_features,
                           .progress = s_progress,
                           .progress_arg = &prog};
    vg_features_config_default(&ro.fcfg);
    if (vg_replay_file(o->data, &ro, &run.rp, err, sizeof err)) s_die("%s", err);
    run.t_replay = s_now() - prog.start;
    if (!o->quiet && run.rp.n_invalid)
        fprintf(stderr, "vigil-train: warning: %zu invalid transactions skipped; first: %s\n",
                run.rp.n_invalid, run.rp.first_error);
    vg_iforest_t *f = s_train(o, &run);
    if (o->scores) {
        double *score = vg_malloc((run.rp.rows ? run.rp.rows : 1) * sizeof *score);
        vg_iforest_score_many(f, run.rp.x, run.rp.rows, score);
        s_write_scores(o->scores, score, run.rp.rows, run.rp.ids);
        free(score);
    }
    s_save(o, &f, &run);
    s_mlflow(o, &run);
    vg_jw_t w;
    vg_jw_init(&w);
    s_data_json(o, &run, &w);
    if (o->json)
        s_print_json(&w);
    else
        s_data_text(o, &run);
    if (!o->no_registry) s_registry_append(o->registry, &w);
    vg_jw_fini(&w);
    vg_replay_fini(&run.rp);
    if (run.has_labels) vg_labels_fini(&run.labels);
    return 0;
}

int main(int argc, char **argv)
{
    s_opts_t o = {.trees = 100, .sample = 256, .seeds = 5, .seed = 1, .holdout = 0.2};
    s_parse(argc, argv, &o);
    return o.csv ? s_run_csv(&o) : s_run_data(&o);
}
