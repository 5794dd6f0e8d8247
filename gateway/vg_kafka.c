/* vg_kafka.c: the Kafka bridge and anomaly sink over librdkafka. The
 * bridge runs two threads: the consumer thread owns both clients (polls
 * messages, parses them into batches, serves rebalances and delivery
 * reports, produces dead letters and verdicts, stores offsets) and the
 * scorer thread scores submitted batches in order, retrying until they
 * are durable. Batches move consumer -> scorer -> consumer through a
 * FIFO of at most S_INFLIGHT; offsets are stored in FIFO order. */
#include "vg_kafka.h"

#include "vg_anomaly.h"
#include "vg_anomaly_json.h"
#include "vg_err.h"
#include "vg_log.h"
#include "vg_mem.h"
#include "vg_time.h"

#include <librdkafka/rdkafka.h>

#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#define S_MOD "kafka"
/* Batches submitted and not yet finished. Enough that the engine always
 * has the next one while a commit waits for fsync and the consumer keeps
 * reading meanwhile (at 3, bench_kafka idled: ~150k tx/s; at 8, ~225k). */
#define S_INFLIGHT        8
#define S_PAUSE_FULL_MS   500  /* a pipeline full this long pauses the partitions */
#define S_WMARK_MS        250  /* watermark refresh period for the lag */
#define S_WMARK_PAUSED_MS 2000 /* asking the brokers while paused */
#define S_DRAIN_MS        5000 /* finishing in-flight batches at a revoke */
#define S_STOP_MS         10000
#define S_TOPIC_CHECK_MS  3000 /* asking the brokers about an output topic at start */
#define S_TOPIC_MAX       250

/* What one consumed message makes the bridge produce (item todo bits; the
 * low bits of a delivery report's opaque). */
enum { K_DLQ = 0, K_VERDICT = 1, K_TX = 2, K_KINDS = 3 };

/* ---- shared helpers ------------------------------------------------------ */

static void s_log_cb(const rd_kafka_t *rk, int level, const char *fac, const char *buf)
{
    (void) rk;
    if (!strcmp(fac, "CONFWARN") && strstr(buf, "will be ignored by this"))
        level = 7; /* --kafka-options go to every client: the others' are expected */
    vg_log(level <= 3   ? VG_LOG_ERROR
           : level <= 4 ? VG_LOG_WARN
           : level <= 6 ? VG_LOG_INFO
                        : VG_LOG_DEBUG,
           "rdkafka", "%s: %s", fac, buf);
}

static void s_error_cb(rd_kafka_t *rk, int err, const char *reason, void *opaque)
{
    (void) opaque;
    if (err == RD_KAFKA_RESP_ERR__FATAL) {
        char why[256];
        rd_kafka_fatal_error(rk, why, sizeof why);
        vg_error(S_MOD, "%s: fatal: %s", rd_kafka_name(rk), why);
        return;
    }
    bool transport = err == RD_KAFKA_RESP_ERR__TRANSPORT ||
                     err == RD_KAFKA_RESP_ERR__RESOLVE; /* the log callback said so already */
    vg_log(transport ? VG_LOG_DEBUG : VG_LOG_WARN, S_MOD, "%s: %s (%s)", rd_kafka_name(rk), reason,
           rd_kafka_err2name(err));
}

static int s_set(rd_kafka_conf_t *conf, const char *k, const char *v, char *errbuf, size_t errlen)
{
    char why[256];
    if (rd_kafka_conf_set(conf, k, v, why, sizeof why) == RD_KAFKA_CONF_OK) return 0;
    return vg_errf(errbuf, errlen, VG_ERR_INVALID, "kafka: %s=%s: %s", k, v, why);
}

/* Applies "k=v,k=v" (the user's options). */
static int s_set_options(rd_kafka_conf_t *conf, const char *options, char *errbuf, size_t errlen)
{
    if (!options || !*options) return 0;
    char *copy = vg_strdup(options), *save = NULL, *kv;
    int rc = 0;
    for (kv = strtok_r(copy, ",", &save); kv && !rc; kv = strtok_r(NULL, ",", &save)) {
        char *eq = strchr(kv, '=');
        while (*kv == ' ') kv++;
        if (!eq || eq == kv) {
            rc =
                vg_errf(errbuf, errlen, VG_ERR_INVALID, "kafka options: '%s' is not key=value", kv);
            break;
        }
        *eq = 0;
        rc = s_set(conf, kv, eq + 1, errbuf, errlen);
    }
    free(copy);
    return rc;
}

/* A client: defaults, then the user's options, then the forced settings
 * (pairs, NULL-terminated). */
static rd_kafka_t *s_client(rd_kafka_type_t type, rd_kafka_conf_t *conf, const char *brokers,
                            const char *const *defaults, const char *options,
                            const char *const *forced, char *errbuf, size_t errlen)
{
    int rc = s_set(conf, "bootstrap.servers", brokers, errbuf, errlen);
    if (!rc) /* back within a second of a broker's return (default: up to 10 s) */
        rc = s_set(conf, "reconnect.backoff.max.ms", "1000", errbuf, errlen);
    for (size_t i = 0; !rc && defaults[i]; i += 2)
        rc = s_set(conf, defaults[i], defaults[i + 1], errbuf, errlen);
    if (!rc) rc = s_set_options(conf, options, errbuf, errlen);
    for (size_t i = 0; !rc && forced[i]; i += 2)
        rc = s_set(conf, forced[i], forced[i + 1], errbuf, errlen);
    if (rc) {
        rd_kafka_conf_destroy(conf);
        return NULL;
    }
    rd_kafka_conf_set_log_cb(conf, s_log_cb);
    rd_kafka_conf_set_error_cb(conf, s_error_cb);
    char why[512];
    rd_kafka_t *rk = rd_kafka_new(type, conf, why, sizeof why); /* owns conf on success */
    if (!rk) {
        rd_kafka_conf_destroy(conf);
        vg_errf(errbuf, errlen, VG_ERR_INVALID, "kafka: %s", why);
    }
    return rk;
}

/* Produces with RD_KAFKA_MSG_F_COPY, waiting (polling) while the local
 * queue is full. Returns the librdkafka error. */
static rd_kafka_resp_err_t s_produce(rd_kafka_t *rk, const char *topic, vg_str_t key,
                                     const void *val, size_t len, rd_kafka_headers_t *hdrs,
                                     void *opaque, const atomic_bool *cancel)
{
    for (;;) {
        rd_kafka_resp_err_t err =
            rd_kafka_producev(rk, RD_KAFKA_V_TOPIC(topic), RD_KAFKA_V_MSGFLAGS(RD_KAFKA_MSG_F_COPY),
                              RD_KAFKA_V_KEY(key.ptr, key.len), RD_KAFKA_V_VALUE((void *) val, len),
                              RD_KAFKA_V_HEADERS(hdrs), RD_KAFKA_V_OPAQUE(opaque), RD_KAFKA_V_END);
        if (err != RD_KAFKA_RESP_ERR__QUEUE_FULL || (cancel && atomic_load(cancel))) return err;
        rd_kafka_poll(rk, 10);
    }
}

/* Per-topic produce counters (a topic label). */
typedef struct {
    char topic[S_TOPIC_MAX];
    vg_counter_t ok, failed;
} s_pstat_t;

static void s_pstat_samples(vg_prom_t *p, const char *metric, const s_pstat_t *st, size_t n,
                            bool failed)
{
    for (size_t i = 0; i < n; i++) {
        if (!st[i].topic[0]) continue;
        char label[S_TOPIC_MAX + 16];
        snprintf(label, sizeof label, "topic=\"%s\"", st[i].topic);
        vg_prom_sample(p, metric, label,
                       (double) vg_counter_get(failed ? &st[i].failed : &st[i].ok));
    }
}

