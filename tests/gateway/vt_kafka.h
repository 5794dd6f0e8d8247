/* vt_kafka.h: test helpers around librdkafka's mock cluster (the real
 * Kafka protocol on loopback, brokers running inside the test process):
 * start one, produce transactions (valid JSON and msgpack, and invalid
 * ones of several kinds), and read a whole topic back with its headers.
 * Used by the Kafka tests and bench_kafka. */
#ifndef VT_KAFKA_H
#define VT_KAFKA_H

#include "vg_mp.h"
#include "vg_tx.h"

#include <librdkafka/rdkafka.h>
#include <librdkafka/rdkafka_mock.h>

#include <stdarg.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

typedef struct {
    rd_kafka_t *rk; /* the producer that hosts the mock cluster */
    rd_kafka_mock_cluster_t *mc;
    char bootstraps[256];
} vt_kafka_t;

static inline void vt_kafka_quiet_log(const rd_kafka_t *rk, int level, const char *fac,
                                      const char *buf)
{
    (void) rk, (void) fac;
    if (level <= 3) fprintf(stderr, "test rdkafka: %s\n", buf);
}

static inline rd_kafka_t *vt_kafka_client(rd_kafka_type_t type, const char *bootstraps,
                                          const char *const *kv)
{
    rd_kafka_conf_t *conf = rd_kafka_conf_new();
    char err[256];
    if (bootstraps) rd_kafka_conf_set(conf, "bootstrap.servers", bootstraps, err, sizeof err);
    for (size_t i = 0; kv && kv[i]; i += 2)
        if (rd_kafka_conf_set(conf, kv[i], kv[i + 1], err, sizeof err)) {
            fprintf(stderr, "vt_kafka: %s=%s: %s\n", kv[i], kv[i + 1], err);
            abort();
        }
    rd_kafka_conf_set_log_cb(conf, vt_kafka_quiet_log);
    rd_kafka_t *rk = rd_kafka_new(type, conf, err, sizeof err);
    if (!rk) {
        fprintf(stderr, "vt_kafka: %s\n", err);
        abort();
    }
    return rk;
}

/* A mock cluster of `brokers` brokers (k->rk only hosts it: produce
 * through vt_kafka_producer). */
static inline void vt_kafka_start(vt_kafka_t *k, int brokers)
{
    const char *kv[] = {"enable.idempotence", "true", "linger.ms", "5", NULL};
    k->rk = vt_kafka_client(RD_KAFKA_PRODUCER, NULL, kv);
    k->mc = rd_kafka_mock_cluster_new(k->rk, brokers);
    snprintf(k->bootstraps, sizeof k->bootstraps, "%s", rd_kafka_mock_cluster_bootstraps(k->mc));
}

static inline void vt_kafka_stop(vt_kafka_t *k)
{
    rd_kafka_flush(k->rk, 5000);
    rd_kafka_mock_cluster_destroy(k->mc);
    rd_kafka_destroy(k->rk);
    memset(k, 0, sizeof *k);
}

static inline void vt_kafka_topic(vt_kafka_t *k, const char *topic, int partitions)
{
    if (rd_kafka_mock_topic_create(k->mc, topic, partitions, 1)) abort();
}

/* A producer connected to the mock cluster (the hosting handle is not
 * bootstrapped to it). */
static inline rd_kafka_t *vt_kafka_producer(const vt_kafka_t *k)
{
    const char *kv[] = {
        "enable.idempotence",           "true",    "linger.ms", "5", "batch.num.messages", "10000",
        "queue.buffering.max.messages", "1000000", NULL};
    return vt_kafka_client(RD_KAFKA_PRODUCER, k->bootstraps, kv);
}

static inline void vt_kafka_send(rd_kafka_t *p, const char *topic, const char *key, const void *val,
                                 size_t len)
{
    for (;;) {
        rd_kafka_resp_err_t err =
            rd_kafka_producev(p, RD_KAFKA_V_TOPIC(topic), RD_KAFKA_V_MSGFLAGS(RD_KAFKA_MSG_F_COPY),
                              RD_KAFKA_V_KEY(key, key ? strlen(key) : 0),
                              RD_KAFKA_V_VALUE((void *) val, len), RD_KAFKA_V_END);
        if (err == RD_KAFKA_RESP_ERR__QUEUE_FULL) {
            rd_kafka_poll(p, 10);
            continue;
        }
        if (err) {
            fprintf(stderr, "vt_kafka: produce: %s\n", rd_kafka_err2str(err));
            abort();
        }
        rd_kafka_poll(p, 0);
        return;
    }
}

