/* vg_mlflow.c: the five MLflow REST calls a training run needs:
 * experiments/get-by-name (or experiments/create), runs/create,
 * runs/log-batch, runs/update. JSON out through vg_jw, replies read with
 * vg_jr; libcurl errors are converted to vg_err here with curl's text. */
#include "vg_mlflow.h"

#include "vg_err.h"
#include "vg_json.h"
#include "vg_jw.h"
#include "vg_mem.h"

#include <curl/curl.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/time.h>

#define S_REPLY_MAX (1 << 20)
#define S_VALUE_MAX 500 /* MLflow's limit for a param value */

struct vg_mlflow {
    CURL *curl;
    struct curl_slist *headers;
    char base[1024]; /* tracking URI without a trailing '/' */
    char experiment_id[128];
    char run_id[128];
    vg_jw_t params, metrics; /* array elements, comma-joined */
    char *reply;
    size_t reply_len;
};

static int64_t s_now_ms(void)
{
    struct timeval tv;
    gettimeofday(&tv, NULL);
    return (int64_t) tv.tv_sec * 1000 + tv.tv_usec / 1000;
}

static size_t s_on_data(char *p, size_t size, size_t n, void *arg)
{
    vg_mlflow_t *m = arg;
    size_t k = size * n;
    if (m->reply_len + k > S_REPLY_MAX) return 0; /* aborts the transfer */
    m->reply = vg_realloc(m->reply, m->reply_len + k + 1);
    memcpy(m->reply + m->reply_len, p, k);
    m->reply_len += k;
    m->reply[m->reply_len] = '\0';
    return k;
}

/* One call; body NULL = GET. On success *status is the HTTP status and
 * m->reply the body. */
static int s_call(vg_mlflow_t *m, const char *path, const char *body, long *status, char *errbuf,
                  size_t errlen)
{
    char url[2048];
    snprintf(url, sizeof url, "%s%s", m->base, path);
    m->reply_len = 0;
    if (m->reply) m->reply[0] = '\0';
    curl_easy_setopt(m->curl, CURLOPT_URL, url);
    curl_easy_setopt(m->curl, CURLOPT_HTTPGET, 1L);
    if (body) {
        curl_easy_setopt(m->curl, CURLOPT_POST, 1L);
        curl_easy_setopt(m->curl, CURLOPT_POSTFIELDS, body);
        curl_easy_setopt(m->curl, CURLOPT_POSTFIELDSIZE, (long) strlen(body));
    }
    CURLcode cc = curl_easy_perform(m->curl);
    if (cc != CURLE_OK)
        return vg_errf(errbuf, errlen, VG_ERR_IO, "mlflow: %s: %s", url, curl_easy_strerror(cc));
    curl_easy_getinfo(m->curl, CURLINFO_RESPONSE_CODE, status);
    return 0;
}

/* First string member named key, at any depth (depth-capped). */
static bool s_find(vg_jr_t *r, const char *key, char *out, size_t cap, int depth)
{
    char c = vg_jr_peek(r);
    bool first = true;
    vg_str_t k;
    if (depth > 8) return false;
    if (c == '{') {
        if (vg_jr_obj_begin(r)) return false;
        while (vg_jr_obj_next(r, &first, &k) > 0) {
            if (vg_str_eq_c(k, key) && vg_jr_peek(r) == '"') {
                vg_str_t v;
                if (vg_jr_string(r, &v) || v.len >= cap) return false;
                memcpy(out, v.ptr, v.len);
                out[v.len] = '\0';
                return true;
            }
            if (s_find(r, key, out, cap, depth + 1)) return true;
        }
        return false;
    }
    if (c == '[') {
        if (vg_jr_arr_begin(r)) return false;
        while (vg_jr_arr_next(r, &first) > 0)
            if (s_find(r, key, out, cap, depth + 1)) return true;
        return false;
    }
    vg_jr_skip(r);
    return false;
}

static bool s_reply_field(vg_mlflow_t *m, const char *key, char *out, size_t cap)
{
    if (!m->reply) return false;
    vg_arena_t a = VG_ARENA_INIT;
    vg_jr_t r;
    vg_jr_init(&r, m->reply, m->reply_len, &a);
    bool ok = s_find(&r, key, out, cap, 0);
    vg_arena_fini(&a);
    return ok;
}

static int s_http_error(vg_mlflow_t *m, const char *what, long status, char *errbuf, size_t errlen)
{
    char msg[256] = "";
    if (!s_reply_field(m, "message", msg, sizeof msg))
        snprintf(msg, sizeof msg, "%.200s", m->reply ? m->reply : "");
    return vg_errf(errbuf, errlen, VG_ERR_PROTO, "mlflow: %s: HTTP %ld: %s", what, status, msg);
}