/* ---- the bridge: types --------------------------------------------------- */

typedef struct s_batch s_batch_t;

typedef struct {
    rd_kafka_message_t *m;
    s_batch_t *batch;
    int32_t tx;      /* index into batch->txs; -1 when invalid */
    uint8_t todo;    /* K_* bits still to produce (again, after a failed delivery) */
    int code;        /* invalid: the vg_err */
    const char *err; /* invalid: "field: reason" (arena) */
} s_item_t;

typedef enum { B_FILLING, B_QUEUED, B_SCORING, B_SCORED } s_bstate;

struct s_batch {
    s_item_t *items;
    uint32_t n, cap;
    vg_tx_t *txs;
    vg_verdict_t *verdicts;
    uint32_t n_tx, cap_tx;
    vg_arena_t arena;
    uint64_t first_ns;                     /* when the first message was taken */
    rd_kafka_topic_partition_list_t *offs; /* highest offset + 1 per partition */
    s_bstate state;                        /* under b->mu once submitted */
    int score_rc;
    uint64_t not_before_ns;    /* a failed batch is scored again from then */
    uint64_t produce_after_ns; /* a refused produce is tried again from then */
    vg_kafka_bridge_t *bridge;
    uint32_t outstanding; /* produced, not yet reported (consumer thread) */
    bool need_produce;    /* some item has todo bits */
};

typedef struct {
    char topic[S_TOPIC_MAX];
    int32_t partition;
    int64_t position, committed, lo, hi; /* -1 unknown */
    bool paused;
} s_part_t;

struct vg_kafka_bridge {
    vg_kafka_bridge_config_t cfg;
    char *brokers, *topics, *group, *dlq, *verdicts, *txt, *options;
    rd_kafka_t *consumer, *producer;
    pthread_t consumer_thread, scorer_thread;
    atomic_bool stop, hard_stop, failing;
    /* the pipeline: fifo[head .. head + count) submitted, oldest first */
    pthread_mutex_t mu;
    pthread_cond_t cv;
    s_batch_t *all[S_INFLIGHT + 1];                               /* owned */
    s_batch_t *pool[S_INFLIGHT + 1], *fifo[S_INFLIGHT], *filling; /* free, submitted, filling */
    uint32_t head, count, n_free;
    uint64_t full_since_ns, wmark_ns, wmark_asked_ns;
    int backoff_ms;     /* under mu */
    atomic_bool paused; /* written by the consumer thread */
    /* partitions assigned (under pmu: metrics and status read it) */
    pthread_mutex_t pmu;
    s_part_t *parts;
    size_t n_parts, cap_parts;
    vg_jw_t jw;   /* consumer thread: verdict JSON */
    vg_mpw_t mpw; /* consumer thread: transaction msgpack */
    vg_counter_t m_consumed, m_scored, m_dlq, m_batches, m_score_fail, m_rebalances;
    s_pstat_t pstat[K_KINDS];
};

/* ---- partition table ----------------------------------------------------- */

static s_part_t *s_part_find(vg_kafka_bridge_t *b, const char *topic, int32_t partition)
{
    for (size_t i = 0; i < b->n_parts; i++)
        if (b->parts[i].partition == partition && !strcmp(b->parts[i].topic, topic))
            return &b->parts[i];
    return NULL;
}

/* Adds the partitions (with their committed offsets, when known). */
static void s_parts_add(vg_kafka_bridge_t *b, const rd_kafka_topic_partition_list_t *l)
{
    pthread_mutex_lock(&b->pmu);
    for (int i = 0; i < l->cnt; i++) {
        const rd_kafka_topic_partition_t *tp = &l->elems[i];
        s_part_t *p = s_part_find(b, tp->topic, tp->partition);
        if (!p) {
            if (b->n_parts == b->cap_parts) {
                b->cap_parts = b->cap_parts ? b->cap_parts * 2 : 16;
                b->parts = vg_realloc(b->parts, b->cap_parts * sizeof *b->parts);
            }
            p = &b->parts[b->n_parts++];
        }
        *p = (s_part_t){.partition = tp->partition, .position = -1, .lo = -1, .hi = -1};
        snprintf(p->topic, sizeof p->topic, "%s", tp->topic);
        p->committed = tp->offset >= 0 ? tp->offset : -1;
        p->paused = atomic_load(&b->paused);
    }
    pthread_mutex_unlock(&b->pmu);
}

/* Removes the partitions (NULL: all). */
static void s_parts_remove(vg_kafka_bridge_t *b, const rd_kafka_topic_partition_list_t *l)
{
    pthread_mutex_lock(&b->pmu);
    for (size_t i = 0; i < b->n_parts;) {
        bool drop = !l || rd_kafka_topic_partition_list_find(l, b->parts[i].topic,
                                                             b->parts[i].partition) != NULL;
        if (drop)
            b->parts[i] = b->parts[--b->n_parts];
        else
            i++;
    }
    pthread_mutex_unlock(&b->pmu);
}

/* Refreshes the watermarks (for the lag): every S_WMARK_MS from what the
 * fetches brought, and while paused (nothing is fetched then) by asking
 * the brokers every S_WMARK_PAUSED_MS. Consumer thread; the table lock is
 * not held while asking. */
static void s_parts_watermarks(vg_kafka_bridge_t *b)
{
    uint64_t now = vg_now_ns();
    if (now - b->wmark_ns < (uint64_t) S_WMARK_MS * 1000000u) return;
    b->wmark_ns = now;
    bool ask = atomic_load(&b->paused) &&
               now - b->wmark_asked_ns >= (uint64_t) S_WMARK_PAUSED_MS * 1000000u;
    if (ask) b->wmark_asked_ns = now;
    pthread_mutex_lock(&b->pmu);
    size_t n = b->n_parts;
    s_part_t *copy = vg_malloc((n ? n : 1) * sizeof *copy);
    if (n) memcpy(copy, b->parts, n * sizeof *copy);
    pthread_mutex_unlock(&b->pmu);
    for (size_t i = 0; i < n; i++) {
        s_part_t *p = &copy[i];
        rd_kafka_resp_err_t err =
            ask ? rd_kafka_query_watermark_offsets(b->consumer, p->topic, p->partition, &p->lo,
                                                   &p->hi, 100)
                : rd_kafka_get_watermark_offsets(b->consumer, p->topic, p->partition, &p->lo,
                                                 &p->hi);
        if (err) p->hi = -1;
    }
    pthread_mutex_lock(&b->pmu);
    for (size_t i = 0; i < n; i++) {
        s_part_t *p = s_part_find(b, copy[i].topic, copy[i].partition);
        if (p && copy[i].hi >= 0) /* never below what was read (a stale cache) */
            p->lo = copy[i].lo, p->hi = VG_MAX(copy[i].hi, p->position);
    }
    pthread_mutex_unlock(&b->pmu);
    free(copy);
}

static int64_t s_part_lag(const s_part_t *p)
{
    int64_t base = p->committed >= 0 ? p->committed : p->position >= 0 ? p->position : p->lo;
    if (p->hi < 0 || base < 0) return -1;
    return p->hi > base ? p->hi - base : 0;
}

/* ---- batches --------------------------------------------------------------- */

static void s_batch_reset(s_batch_t *h)
{
    for (uint32_t i = 0; i < h->n; i++) rd_kafka_message_destroy(h->items[i].m);
    h->n = h->n_tx = 0;
    h->first_ns = 0;
    h->outstanding = 0;
    h->need_produce = false;
    h->score_rc = 0;
    h->not_before_ns = h->produce_after_ns = 0;
    h->state = B_FILLING;
    vg_arena_reset(&h->arena);
    if (h->offs) rd_kafka_topic_partition_list_destroy(h->offs);
    h->offs = NULL;
}