/* ---- synthetic traffic ------------------------------------------------------
 * Message i of a run: user u<i % users>, one an hour; amounts around 50
 * with small noise, and for every 7th user a spike (5000) as its 25th and
 * 37th transaction (anomalies once the detectors have history). Every `invalid_every`th
 * message is invalid, cycling through: malformed JSON, a missing field,
 * bad msgpack, an empty value. Every 5th valid one is msgpack. */

typedef enum { VT_VALID = 0, VT_BAD_JSON, VT_MISSING, VT_BAD_MP, VT_EMPTY } vt_kind_t;

typedef struct {
    char id[48], user[24];
    vt_kind_t kind;
    char buf[512];
    size_t len;
} vt_msg_t;

static inline void vt_msg(vt_msg_t *m, const char *run, uint32_t i, uint32_t users,
                          uint32_t invalid_every)
{
    uint32_t u = i % users, n = i / users;
    snprintf(m->id, sizeof m->id, "%s-%u", run, i);
    snprintf(m->user, sizeof m->user, "u%u", u);
    double amount = 50 + (double) ((i * 7919u) % 1000) / 100.0;
    if (u % 7 == 0 && (n == 24 || n == 36)) amount = 5000;
    int64_t ts = 1780000000000LL + (int64_t) n * 3600000 + u; /* hourly: no velocity alarms */
    m->kind = VT_VALID;
    if (invalid_every && i % invalid_every == invalid_every - 1)
        m->kind = (vt_kind_t) (1 + (i / invalid_every) % 4);
    switch (m->kind) {
    case VT_BAD_JSON:
        m->len = (size_t) snprintf(m->buf, sizeof m->buf, "{\"id\":\"%s\",\"user_id\":", m->id);
        return;
    case VT_MISSING:
        m->len = (size_t) snprintf(m->buf, sizeof m->buf,
                                   "{\"id\":\"%s\",\"user_id\":\"%s\",\"amount\":1,"
                                   "\"timestamp\":%lld}",
                                   m->id, m->user, (long long) ts);
        return;
    case VT_BAD_MP:
        m->buf[0] = (char) 0x9f, m->buf[1] = (char) 0xa3, m->buf[2] = 'a';
        m->len = 3;
        return;
    case VT_EMPTY: m->len = 0; return;
    case VT_VALID: break;
    }
    if (i % 5 == 4) { /* msgpack: the PROTOCOL.md form */
        vg_tx_t tx;
        vg_tx_init(&tx);
        tx.id = vg_str_c(m->id);
        tx.user_id = vg_str_c(m->user);
        tx.amount = amount;
        tx.ts_ms = ts;
        memcpy(tx.currency, "EUR", 4);
        vg_mpw_t w;
        vg_mpw_init_fixed(&w, m->buf, sizeof m->buf);
        vg_tx_encode(&tx, &w);
        m->len = w.len;
        return;
    }
    m->len = (size_t) snprintf(m->buf, sizeof m->buf,
                               "{\"id\":\"%s\",\"user_id\":\"%s\",\"amount\":%.2f,"
                               "\"currency\":\"EUR\",\"timestamp\":%lld,\"merchant_id\":\"m%u\"}",
                               m->id, m->user, amount, (long long) ts, i % 13);
}

/* Produces messages [from, to) of a run to topic (key = user). */
static inline void vt_kafka_send_run(rd_kafka_t *p, const char *topic, const char *run,
                                     uint32_t from, uint32_t to, uint32_t users,
                                     uint32_t invalid_every)
{
    vt_msg_t m;
    for (uint32_t i = from; i < to; i++) {
        vt_msg(&m, run, i, users, invalid_every);
        vt_kafka_send(p, topic, m.user, m.buf, m.len);
    }
}

/* ---- reading a topic back ------------------------------------------------------ */

typedef struct {
    int32_t partition;
    int64_t offset;
    char *key, *value; /* NUL-terminated copies */
    size_t value_len;
    char *headers; /* "name=value\n" lines */
} vt_rec_t;

typedef struct {
    vt_rec_t *v;
    size_t n, cap;
} vt_recs_t;

static inline void vt_recs_free(vt_recs_t *r)
{
    for (size_t i = 0; i < r->n; i++) free(r->v[i].key), free(r->v[i].value), free(r->v[i].headers);
    free(r->v);
    memset(r, 0, sizeof *r);
}