static int s_experiment(vg_mlflow_t *m, const char *name, char *errbuf, size_t errlen)
{
    char *q = curl_easy_escape(m->curl, name, 0);
    char path[1024];
    snprintf(path, sizeof path, "/api/2.0/mlflow/experiments/get-by-name?experiment_name=%s", q);
    curl_free(q);
    long status;
    for (int attempt = 0; attempt < 2; attempt++) {
        int rc = s_call(m, path, NULL, &status, errbuf, errlen);
        if (rc) return rc;
        if (status == 200 &&
            s_reply_field(m, "experiment_id", m->experiment_id, sizeof m->experiment_id))
            return 0;
        if (status != 404)
            return s_http_error(m, "experiments/get-by-name", status, errbuf, errlen);
        vg_jw_t w;
        vg_jw_init(&w);
        vg_jw_obj_begin(&w);
        vg_jw_kcstr(&w, "name", name);
        vg_jw_obj_end(&w);
        rc = s_call(m, "/api/2.0/mlflow/experiments/create", w.buf, &status, errbuf, errlen);
        vg_jw_fini(&w);
        if (rc) return rc;
        if (status == 200 &&
            s_reply_field(m, "experiment_id", m->experiment_id, sizeof m->experiment_id))
            return 0;
        /* RESOURCE_ALREADY_EXISTS: another run created it; look it up again */
    }
    return s_http_error(m, "experiments/create", status, errbuf, errlen);
}

static int s_create_run(vg_mlflow_t *m, const char *run_name, char *errbuf, size_t errlen)
{
    vg_jw_t w;
    vg_jw_init(&w);
    vg_jw_obj_begin(&w);
    vg_jw_kcstr(&w, "experiment_id", m->experiment_id);
    vg_jw_kcstr(&w, "run_name", run_name);
    vg_jw_kint(&w, "start_time", s_now_ms());
    vg_jw_key(&w, "tags");
    vg_jw_arr_begin(&w);
    vg_jw_obj_begin(&w);
    vg_jw_kcstr(&w, "key", "mlflow.source.name");
    vg_jw_kcstr(&w, "value", "vigil-train");
    vg_jw_obj_end(&w);
    vg_jw_arr_end(&w);
    vg_jw_obj_end(&w);
    long status;
    int rc = s_call(m, "/api/2.0/mlflow/runs/create", w.buf, &status, errbuf, errlen);
    vg_jw_fini(&w);
    if (rc) return rc;
    if (status != 200 || !s_reply_field(m, "run_id", m->run_id, sizeof m->run_id))
        return s_http_error(m, "runs/create", status, errbuf, errlen);
    return 0;
}

static void s_free(vg_mlflow_t *m)
{
    if (m->curl) curl_easy_cleanup(m->curl);
    curl_slist_free_all(m->headers);
    vg_jw_fini(&m->params);
    vg_jw_fini(&m->metrics);
    free(m->reply);
    free(m);
}

static void s_auth(vg_mlflow_t *m)
{
    const char *token = getenv("MLFLOW_TRACKING_TOKEN");
    const char *user = getenv("MLFLOW_TRACKING_USERNAME");
    const char *pass = getenv("MLFLOW_TRACKING_PASSWORD");
    if (token && *token) {
        char h[2048];
        snprintf(h, sizeof h, "Authorization: Bearer %s", token);
        m->headers = curl_slist_append(m->headers, h);
    } else if (user && *user) {
        curl_easy_setopt(m->curl, CURLOPT_HTTPAUTH, (long) CURLAUTH_BASIC);
        curl_easy_setopt(m->curl, CURLOPT_USERNAME, user);
        curl_easy_setopt(m->curl, CURLOPT_PASSWORD, pass ? pass : "");
    }
}