static void s_batch_free(s_batch_t *h)
{
    if (!h) return;
    s_batch_reset(h);
    vg_arena_fini(&h->arena);
    free(h->items), free(h->txs), free(h->verdicts);
    free(h);
}

/* True for the first byte of a msgpack array (fixarray, array 16/32): the
 * msgpack form; anything else is read as JSON. */
static bool s_is_msgpack(const rd_kafka_message_t *m)
{
    uint8_t c = ((const uint8_t *) m->payload)[0];
    return (c >= 0x90 && c <= 0x9f) || c == 0xdc || c == 0xdd;
}

/* Parses m into tx with the HTTP path's validation. */
static int s_parse(s_batch_t *h, const rd_kafka_message_t *m, vg_tx_t *tx, vg_perr_t *err)
{
    if (!m->payload || !m->len)
        return vg_perr_set(err, VG_ERR_PARSE, NULL, "empty message (a transaction is expected)");
    if (!s_is_msgpack(m)) return vg_tx_from_json(m->payload, m->len, tx, &h->arena, err);
    vg_mpr_t r;
    vg_mpr_init(&r, m->payload, m->len);
    int rc = vg_tx_decode(&r, tx, err);
    if (!rc && vg_mpr_remaining(&r))
        rc = vg_perr_set(err, VG_ERR_PARSE, NULL, "trailing bytes after the msgpack transaction");
    return rc;
}

/* Takes one consumed message into the batch being filled; now_ns is the
 * monotonic clock, ingest_ms the wall clock (the enrichment). */
static void s_take(vg_kafka_bridge_t *b, s_batch_t *h, rd_kafka_message_t *m, uint64_t now_ns,
                   int64_t ingest_ms)
{
    if (h->n == h->cap) {
        h->cap = h->cap ? h->cap * 2 : 1024;
        h->items = vg_realloc(h->items, h->cap * sizeof *h->items);
    }
    if (h->n_tx == h->cap_tx) {
        h->cap_tx = h->cap_tx ? h->cap_tx * 2 : 1024;
        h->txs = vg_realloc(h->txs, h->cap_tx * sizeof *h->txs);
        h->verdicts = vg_realloc(h->verdicts, h->cap_tx * sizeof *h->verdicts);
    }
    if (!h->n) h->first_ns = now_ns;
    s_item_t *it = &h->items[h->n++];
    *it = (s_item_t){.m = m, .batch = h, .tx = -1};
    vg_perr_t err;
    vg_perr_clear(&err);
    vg_tx_t *tx = &h->txs[h->n_tx];
    vg_tx_init(tx);
    if (s_parse(h, m, tx, &err) == 0) {
        tx->ingest_ms = ingest_ms;
        it->tx = (int32_t) h->n_tx++;
        it->todo = (b->verdicts ? 1u << K_VERDICT : 0) | (b->txt ? 1u << K_TX : 0);
    } else {
        char msg[300];
        vg_perr_str(&err, msg, sizeof msg);
        it->code = err.code ? err.code : VG_ERR_PARSE;
        it->err = vg_arena_strndup(&h->arena, msg, strlen(msg));
        it->todo = 1u << K_DLQ;
    }
    h->need_produce |= it->todo != 0;
    vg_counter_add(&b->m_consumed, 1);
}

/* The highest offset + 1 per partition of h, and the table's positions. */
static void s_batch_offsets(vg_kafka_bridge_t *b, s_batch_t *h)
{
    h->offs = rd_kafka_topic_partition_list_new(8);
    rd_kafka_topic_partition_t *last = NULL;
    for (uint32_t i = 0; i < h->n; i++) {
        const rd_kafka_message_t *m = h->items[i].m;
        const char *topic = rd_kafka_topic_name(m->rkt);
        if (!last || last->partition != m->partition || strcmp(last->topic, topic))
            last = rd_kafka_topic_partition_list_find(h->offs, topic, m->partition);
        if (!last) last = rd_kafka_topic_partition_list_add(h->offs, topic, m->partition);
        if (m->offset + 1 > last->offset) last->offset = m->offset + 1;
    }
    pthread_mutex_lock(&b->pmu);
    for (int i = 0; i < h->offs->cnt; i++) {
        s_part_t *p = s_part_find(b, h->offs->elems[i].topic, h->offs->elems[i].partition);
        if (p && h->offs->elems[i].offset > p->position) p->position = h->offs->elems[i].offset;
    }
    pthread_mutex_unlock(&b->pmu);
}

/* Hands the filling batch to the scorer. Consumer thread; fifo not full. */
static void s_submit(vg_kafka_bridge_t *b)
{
    s_batch_t *h = b->filling;
    s_batch_offsets(b, h);
    pthread_mutex_lock(&b->mu);
    VG_ASSERT(b->count < S_INFLIGHT && b->n_free > 0);
    h->state = B_QUEUED;
    b->fifo[(b->head + b->count++) % S_INFLIGHT] = h;
    b->filling = b->pool[--b->n_free];
    pthread_cond_broadcast(&b->cv);
    pthread_mutex_unlock(&b->mu);
}

/* ---- the scorer thread ---------------------------------------------------- */

/* The oldest queued batch, or NULL. Under b->mu. */
static s_batch_t *s_next_queued(vg_kafka_bridge_t *b)
{
    for (uint32_t i = 0; i < b->count; i++) {
        s_batch_t *h = b->fifo[(b->head + i) % S_INFLIGHT];
        if (h->state == B_QUEUED) return h;
    }
    return NULL;
}

/* Under b->mu: a scoring attempt of h ended with rc. Success (or a hard
 * stop) makes it SCORED for the consumer thread; a failure queues it
 * again after a backoff (50 ms doubling to 2 s) with the partitions
 * paused. */
static void s_scored(vg_kafka_bridge_t *b, s_batch_t *h, int rc)
{
    if (!rc || atomic_load(&b->hard_stop)) {
        vg_debug(S_MOD, "batch of %u (%u valid) scored %.1f ms after its first message", h->n,
                 h->n_tx, (double) (vg_now_ns() - h->first_ns) / 1e6);
        h->score_rc = rc;
        h->state = B_SCORED;
        if (!rc) b->backoff_ms = 0;
        if (!rc && atomic_exchange(&b->failing, false)) vg_info(S_MOD, "scoring again: resuming");
    } else {
        vg_counter_add(&b->m_score_fail, 1);
        if (!atomic_exchange(&b->failing, true))
            vg_warn(S_MOD, "scoring failed (%s): partitions paused, retrying", vg_strerror(rc));
        b->backoff_ms = b->backoff_ms ? VG_MIN(b->backoff_ms * 2, 2000) : 50;
        h->not_before_ns = vg_now_ns() + (uint64_t) b->backoff_ms * 1000000u;
        h->state = B_QUEUED;
    }
    pthread_cond_broadcast(&b->cv);
}

/* The engine's completion (vg_kafka_bridge_config_t.submit); any thread. */
static void s_submit_done(void *arg, int rc)
{
    s_batch_t *h = arg;
    pthread_mutex_lock(&h->bridge->mu);
    s_scored(h->bridge, h, rc);
    pthread_mutex_unlock(&h->bridge->mu);
}

/* True while a batch is with the score function. Under b->mu. */
static bool s_any_scoring(vg_kafka_bridge_t *b)
{
    for (uint32_t i = 0; i < b->count; i++)
        if (b->fifo[(b->head + i) % S_INFLIGHT]->state == B_SCORING) return true;
    return false;
}