/* The value of header name of r (a static buffer), or NULL. */
static inline const char *vt_header(const vt_rec_t *r, const char *name)
{
    static __thread char out[256];
    size_t n = strlen(name);
    for (const char *p = r->headers; p && *p; p = strchr(p, '\n') + 1) {
        const char *nl = strchr(p, '\n');
        if (!strncmp(p, name, n) && p[n] == '=') {
            snprintf(out, sizeof out, "%.*s", (int) (nl - p - (long) n - 1), p + n + 1);
            return out;
        }
    }
    return NULL;
}

static inline char *vt_strndup(const void *p, size_t n)
{
    char *s = malloc(n + 1);
    if (n) memcpy(s, p, n);
    s[n] = 0;
    return s;
}

static inline void vt_recs_add(vt_recs_t *r, const rd_kafka_message_t *m)
{
    if (r->n == r->cap) {
        r->cap = r->cap ? r->cap * 2 : 256;
        r->v = realloc(r->v, r->cap * sizeof *r->v);
    }
    vt_rec_t *x = &r->v[r->n++];
    x->partition = m->partition;
    x->offset = m->offset;
    x->key = vt_strndup(m->key, m->key_len);
    x->value = vt_strndup(m->payload, m->len);
    x->value_len = m->len;
    size_t cap = 64, len = 0;
    x->headers = calloc(1, cap);
    rd_kafka_headers_t *h = NULL;
    if (rd_kafka_message_headers(m, &h) == 0) {
        const char *name;
        const void *val;
        size_t vlen;
        for (size_t i = 0; !rd_kafka_header_get_all(h, i, &name, &val, &vlen); i++) {
            size_t need = len + strlen(name) + vlen + 3;
            if (need > cap) x->headers = realloc(x->headers, cap = need * 2);
            len += (size_t) sprintf(x->headers + len, "%s=%.*s\n", name, (int) vlen,
                                    (const char *) val);
        }
    }
}

/* Reads every message of topic (all partitions, from the start to the
 * high watermarks as of now) into out. Returns 0 or -1 (timeout). */
static inline int vt_kafka_read(const vt_kafka_t *k, const char *topic, vt_recs_t *out)
{
    const char *kv[] = {"group.id", "vt-reader", "enable.auto.commit", "false", NULL};
    rd_kafka_t *c = vt_kafka_client(RD_KAFKA_CONSUMER, k->bootstraps, kv);
    const rd_kafka_metadata_t *md = NULL;
    rd_kafka_topic_t *t = rd_kafka_topic_new(c, topic, NULL);
    int rc = -1;
    if (rd_kafka_metadata(c, 0, t, &md, 5000) || md->topic_cnt != 1) goto done;
    rd_kafka_topic_partition_list_t *l = rd_kafka_topic_partition_list_new(8);
    int64_t want = 0, got = 0;
    int np = md->topics[0].partition_cnt;
    int64_t *hi = calloc((size_t) np + 1, sizeof *hi);
    int64_t *next = calloc((size_t) np + 1, sizeof *next); /* per partition */
    for (int p = 0; p < np; p++) {
        int64_t lo;
        if (rd_kafka_query_watermark_offsets(c, topic, p, &lo, &hi[p], 5000)) hi[p] = 0;
        want += hi[p];
        rd_kafka_topic_partition_list_add(l, topic, p)->offset = RD_KAFKA_OFFSET_BEGINNING;
    }
    rd_kafka_assign(c, l);
    rd_kafka_topic_partition_list_destroy(l);
    time_t end = time(NULL) + 30;
    while (got < want && time(NULL) < end) {
        rd_kafka_message_t *m = rd_kafka_consumer_poll(c, 100);
        if (!m) continue;
        /* a record delivered again (the client refetched after a slow or
         * failed fetch under load) is taken once: offsets are contiguous */
        if (!m->err && m->partition >= 0 && m->partition < np && m->offset < hi[m->partition] &&
            m->offset >= next[m->partition]) {
            next[m->partition] = m->offset + 1;
            vt_recs_add(out, m);
            got++;
        } else if (!m->err && m->partition >= 0 && m->partition < np &&
                   m->offset < next[m->partition]) {
            fprintf(stderr, "vt_kafka_read %s: %d/%lld delivered again, skipped\n", topic,
                    (int) m->partition, (long long) m->offset);
        }
        rd_kafka_message_destroy(m);
    }
    free(hi), free(next);
    rc = got >= want ? 0 : -1;
done:
    if (md) rd_kafka_metadata_destroy(md);
    rd_kafka_topic_destroy(t);
    rd_kafka_consumer_close(c);
    rd_kafka_destroy(c);
    return rc;
}

#endif