int vg_mlflow_start(const char *experiment, const char *run_name, vg_mlflow_t **out, char *errbuf,
                    size_t errlen)
{
    *out = NULL;
    const char *uri = getenv("MLFLOW_TRACKING_URI");
    if (!uri || !*uri) return 0;
    if (strncmp(uri, "http://", 7) != 0 && strncmp(uri, "https://", 8) != 0)
        return vg_errf(errbuf, errlen, VG_ERR_INVALID,
                       "mlflow: MLFLOW_TRACKING_URI must be an http(s) URL (got '%s')", uri);
    const char *name = getenv("MLFLOW_EXPERIMENT_NAME");
    if (name && *name) experiment = name;
    curl_global_init(CURL_GLOBAL_DEFAULT);
    vg_mlflow_t *m = VG_NEW(vg_mlflow_t);
    snprintf(m->base, sizeof m->base, "%s", uri);
    size_t n = strlen(m->base);
    while (n && m->base[n - 1] == '/') m->base[--n] = '\0';
    vg_jw_init(&m->params);
    vg_jw_init(&m->metrics);
    m->curl = curl_easy_init();
    if (!m->curl) {
        s_free(m);
        return vg_errf(errbuf, errlen, VG_ERR_INTERNAL, "mlflow: curl_easy_init failed");
    }
    m->headers = curl_slist_append(NULL, "Content-Type: application/json");
    s_auth(m);
    curl_easy_setopt(m->curl, CURLOPT_HTTPHEADER, m->headers);
    curl_easy_setopt(m->curl, CURLOPT_WRITEFUNCTION, s_on_data);
    curl_easy_setopt(m->curl, CURLOPT_WRITEDATA, m);
    curl_easy_setopt(m->curl, CURLOPT_TIMEOUT, 30L);
    curl_easy_setopt(m->curl, CURLOPT_CONNECTTIMEOUT, 10L);
    curl_easy_setopt(m->curl, CURLOPT_NOSIGNAL, 1L);
    int rc = s_experiment(m, experiment, errbuf, errlen);
    if (!rc) rc = s_create_run(m, run_name, errbuf, errlen);
    if (rc) {
        s_free(m);
        return rc;
    }
    *out = m;
    return 0;
}

void vg_mlflow_param(vg_mlflow_t *m, const char *key, const char *value)
{
    if (!m) return;
    char v[S_VALUE_MAX + 1];
    snprintf(v, sizeof v, "%s", value);
    vg_jw_obj_begin(&m->params);
    vg_jw_kcstr(&m->params, "key", key);
    vg_jw_kcstr(&m->params, "value", v);
    vg_jw_obj_end(&m->params);
}

void vg_mlflow_metric(vg_mlflow_t *m, const char *key, double value)
{
    if (!m || !isfinite(value)) return;
    vg_jw_obj_begin(&m->metrics);
    vg_jw_kcstr(&m->metrics, "key", key);
    vg_jw_knum(&m->metrics, "value", value);
    vg_jw_kint(&m->metrics, "timestamp", s_now_ms());
    vg_jw_kint(&m->metrics, "step", 0);
    vg_jw_obj_end(&m->metrics);
}

const char *vg_mlflow_run_id(const vg_mlflow_t *m)
{
    return m ? m->run_id : "";
}

int vg_mlflow_finish(vg_mlflow_t **run_p, bool ok, char *errbuf, size_t errlen)
{
    if (!run_p || !*run_p) return 0;
    vg_mlflow_t *m = *run_p;
    *run_p = NULL;
    vg_jw_t w;
    vg_jw_init(&w);
    vg_jw_obj_begin(&w);
    vg_jw_kcstr(&w, "run_id", m->run_id);
    vg_jw_key(&w, "params");
    vg_jw_arr_begin(&w);
    vg_jw_raw(&w, m->params.buf ? m->params.buf : "", m->params.len);
    vg_jw_arr_end(&w);
    vg_jw_key(&w, "metrics");
    vg_jw_arr_begin(&w);
    vg_jw_raw(&w, m->metrics.buf ? m->metrics.buf : "", m->metrics.len);
    vg_jw_arr_end(&w);
    vg_jw_obj_end(&w);
    long status = 0;
    int rc = s_call(m, "/api/2.0/mlflow/runs/log-batch", w.buf, &status, errbuf, errlen);
    if (!rc && status != 200) rc = s_http_error(m, "runs/log-batch", status, errbuf, errlen);
    vg_jw_reset(&w);
    vg_jw_obj_begin(&w);
    vg_jw_kcstr(&w, "run_id", m->run_id);
    vg_jw_kcstr(&w, "status", ok && !rc ? "FINISHED" : "FAILED");
    vg_jw_kint(&w, "end_time", s_now_ms());
    vg_jw_obj_end(&w);
    char err2[256];
    int rc2 = s_call(m, "/api/2.0/mlflow/runs/update", w.buf, &status, err2, sizeof err2);
    if (!rc2 && status != 200) rc2 = s_http_error(m, "runs/update", status, err2, sizeof err2);
    if (!rc && rc2) rc = vg_errf(errbuf, errlen, rc2, "%s", err2);
    vg_jw_fini(&w);
    s_free(m);
    return rc;
}