/* Waits on b->cv for at most until (0: no limit). Under b->mu. */
static void s_cv_wait(vg_kafka_bridge_t *b, uint64_t until_ns)
{
    if (!until_ns) {
        pthread_cond_wait(&b->cv, &b->mu);
        return;
    }
    uint64_t left = until_ns > vg_now_ns() ? until_ns - vg_now_ns() : 0;
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    ts.tv_sec += (time_t) (left / 1000000000u);
    ts.tv_nsec += (long) (left % 1000000000u);
    ts.tv_sec += ts.tv_nsec / 1000000000L;
    ts.tv_nsec %= 1000000000L;
    pthread_cond_timedwait(&b->cv, &b->mu, &ts);
}

/* Hands the queued batches to the score function oldest first: with
 * submit (asynchronous, dispatch in order) up to every batch in flight at
 * once (the engine group-commits them), else one at a time. */
static void *s_scorer_main(void *arg)
{
    vg_kafka_bridge_t *b = arg;
    pthread_mutex_lock(&b->mu);
    for (;;) {
        s_batch_t *h = s_next_queued(b);
        bool stop = atomic_load(&b->hard_stop);
        if (!h || (!b->cfg.submit && s_any_scoring(b))) {
            if (stop && !s_any_scoring(b) && !h) break;
            s_cv_wait(b, 0);
            continue;
        }
        if (!stop && h->not_before_ns > vg_now_ns()) { /* retrying after a failure */
            s_cv_wait(b, h->not_before_ns);
            continue;
        }
        h->state = B_SCORING;
        pthread_mutex_unlock(&b->mu);
        if (!h->n_tx) {
            s_submit_done(h, 0);
        } else if (b->cfg.submit) {
            int rc = b->cfg.submit(b->cfg.score_ctx, h->txs, h->n_tx, h->verdicts, &h->arena,
                                   s_submit_done, h);
            if (rc) s_submit_done(h, rc); /* not started: done is never called */
        } else {
            s_submit_done(h,
                          b->cfg.score(b->cfg.score_ctx, h->txs, h->n_tx, h->verdicts, &h->arena));
        }
        pthread_mutex_lock(&b->mu);
    }
    pthread_mutex_unlock(&b->mu);
    return NULL;
}

/* ---- producing a batch's outputs ------------------------------------------ */

static void s_dr_cb(rd_kafka_t *rk, const rd_kafka_message_t *m, void *opaque)
{
    vg_kafka_bridge_t *b = opaque;
    (void) rk;
    uintptr_t tag = (uintptr_t) m->_private;
    s_item_t *it = (s_item_t *) (tag & ~(uintptr_t) 3);
    int kind = (int) (tag & 3);
    if (!it) return;
    it->batch->outstanding--;
    if (m->err) {
        vg_counter_add(&b->pstat[kind].failed, 1);
        vg_debug(S_MOD, "delivery to %s failed: %s", b->pstat[kind].topic,
                 rd_kafka_err2str(m->err));
        it->todo |= (uint8_t) (1u << kind);
        it->batch->need_produce = true;
        return;
    }
    vg_counter_add(&b->pstat[kind].ok, 1);
    if (kind == K_DLQ) vg_counter_add(&b->m_dlq, 1);
}

/* The dead letter of an invalid item: the original key and value, headers
 * error, error_code, source_topic, source_partition, source_offset. */
static rd_kafka_resp_err_t s_produce_dlq(vg_kafka_bridge_t *b, s_item_t *it, void *opaque)
{
    const rd_kafka_message_t *m = it->m;
    char part[16], off[24];
    snprintf(part, sizeof part, "%d", (int) m->partition);
    snprintf(off, sizeof off, "%lld", (long long) m->offset);
    rd_kafka_headers_t *hdrs = rd_kafka_headers_new(5);
    rd_kafka_header_add(hdrs, "error", -1, it->err, -1);
    rd_kafka_header_add(hdrs, "error_code", -1, vg_errname(it->code), -1);
    rd_kafka_header_add(hdrs, "source_topic", -1, rd_kafka_topic_name(m->rkt), -1);
    rd_kafka_header_add(hdrs, "source_partition", -1, part, -1);
    rd_kafka_header_add(hdrs, "source_offset", -1, off, -1);
    vg_str_t key = {m->key, (uint32_t) m->key_len};
    rd_kafka_resp_err_t err =
        s_produce(b->producer, b->dlq, key, m->payload, m->len, hdrs, opaque, NULL);
    if (err) rd_kafka_headers_destroy(hdrs); /* owned by the message only on success */
    return err;
}

static rd_kafka_resp_err_t s_produce_kind(vg_kafka_bridge_t *b, s_batch_t *h, s_item_t *it,
                                          int kind)
{
    void *opaque = (void *) ((uintptr_t) it | (uintptr_t) kind);
    if (kind == K_DLQ) return s_produce_dlq(b, it, opaque);
    const vg_tx_t *tx = &h->txs[it->tx];
    if (kind == K_VERDICT) {
        vg_jw_reset(&b->jw);
        vg_verdict_json(&b->jw, &h->verdicts[it->tx]);
        return s_produce(b->producer, b->verdicts, tx->user_id, b->jw.buf, b->jw.len, NULL, opaque,
                         NULL);
    }
    vg_mpw_reset(&b->mpw);
    vg_tx_encode(tx, &b->mpw);
    return s_produce(b->producer, b->txt, tx->user_id, b->mpw.buf, b->mpw.len, NULL, opaque, NULL);
}

/* Produces every todo of h (first time, or again after failed deliveries;
 * a produce the client refuses is tried again a second later). */
static void s_produce_batch(vg_kafka_bridge_t *b, s_batch_t *h)
{
    if (vg_now_ns() < h->produce_after_ns) return;
    h->need_produce = false;
    for (uint32_t i = 0; i < h->n; i++) {
        s_item_t *it = &h->items[i];
        for (int kind = 0; kind < K_KINDS && it->todo; kind++) {
            if (!(it->todo & (1u << kind))) continue;
            rd_kafka_resp_err_t err = s_produce_kind(b, h, it, kind);
            if (err) { /* unknown topic, message too large...: counted, retried later */
                vg_counter_add(&b->pstat[kind].failed, 1);
                vg_warn(S_MOD, "cannot produce to %s: %s (again in 1 s)", b->pstat[kind].topic,
                        rd_kafka_err2str(err));
                h->need_produce = true;
                h->produce_after_ns = vg_now_ns() + 1000000000u;
                return;
            }
            it->todo &= (uint8_t) ~(1u << kind);
            h->outstanding++;
        }
    }
}

/* Stores h's offsets (monotonic per partition; a partition no longer
 * assigned is refused by librdkafka and skipped). */
static void s_store_offsets(vg_kafka_bridge_t *b, s_batch_t *h)
{
    rd_kafka_topic_partition_list_t *l = rd_kafka_topic_partition_list_new(h->offs->cnt);
    pthread_mutex_lock(&b->pmu);
    for (int i = 0; i < h->offs->cnt; i++) {
        const rd_kafka_topic_partition_t *tp = &h->offs->elems[i];
        s_part_t *p = s_part_find(b, tp->topic, tp->partition);
        if (p && tp->offset > p->committed)
            rd_kafka_topic_partition_list_add(l, tp->topic, tp->partition)->offset = tp->offset;
    }
    pthread_mutex_unlock(&b->pmu);
    if (l->cnt) rd_kafka_offsets_store(b->consumer, l); /* per-partition errors in l */
    pthread_mutex_lock(&b->pmu);
    for (int i = 0; i < l->cnt; i++) {
        s_part_t *p = s_part_find(b, l->elems[i].topic, l->elems[i].partition);
        if (p && !l->elems[i].err) p->committed = l->elems[i].offset;
    }
    pthread_mutex_unlock(&b->pmu);
    rd_kafka_topic_partition_list_destroy(l);
}

/* Finishes the scored batches at the head of the fifo, in order: produces
 * their outputs, and once acknowledged stores their offsets. Returns the
 * number finished. Consumer thread. */
static int s_reap(vg_kafka_bridge_t *b)
{
    int done = 0;
    rd_kafka_poll(b->producer, 0); /* delivery reports */
    for (;;) {
        pthread_mutex_lock(&b->mu);
        s_batch_t *h = b->count ? b->fifo[b->head] : NULL;
        bool scored = h && h->state == B_SCORED;
        pthread_mutex_unlock(&b->mu);
        if (!scored) break;
        if (h->score_rc == 0) {
            if (h->need_produce) s_produce_batch(b, h);
            if (h->outstanding || h->need_produce) break;
            s_store_offsets(b, h);
            vg_counter_add(&b->m_scored, h->n_tx);
            vg_counter_add(&b->m_batches, 1);
        } /* else given up at a hard stop: its offsets stay unstored */
        s_batch_reset(h);
        pthread_mutex_lock(&b->mu);
        b->head = (b->head + 1) % S_INFLIGHT;
        b->count--;
        b->pool[b->n_free++] = h;
        pthread_mutex_unlock(&b->mu);
        done++;
    }
    return done;
}

/* Waits a little for the scorer (or delivery reports). */
static void s_wait(vg_kafka_bridge_t *b, int ms)
{
    pthread_mutex_lock(&b->mu);
    s_cv_wait(b, vg_now_ns() + (uint64_t) ms * 1000000u);
    pthread_mutex_unlock(&b->mu);
    rd_kafka_poll(b->producer, 0);
}

/* Submits what is being filled and finishes everything in flight, for at
 * most ms. Returns true when nothing is left. Consumer thread. */
static bool s_drain(vg_kafka_bridge_t *b, int ms)
{
    uint64_t deadline = vg_now_ns() + (uint64_t) ms * 1000000u;
    for (;;) {
        s_reap(b);
        if (b->filling->n && b->count < S_INFLIGHT) s_submit(b);
        if (!b->count && !b->filling->n) return true;
        if (vg_now_ns() >= deadline) return false;
        s_wait(b, 2);
    }
}

/* ---- the consumer thread ----------------------------------------------------- */

static void s_pause(vg_kafka_bridge_t *b, bool pause)
{
    if (atomic_load(&b->paused) == pause) return;
    rd_kafka_topic_partition_list_t *l = NULL;
    if (rd_kafka_assignment(b->consumer, &l) == 0 && l) {
        if (pause)
            rd_kafka_pause_partitions(b->consumer, l);
        else
            rd_kafka_resume_partitions(b->consumer, l);
        rd_kafka_topic_partition_list_destroy(l);
    }
    atomic_store(&b->paused, pause);
    pthread_mutex_lock(&b->pmu);
    for (size_t i = 0; i < b->n_parts; i++) b->parts[i].paused = pause;
    pthread_mutex_unlock(&b->pmu);
    vg_info(S_MOD, "%s consumption (%s)", pause ? "paused" : "resumed",
            pause ? (atomic_load(&b->failing) ? "scoring fails" : "scoring is behind")
                  : "caught up");
}

/* Pauses every assigned partition while scoring fails or the pipeline
 * has been full for a while; resumes once neither holds. */
static void s_backpressure(vg_kafka_bridge_t *b, bool full)
{
    uint64_t now = vg_now_ns();
    if (!full)
        b->full_since_ns = 0;
    else if (!b->full_since_ns)
        b->full_since_ns = now;
    bool slow = full && now - b->full_since_ns > (uint64_t) S_PAUSE_FULL_MS * 1000000u;
    s_pause(b, atomic_load(&b->failing) || slow);
}

static void s_error_free(rd_kafka_error_t *e)
{
    if (!e) return;
    vg_warn(S_MOD, "incremental (un)assign: %s", rd_kafka_error_string(e));
    rd_kafka_error_destroy(e);
}

/* New partitions: into the table (with their committed offsets, for the
 * lag), assigned, and paused when the rest is. */
static void s_assigned(vg_kafka_bridge_t *b, rd_kafka_t *rk, rd_kafka_topic_partition_list_t *parts,
                       bool coop)
{
    rd_kafka_topic_partition_list_t *c = rd_kafka_topic_partition_list_copy(parts);
    if (rd_kafka_committed(rk, c, 2000)) /* only for the lag: assign starts there anyway */
        for (int i = 0; i < c->cnt; i++) c->elems[i].offset = RD_KAFKA_OFFSET_INVALID;
    s_parts_add(b, c);
    rd_kafka_topic_partition_list_destroy(c);
    if (coop)
        s_error_free(rd_kafka_incremental_assign(rk, parts));
    else
        rd_kafka_assign(rk, parts);
    if (atomic_load(&b->paused)) rd_kafka_pause_partitions(rk, parts);
    vg_info(S_MOD, "assigned %d partition(s)", parts->cnt);
}

/* Partitions taken away: finish the batches in flight (scoring must
 * work; at most S_DRAIN_MS), commit their offsets, then let go. Lost
 * partitions (a missed session) are let go at once. */
static void s_revoked(vg_kafka_bridge_t *b, rd_kafka_t *rk, rd_kafka_topic_partition_list_t *parts,
                      bool coop)
{
    bool lost = rd_kafka_assignment_lost(rk);
    if (!lost && !s_drain(b, S_DRAIN_MS))
        vg_warn(S_MOD, "revoke: batches still in flight (scoring fails); they will be re-read");
    rd_kafka_resp_err_t err = lost ? 0 : rd_kafka_commit(rk, NULL, 0);
    if (err && err != RD_KAFKA_RESP_ERR__NO_OFFSET) /* the next owner re-reads since the last */
        vg_warn(S_MOD, "revoke: commit failed (%s)", rd_kafka_err2str(err));
    if (coop)
        s_error_free(rd_kafka_incremental_unassign(rk, parts));
    else
        rd_kafka_assign(rk, NULL);
    s_parts_remove(b, coop ? parts : NULL);
    vg_info(S_MOD, "%s %d partition(s)", lost ? "lost" : "revoked", parts->cnt);
}

static void s_rebalance_cb(rd_kafka_t *rk, rd_kafka_resp_err_t err,
                           rd_kafka_topic_partition_list_t *parts, void *opaque)
{
    vg_kafka_bridge_t *b = opaque;
    bool coop = !strcmp(rd_kafka_rebalance_protocol(rk), "COOPERATIVE");
    vg_counter_add(&b->m_rebalances, 1);
    if (err == RD_KAFKA_RESP_ERR__ASSIGN_PARTITIONS)
        s_assigned(b, rk, parts, coop);
    else
        s_revoked(b, rk, parts, coop);
}

/* Fills the batch for up to the linger time (or until full). A rebalance
 * served inside the poll may submit the batch (s_drain): b->filling is
 * read again after each poll. */
static void s_fill(vg_kafka_bridge_t *b)
{
    uint64_t linger = (uint64_t) b->cfg.batch_linger_ms * 1000000u, now = vg_now_ns();
    uint64_t mono0 = now,
             deadline = b->filling->n ? b->filling->first_ns + linger : now + 100000000u;
    int64_t wall0 = vg_wall_ms(); /* one clock read per message: wall = wall0 + elapsed */
    while (b->filling->n < b->cfg.batch_max && now < deadline && !atomic_load(&b->stop)) {
        int left = (int) ((deadline - now + 999999) / 1000000);
        rd_kafka_message_t *m = rd_kafka_consumer_poll(b->consumer, left);
        now = vg_now_ns();
        if (!m) continue;
        if (m->err) {
            if (m->err != RD_KAFKA_RESP_ERR__PARTITION_EOF)
                vg_warn(S_MOD, "consumer: %s", rd_kafka_message_errstr(m));
            rd_kafka_message_destroy(m);
            continue;
        }
        s_batch_t *h = b->filling;
        if (!h->n) deadline = now + linger;
        s_take(b, h, m, now, wall0 + (int64_t) ((now - mono0) / 1000000u));
    }
}

static void *s_consumer_main(void *arg)
{
    vg_kafka_bridge_t *b = arg;
    while (!atomic_load(&b->stop)) {
        s_reap(b);
        s_parts_watermarks(b);
        bool full = b->count >= S_INFLIGHT;
        s_backpressure(b, full);
        if (full && !atomic_load(&b->paused)) { /* briefly: wait for the scorer, do not read on */
            s_wait(b, 2);
            continue;
        }
        s_fill(b);
        s_batch_t *h = b->filling;
        bool ripe =
            h->n >= b->cfg.batch_max ||
            (h->n && vg_now_ns() - h->first_ns >= (uint64_t) b->cfg.batch_linger_ms * 1000000u);
        if (ripe && b->count < S_INFLIGHT) s_submit(b);
    }
    if (!s_drain(b, S_STOP_MS)) vg_warn(S_MOD, "stop: unfinished batches will be re-read");
    atomic_store(&b->hard_stop, true);
    pthread_mutex_lock(&b->mu);
    pthread_cond_broadcast(&b->cv);
    pthread_mutex_unlock(&b->mu);
    rd_kafka_commit(b->consumer, NULL, 0);
    rd_kafka_consumer_close(b->consumer); /* leaves the group (revoke: nothing in flight) */
    return NULL;
}

/* ---- output topics at start ----------------------------------------------------- */

/* An output topic the cluster does not have and will not create (brokers
 * with auto.create.topics.enable=false: the metadata request for it, which
 * asks for auto-creation, answers UNKNOWN_TOPIC_OR_PART) would hold every
 * partition whose output goes there, retried each second: refused at
 * start, named. Brokers that do not answer in time: started anyway (the
 * clients wait for them). */
static int s_check_topics(rd_kafka_t *rk, const char *const *pairs, char *errbuf, size_t errlen)
{
    int rc = 0;
    for (const char *const *p = pairs; !rc && p[0]; p += 2) { /* setting, topic */
        const char *topic = p[1];
        rd_kafka_topic_t *t = topic && *topic ? rd_kafka_topic_new(rk, topic, NULL) : NULL;
        if (!t) continue; /* none, or an invalid name: the first produce says so */
        const struct rd_kafka_metadata *md = NULL;
        rd_kafka_resp_err_t err = rd_kafka_metadata(rk, 0, t, &md, S_TOPIC_CHECK_MS);
        if (err) {
            vg_warn(S_MOD, "cannot check the output topics now (%s): starting anyway",
                    rd_kafka_err2str(err));
        } else if (md->topic_cnt == 1 &&
                   md->topics[0].err == RD_KAFKA_RESP_ERR_UNKNOWN_TOPIC_OR_PART) {
            rc = vg_errf(errbuf, errlen, VG_ERR_INVALID,
                         "kafka: %s: no topic '%s' on the cluster, and the brokers do not create "
                         "it (create it, or allow topic auto-creation)",
                         p[0], topic);
        }
        if (md) rd_kafka_metadata_destroy(md);
        rd_kafka_topic_destroy(t);
        if (err) break; /* the brokers do not answer: no use asking again */
    }
    return rc;
}

/* ---- bridge lifecycle ---------------------------------------------------------- */

/* The clients' settings, as key, value pairs. */
/* clang-format off */
static rd_kafka_t *s_bridge_consumer(vg_kafka_bridge_t *b, char *errbuf, size_t errlen)
{
    static const char *const defaults[] = {
        "auto.offset.reset", "earliest", /* a new group reads what is there */
        "auto.commit.interval.ms", "1000",
        "client.id", "vigil-bridge",
        "enable.partition.eof", "false",
        /* librdkafka stops fetching once this many messages are queued
         * locally and looks again only about a second later; at the
         * default (100000) a fast consumer empties the queue well within
         * that second and idles (bench_kafka: a 0.4-0.9 s stall per
         * refill). The memory bound stays queued.max.messages.kbytes. */
        "queued.min.messages", "1000000",
        NULL};
    const char *const forced[] = {
        "group.id", b->group,
        "enable.auto.offset.store", "false", /* stored by us, per durable batch */
        "enable.auto.commit", "true",        /* commits what is stored */
        NULL};
    rd_kafka_conf_t *conf = rd_kafka_conf_new();
    rd_kafka_conf_set_opaque(conf, b);
    rd_kafka_conf_set_rebalance_cb(conf, s_rebalance_cb);
    return s_client(RD_KAFKA_CONSUMER, conf, b->brokers, defaults, b->options, forced, errbuf,
                    errlen);
}

static rd_kafka_t *s_bridge_producer(vg_kafka_bridge_t *b, char *errbuf, size_t errlen)
{
    static const char *const defaults[] = {
        "linger.ms", "5",
        "message.timeout.ms", "30000", /* then produced again by us */
        "client.id", "vigil-bridge",
        NULL};
    static const char *const forced[] = {"enable.idempotence", "true", NULL};
    rd_kafka_conf_t *conf = rd_kafka_conf_new();
    rd_kafka_conf_set_opaque(conf, b);
    rd_kafka_conf_set_dr_msg_cb(conf, s_dr_cb);
    return s_client(RD_KAFKA_PRODUCER, conf, b->brokers, defaults, b->options, forced, errbuf,
                    errlen);
}
/* clang-format on */

static int s_subscribe(vg_kafka_bridge_t *b, char *errbuf, size_t errlen)
{
    rd_kafka_topic_partition_list_t *l = rd_kafka_topic_partition_list_new(4);
    char *copy = vg_strdup(b->topics), *save = NULL;
    for (char *t = strtok_r(copy, ", ", &save); t; t = strtok_r(NULL, ", ", &save))
        rd_kafka_topic_partition_list_add(l, t, RD_KAFKA_PARTITION_UA);
    free(copy);
    rd_kafka_resp_err_t err =
        l->cnt ? rd_kafka_subscribe(b->consumer, l) : RD_KAFKA_RESP_ERR__INVALID_ARG;
    rd_kafka_topic_partition_list_destroy(l);
    if (err)
        return vg_errf(errbuf, errlen, VG_ERR_INVALID, "kafka: cannot subscribe to '%s': %s",
                       b->topics, rd_kafka_err2str(err));
    return 0;
}

static char *s_dup_or(const char *s, const char *dflt)
{
    return s && *s ? vg_strdup(s) : dflt ? vg_strdup(dflt) : NULL;
}

/* Order matters: the producer's last delivery reports still touch the
 * batches, and the batches hold the consumer's messages. */
static void s_bridge_free(vg_kafka_bridge_t *b)
{
    if (b->producer) {
        rd_kafka_flush(b->producer, 2000);
        rd_kafka_purge(b->producer, RD_KAFKA_PURGE_F_QUEUE | RD_KAFKA_PURGE_F_INFLIGHT);
        rd_kafka_poll(b->producer, 0);
        rd_kafka_destroy(b->producer);
    }
    for (int i = 0; i <= S_INFLIGHT; i++) s_batch_free(b->all[i]);
    if (b->consumer) rd_kafka_destroy(b->consumer);
    free(b->brokers), free(b->topics), free(b->group), free(b->dlq), free(b->verdicts);
    free(b->txt), free(b->options), free(b->parts);
    vg_jw_fini(&b->jw);
    vg_mpw_fini(&b->mpw);
    pthread_mutex_destroy(&b->mu);
    pthread_mutex_destroy(&b->pmu);
    pthread_cond_destroy(&b->cv);
    free(b);
}

/* The bridge object: its settings copied, the batch pool; no clients. */
static vg_kafka_bridge_t *s_bridge_new(const vg_kafka_bridge_config_t *cfg)
{
    vg_kafka_bridge_t *b = VG_NEW(vg_kafka_bridge_t);
    b->cfg = *cfg;
    if (!b->cfg.batch_max) b->cfg.batch_max = 5000;
    if (b->cfg.batch_linger_ms <= 0) b->cfg.batch_linger_ms = 5;
    b->brokers = vg_strdup(cfg->brokers);
    b->topics = vg_strdup(cfg->topics);
    b->group = s_dup_or(cfg->group, "vigil");
    b->dlq = s_dup_or(cfg->dlq_topic, "vigil.dlq");
    b->verdicts = s_dup_or(cfg->verdicts_topic, NULL);
    b->txt = s_dup_or(cfg->tx_topic, NULL);
    b->options = s_dup_or(cfg->options, NULL);
    const char *names[K_KINDS] = {b->dlq, b->verdicts, b->txt};
    for (int k = 0; k < K_KINDS; k++)
        snprintf(b->pstat[k].topic, sizeof b->pstat[k].topic, "%s", names[k] ? names[k] : "");
    pthread_mutex_init(&b->mu, NULL);
    pthread_mutex_init(&b->pmu, NULL);
    pthread_cond_init(&b->cv, NULL);
    vg_jw_init(&b->jw);
    vg_mpw_init(&b->mpw);
    for (int i = 0; i <= S_INFLIGHT; i++) {
        b->all[i] = b->pool[i] = VG_NEW(s_batch_t);
        b->all[i]->arena.min_block = 256 * 1024;
        b->all[i]->bridge = b;
    }
    b->n_free = S_INFLIGHT;
    b->filling = b->pool[S_INFLIGHT];
    return b;
}

int vg_kafka_bridge_start(const vg_kafka_bridge_config_t *cfg, vg_kafka_bridge_t **out,
                          char *errbuf, size_t errlen)
{
    VG_ASSERT(cfg && out && (cfg->score || cfg->submit));
    *out = NULL;
    if (!cfg->brokers || !*cfg->brokers || !cfg->topics || !*cfg->topics)
        return vg_errf(errbuf, errlen, VG_ERR_INVALID, "kafka: brokers and topics are required");
    vg_kafka_bridge_t *b = s_bridge_new(cfg);
    int rc = (b->producer = s_bridge_producer(b, errbuf, errlen)) ? 0 : VG_ERR_INVALID;
    const char *const outputs[] = {"--kafka-dlq-topic",
                                   b->dlq,
                                   "--kafka-verdicts-topic",
                                   b->verdicts,
                                   "--kafka-tx-topic",
                                   b->txt,
                                   NULL};
    if (!rc) rc = s_check_topics(b->producer, outputs, errbuf, errlen);
    if (!rc) rc = (b->consumer = s_bridge_consumer(b, errbuf, errlen)) ? 0 : VG_ERR_INVALID;
    if (!rc) rd_kafka_poll_set_consumer(b->consumer);
    if (!rc) rc = s_subscribe(b, errbuf, errlen);
    if (!rc && pthread_create(&b->scorer_thread, NULL, s_scorer_main, b)) rc = VG_ERR_INTERNAL;
    if (!rc && pthread_create(&b->consumer_thread, NULL, s_consumer_main, b)) {
        atomic_store(&b->hard_stop, true);
        pthread_mutex_lock(&b->mu);
        pthread_cond_broadcast(&b->cv);
        pthread_mutex_unlock(&b->mu);
        pthread_join(b->scorer_thread, NULL);
        rc = VG_ERR_INTERNAL;
    }
    if (rc) {
        if (b->consumer) rd_kafka_consumer_close(b->consumer);
        s_bridge_free(b);
        return rc;
    }
    vg_info(S_MOD, "bridge: group %s reading %s from %s (dead letters to %s%s%s%s%s)", b->group,
            b->topics, b->brokers, b->dlq, b->verdicts ? ", verdicts to " : "",
            b->verdicts ? b->verdicts : "", b->txt ? ", transactions to " : "",
            b->txt ? b->txt : "");
    *out = b;
    return 0;
}

void vg_kafka_bridge_stop(vg_kafka_bridge_t **b_p)
{
    vg_kafka_bridge_t *b = b_p ? *b_p : NULL;
    if (!b) return;
    atomic_store(&b->stop, true);
    pthread_join(b->consumer_thread, NULL);
    atomic_store(&b->hard_stop, true);
    pthread_mutex_lock(&b->mu);
    pthread_cond_broadcast(&b->cv);
    pthread_mutex_unlock(&b->mu);
    pthread_join(b->scorer_thread, NULL);
    if (b->count) vg_warn(S_MOD, "stop: %u batch(es) unfinished: re-read later", b->count);
    s_bridge_free(b); /* batches in the fifo too: their offsets were not stored */
    *b_p = NULL;
}

/* ---- status and metrics ---------------------------------------------------------- */

void vg_kafka_bridge_status_json(vg_kafka_bridge_t *b, vg_jw_t *w)
{
    vg_jw_obj_begin(w);
    vg_jw_kcstr(w, "group", b->group);
    vg_jw_key(w, "topics");
    vg_jw_arr_begin(w);
    char *copy = vg_strdup(b->topics), *save = NULL;
    for (char *t = strtok_r(copy, ", ", &save); t; t = strtok_r(NULL, ", ", &save))
        vg_jw_cstr(w, t);
    free(copy);
    vg_jw_arr_end(w);
    vg_jw_kbool(w, "paused", atomic_load(&b->failing) || atomic_load(&b->paused));
    vg_jw_kint(w, "consumed", (int64_t) vg_counter_get(&b->m_consumed));
    vg_jw_kint(w, "scored", (int64_t) vg_counter_get(&b->m_scored));
    vg_jw_kint(w, "dead_letters", (int64_t) vg_counter_get(&b->m_dlq));
    int64_t total = 0;
    vg_jw_key(w, "partitions");
    vg_jw_arr_begin(w);
    pthread_mutex_lock(&b->pmu);
    for (size_t i = 0; i < b->n_parts; i++) {
        const s_part_t *p = &b->parts[i];
        int64_t lag = s_part_lag(p);
        if (lag > 0) total += lag;
        vg_jw_obj_begin(w);
        vg_jw_kcstr(w, "topic", p->topic);
        vg_jw_kint(w, "partition", p->partition);
        vg_jw_kint(w, "position", p->position);
        vg_jw_kint(w, "committed", p->committed);
        vg_jw_kint(w, "high", p->hi);
        vg_jw_kint(w, "lag", lag);
        vg_jw_kbool(w, "paused", p->paused);
        vg_jw_obj_end(w);
    }
    pthread_mutex_unlock(&b->pmu);
    vg_jw_arr_end(w);
    vg_jw_kint(w, "lag", total);
    vg_jw_obj_end(w);
}

/* ---- anomaly sink ------------------------------------------------------------------- */

struct vg_kafka_sink {
    rd_kafka_t *rk;
    char *topic;
    int timeout_ms;
    atomic_bool cancel;
    uintptr_t gen;          /* delivery call; stale reports are ignored */
    size_t pending, failed; /* of the call in progress */
    vg_jw_t jw;
    s_pstat_t pstat;
};

static void s_sink_dr_cb(rd_kafka_t *rk, const rd_kafka_message_t *m, void *opaque)
{
    vg_kafka_sink_t *s = opaque;
    (void) rk;
    if (m->err)
        vg_counter_add(&s->pstat.failed, 1);
    else
        vg_counter_add(&s->pstat.ok, 1);
    if ((uintptr_t) m->_private != s->gen) return;
    s->pending--;
    if (m->err) s->failed++;
}

int vg_kafka_sink_new(const vg_kafka_sink_config_t *cfg, vg_kafka_sink_t **out, char *errbuf,
                      size_t errlen)
{
    VG_ASSERT(cfg && out);
    *out = NULL;
    if (!cfg->brokers || !*cfg->brokers || !cfg->topic || !*cfg->topic)
        return vg_errf(errbuf, errlen, VG_ERR_INVALID, "kafka: brokers and topic are required");
    vg_kafka_sink_t *s = VG_NEW(vg_kafka_sink_t);
    s->timeout_ms = cfg->timeout_ms > 0 ? cfg->timeout_ms : 10000;
    s->topic = vg_strdup(cfg->topic);
    snprintf(s->pstat.topic, sizeof s->pstat.topic, "%s", cfg->topic);
    vg_jw_init(&s->jw);
    char timeout[16];
    snprintf(timeout, sizeof timeout, "%d", s->timeout_ms);
    const char *const defaults[] = {"linger.ms", "5", "client.id", "vigil-anomalies", NULL};
    const char *const forced[] = {"enable.idempotence", "true", "message.timeout.ms", timeout,
                                  NULL};
    rd_kafka_conf_t *conf = rd_kafka_conf_new();
    rd_kafka_conf_set_opaque(conf, s);
    rd_kafka_conf_set_dr_msg_cb(conf, s_sink_dr_cb);
    s->rk = s_client(RD_KAFKA_PRODUCER, conf, cfg->brokers, defaults, cfg->options, forced, errbuf,
                     errlen);
    const char *const outputs[] = {"--kafka-anomalies-topic", s->topic, NULL};
    int rc = s->rk ? s_check_topics(s->rk, outputs, errbuf, errlen) : VG_ERR_INVALID;
    if (rc) {
        vg_kafka_sink_destroy(&s);
        return rc;
    }
    vg_info(S_MOD, "anomalies go to topic %s at %s", s->topic, cfg->brokers);
    *out = s;
    return 0;
}

/* Produces one record; 0, or the produce error (counted). */
static int s_sink_one(vg_kafka_sink_t *s, const vg_str_t *rec)
{
    vg_anomaly_rec_t a;
    vg_perr_t perr;
    vg_perr_clear(&perr);
    if (vg_anomaly_decode(rec->ptr, rec->len, &a, &perr)) {
        char msg[300];
        vg_error(S_MOD, "an outbox record (%u bytes) does not decode (%s): set aside", rec->len,
                 vg_perr_str(&perr, msg, sizeof msg));
        return 0;
    }
    vg_jw_reset(&s->jw);
    vg_anomaly_rec_json(&s->jw, &a, true);
    rd_kafka_headers_t *hdrs = rd_kafka_headers_new(1);
    rd_kafka_header_add(hdrs, "anomaly_id", -1, a.id.ptr, a.id.len);
    rd_kafka_resp_err_t err = s_produce(s->rk, s->topic, a.user_id, s->jw.buf, s->jw.len, hdrs,
                                        (void *) s->gen, &s->cancel);
    if (err) {
        rd_kafka_headers_destroy(hdrs);
        vg_counter_add(&s->pstat.failed, 1);
        vg_warn(S_MOD, "cannot produce to %s: %s", s->topic, rd_kafka_err2str(err));
        return VG_ERR_UNREACHABLE;
    }
    s->pending++;
    return 0;
}

int vg_kafka_sink_deliver(void *ctx, const vg_str_t *recs, size_t n)
{
    vg_kafka_sink_t *s = ctx;
    s->gen++;
    s->pending = s->failed = 0;
    int rc = 0;
    for (size_t i = 0; i < n && !rc && !atomic_load(&s->cancel); i++) rc = s_sink_one(s, &recs[i]);
    uint64_t deadline = vg_now_ns() + (uint64_t) (s->timeout_ms + 2000) * 1000000u;
    while (s->pending && !atomic_load(&s->cancel) && vg_now_ns() < deadline)
        rd_kafka_poll(s->rk, 20);
    if (atomic_load(&s->cancel)) return VG_ERR_CLOSED;
    if (!rc && (s->pending || s->failed)) rc = VG_ERR_UNREACHABLE;
    return rc;
}

void vg_kafka_sink_cancel(vg_kafka_sink_t *s)
{
    if (s) atomic_store(&s->cancel, true);
}

void vg_kafka_sink_destroy(vg_kafka_sink_t **s_p)
{
    vg_kafka_sink_t *s = s_p ? *s_p : NULL;
    if (!s) return;
    if (s->rk) {
        rd_kafka_flush(s->rk, atomic_load(&s->cancel) ? 500 : s->timeout_ms);
        rd_kafka_destroy(s->rk);
    }
    vg_jw_fini(&s->jw);
    free(s->topic);
    free(s);
    *s_p = NULL;
}

/* ---- metrics ---------------------------------------------------------------------- */

static void s_counter(vg_prom_t *p, const char *name, const char *help, const vg_counter_t *c)
{
    vg_prom_header(p, name, "counter", help);
    vg_prom_sample(p, name, NULL, (double) vg_counter_get(c));
}

static void s_bridge_metrics(vg_kafka_bridge_t *b, vg_prom_t *p)
{
    s_counter(p, "vigil_kafka_consumed_total", "Messages read from the input topics.",
              &b->m_consumed);
    s_counter(p, "vigil_kafka_scored_total", "Valid transactions scored durably.", &b->m_scored);
    s_counter(p, "vigil_kafka_dlq_total", "Invalid messages acknowledged on the dead-letter topic.",
              &b->m_dlq);
    s_counter(p, "vigil_kafka_batches_total", "Batches finished (offsets stored).", &b->m_batches);
    s_counter(p, "vigil_kafka_score_failures_total", "Failed scoring attempts (retried).",
              &b->m_score_fail);
    s_counter(p, "vigil_kafka_rebalances_total", "Consumer group rebalance events.",
              &b->m_rebalances);
    vg_prom_header(p, "vigil_kafka_paused", "gauge", "1 while consumption is paused.");
    vg_prom_sample(p, "vigil_kafka_paused", NULL,
                   atomic_load(&b->failing) || atomic_load(&b->paused) ? 1 : 0);
    vg_prom_header(p, "vigil_kafka_consumer_lag", "gauge",
                   "Messages not yet durably processed per partition (high watermark - stored "
                   "offset).");
    pthread_mutex_lock(&b->pmu);
    for (size_t i = 0; i < b->n_parts; i++) {
        char label[S_TOPIC_MAX + 40];
        snprintf(label, sizeof label, "topic=\"%s\",partition=\"%d\"", b->parts[i].topic,
                 (int) b->parts[i].partition);
        int64_t lag = s_part_lag(&b->parts[i]);
        if (lag >= 0) vg_prom_sample(p, "vigil_kafka_consumer_lag", label, (double) lag);
    }
    pthread_mutex_unlock(&b->pmu);
}

void vg_kafka_metrics(vg_kafka_bridge_t *b, vg_kafka_sink_t *s, vg_prom_t *p)
{
    if (b) s_bridge_metrics(b, p);
    if (!b && !s) return;
    vg_prom_header(p, "vigil_kafka_produced_total", "counter",
                   "Messages acknowledged by the brokers, per topic.");
    if (b) s_pstat_samples(p, "vigil_kafka_produced_total", b->pstat, K_KINDS, false);
    if (s) s_pstat_samples(p, "vigil_kafka_produced_total", &s->pstat, 1, false);
    vg_prom_header(p, "vigil_kafka_produce_errors_total", "counter",
                   "Messages the brokers did not acknowledge (produced again), per topic.");
    if (b) s_pstat_samples(p, "vigil_kafka_produce_errors_total", b->pstat, K_KINDS, true);
    if (s) s_pstat_samples(p, "vigil_kafka_produce_errors_total", &s->pstat, 1, true);
}
