/* vg_store.c: the node's durable state on LMDB (the only file that
 * includes lmdb.h): named databases, one write transaction per batch,
 * per-thread readers (MDB_NOTLS, reset/renew), and the embedded anomaly
 * store with keyset-paginated queries and per-minute trend counters. */
#include "vg_store.h"

#include "vg_err.h"
#include "vg_log.h"
#include "vg_mem.h"
#include "vg_time.h"

#include <lmdb.h>

#include <errno.h>
#include <stdarg.h>
#include <stdatomic.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>

/* On-disk format (version S_FORMAT, in meta "format"). Integers are
 * big-endian so that byte order is numeric order; "ord64(x)" is the
 * int64 x with its sign bit flipped, so negative values sort first.
 *
 *   db            key                                  value
 *   users         shard u16 | user_id                   user state bytes
 *   seen          ord64(ts_ms) | shard u16 | tx id      verdict bytes (msgpack)
 *   anomalies     pk = ord64(ts_ms) | id                vg_anomaly_encode bytes
 *   anom_by_id    id                                    pk
 *   anom_by_user  esc(user_id) | 0x00 | pk              (empty)
 *   anom_stats    ord64(ts_ms floor-divided by 60000)   8 x u64: total,
 *                                                       by severity [4],
 *                                                       by decision [3]
 *   meta          "format"                              u32
 *                 "outbox:" | sink name                 u64: the sink's cursor (acked
 *                                                       up to this seq)
 *   blobs         content hash (16 bytes)               rule set / model bytes
 *   outbox        seq u64 (ascending)                   vg_anomaly_encode bytes, awaiting
 *                                                       delivery to the sinks
 *
 * Ids (anomaly id, user_id) in anomaly keys are 1..VG_TX_ID_MAX bytes.
 * esc() writes a NUL byte of user_id as 0x00 0xFF (ids without NUL are
 * stored verbatim), so esc(user_id) | 0x00 is a prefix no other user's
 * keys share before a 0xFF byte, and a pk never starts with 0xFF (the
 * event time of a stored record is 0..VG_TX_TS_MAX, first byte 0x80).
 * A query cursor is base64url(0x01 | pk | fnv1a32(0x01 | pk)). */

#define S_MOD          "store"
#define S_FORMAT       2 /* 2: seen keys carry the event time */
#define S_MAP_DEFAULT  ((size_t) 64 << 30)
#define S_MAX_READERS  256
#define S_KEY_MAX      255 /* user/tx ids in users and seen keys */
#define S_PK_MAX       (8 + VG_TX_ID_MAX)
#define S_UPREFIX_MAX  (2 * VG_TX_ID_MAX + 1)
#define S_UKEY_MAX     (S_UPREFIX_MAX + S_PK_MAX)
#define S_SCAN_DEFAULT 100000
#define S_BUCKETS_MAX  10000
#define S_MINUTE_MS    60000
#define S_COUNTERS     8 /* anom_stats value: u64 counters */
#define S_LIMIT_MAX    1000
#define S_TIME_ABS_MAX ((int64_t) 1 << 60) /* stats: |from|, |to|, bucket */

enum {
    S_USERS,
    S_SEEN,
    S_ANOM,
    S_ANOM_ID,
    S_ANOM_USER,
    S_ANOM_STATS,
    S_META,
    S_BLOBS,
    S_OUTBOX,
    S_NDB
};
static const char *const s_db_names[S_NDB] = {"users",      "seen",         "anomalies",
                                              "anom_by_id", "anom_by_user", "anom_stats",
                                              "meta",       "blobs",        "outbox"};

struct vg_store {
    MDB_env *env;
    MDB_dbi dbi[S_NDB];
    char *dir;
    vg_mpw_t scratch; /* record encoding; only touched while holding the write txn */
    atomic_uint_fast64_t commits, commit_ns_total, commit_ns_last;
    bool outbox;    /* anomalies go to the outbox, not the local dbs */
    uint32_t sinks; /* outbox consumers; 0 = no outbox */
    char sink_names[VG_STORE_SINKS_MAX][64];
    atomic_uint_fast64_t acked[VG_STORE_SINKS_MAX]; /* each sink's cursor */
    atomic_uint_fast64_t next_seq;                  /* the next outbox key */
};

struct vg_store_batch {
    vg_store_t *s;
    MDB_txn *txn;
    int err; /* sticky: a failed write poisons the transaction */
};

struct vg_store_reader {
    vg_store_t *s;
    MDB_txn *txn; /* NULL until the first begin; reset between snapshots */
    bool active;
};

/* ---- helpers ----------------------------------------------------------- */

/* The LMDB -> vg_err border: logs the original, returns the vg_err. */
static int s_err(int rc, const char *what)
{
    int e;
    switch (rc) {
    case 0: return 0;
    case MDB_NOTFOUND: return VG_ERR_NOT_FOUND;
    case MDB_KEYEXIST: return VG_ERR_EXISTS;
    case MDB_MAP_FULL: e = VG_ERR_FULL; break;
    case MDB_READERS_FULL: e = VG_ERR_LIMIT; break;
    case MDB_BAD_VALSIZE: e = VG_ERR_TOO_LARGE; break;
    case EINVAL: e = VG_ERR_INVALID; break;
    case EIO:
    case ENOSPC: e = VG_ERR_IO; break;
    default: e = VG_ERR_STORAGE; break;
    }
    vg_error(S_MOD, "%s: %s (lmdb %d -> %s)", what, mdb_strerror(rc), rc, vg_errname(e));
    return e;
}

static void s_put64(uint8_t *p, uint64_t v)
{
    for (int i = 7; i >= 0; i--, v >>= 8) p[i] = (uint8_t) v;
}

static uint64_t s_get64(const uint8_t *p)
{
    uint64_t v = 0;
    for (int i = 0; i < 8; i++) v = v << 8 | p[i];
    return v;
}

static uint64_t s_ord64(int64_t v)
{
    return (uint64_t) v ^ ((uint64_t) 1 << 63);
}

static int64_t s_unord64(uint64_t u)
{
    u ^= (uint64_t) 1 << 63;
    int64_t v;
    memcpy(&v, &u, sizeof v);
    return v;
}

static int64_t s_floor_div(int64_t a, int64_t b)
{
    int64_t q = a / b;
    return (a % b != 0 && (a < 0) != (b < 0)) ? q - 1 : q;
}

static MDB_val s_val(const void *p, size_t n)
{
    return (MDB_val){.mv_size = n, .mv_data = (void *) p};
}

/* Lexicographic, as LMDB's default comparison: bytes, then length. */
static int s_keycmp(const uint8_t *a, size_t alen, const uint8_t *b, size_t blen)
{
    int c = memcmp(a, b, VG_MIN(alen, blen));
    return c ? c : (alen > blen) - (alen < blen);
}

static bool s_id_ok(vg_str_t id)
{
    return id.ptr && id.len >= 1 && id.len <= VG_TX_ID_MAX;
}

/* esc(user_id) | 0x00 into buf (S_UPREFIX_MAX); returns its length. */
static size_t s_user_prefix(vg_str_t user_id, uint8_t *buf)
{
    size_t n = 0;
    for (uint32_t i = 0; i < user_id.len; i++) {
        buf[n++] = (uint8_t) user_id.ptr[i];
        if (!user_id.ptr[i]) buf[n++] = 0xFF;
    }
    buf[n++] = 0;
    return n;
}

/* shard u16 | id into buf (2 + S_KEY_MAX bytes). */
static int s_shard_key(uint32_t shard, vg_str_t id, uint8_t *buf, MDB_val *k)
{
    if (shard > UINT16_MAX || !id.ptr || id.len == 0 || id.len > S_KEY_MAX) return VG_ERR_INVALID;
    buf[0] = (uint8_t) (shard >> 8);
    buf[1] = (uint8_t) shard;
    memcpy(buf + 2, id.ptr, id.len);
    *k = s_val(buf, 2 + (size_t) id.len);
    return 0;
}

/* seen key: ord64(ts) | shard | id. Time-major, so a commit's inserts land
 * at the right edge of the tree instead of one random leaf page per
 * transaction (measured with vigil-loadgen, 500-tx batches: 80k tx/s with
 * shard-major keys, 158k with time-major). A shard's range is then not
 * contiguous: vg_store_shard_scan filters a full scan. */
static int s_seen_key(uint32_t shard, int64_t ts_ms, vg_str_t id, uint8_t *buf, MDB_val *k)
{
    if (shard > UINT16_MAX || !id.ptr || id.len == 0 || id.len > S_KEY_MAX) return VG_ERR_INVALID;
    s_put64(buf, s_ord64(ts_ms));
    buf[8] = (uint8_t) (shard >> 8);
    buf[9] = (uint8_t) shard;
    memcpy(buf + 10, id.ptr, id.len);
    *k = s_val(buf, 10 + (size_t) id.len);
    return 0;
}

/* pk = ord64(ts) | id; returns its length. */
static size_t s_pk(int64_t ts_ms, vg_str_t id, uint8_t *pk)
{
    s_put64(pk, s_ord64(ts_ms));
    memcpy(pk + 8, id.ptr, id.len);
    return 8 + (size_t) id.len;
}

static bool s_pk_ok(const uint8_t *pk, size_t len)
{
    return len > 8 && len <= S_PK_MAX;
}

static void s_msg(char *buf, size_t cap, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));
static void s_msg(char *buf, size_t cap, const char *fmt, ...)
{
    if (!buf || !cap) return;
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(buf, cap, fmt, ap);
    va_end(ap);
}

/* ---- open / close ------------------------------------------------------ */

static bool s_is_dir(const char *path)
{
    struct stat st;
    return stat(path, &st) == 0 && S_ISDIR(st.st_mode);
}

/* mkdir -p dir; then dir must be a directory. */
static int s_mkdirs(const char *dir, char *errbuf, size_t errlen)
{
    char *path = vg_strdup(dir);
    int rc = 0;
    for (char *p = path + 1;; p++) {
        if (*p != '/' && *p != 0) continue;
        char c = *p;
        *p = 0;
        if (mkdir(path, 0750) != 0 && errno != EEXIST && !s_is_dir(path)) {
            s_msg(errbuf, errlen, "cannot create directory %s: %s", path, strerror(errno));
            rc = VG_ERR_STORAGE;
            break;
        }
        *p = c;
        if (!c) break;
    }
    vg_free(path);
    struct stat st;
    if (!rc && stat(dir, &st) != 0) {
        s_msg(errbuf, errlen, "%s: %s", dir, strerror(errno));
        rc = VG_ERR_STORAGE;
    } else if (!rc && !S_ISDIR(st.st_mode)) {
        s_msg(errbuf, errlen, "%s is not a directory", dir);
        rc = VG_ERR_STORAGE;
    }
    return rc;
}

/* Opens (creating) every named database and checks the format version. */
static int s_open_dbs(vg_store_t *s, size_t map_size, char *errbuf, size_t errlen)
{
    MDB_txn *txn = NULL;
    int rc = mdb_txn_begin(s->env, NULL, 0, &txn);
    for (int i = 0; !rc && i < S_NDB; i++)
        rc = mdb_dbi_open(txn, s_db_names[i], MDB_CREATE, &s->dbi[i]);
    MDB_val k = s_val("format", 6), v;
    uint8_t fmt[4] = {0, 0, 0, S_FORMAT};
    if (!rc && (rc = mdb_get(txn, s->dbi[S_META], &k, &v)) == MDB_NOTFOUND) {
        v = s_val(fmt, sizeof fmt);
        rc = mdb_put(txn, s->dbi[S_META], &k, &v, 0);
    } else if (!rc && (v.mv_size != 4 || memcmp(v.mv_data, fmt, 4) != 0)) {
        mdb_txn_abort(txn);
        s_msg(errbuf, errlen, "%s has an unsupported format (this build reads version %d)", s->dir,
              S_FORMAT);
        return VG_ERR_UNSUPPORTED;
    }
    if (rc && txn)
        mdb_txn_abort(txn);
    else if (!rc)
        rc = mdb_txn_commit(txn);
    if (rc == MDB_MAP_FULL)
        s_msg(errbuf, errlen, "map size %zu bytes is too small for %s", map_size, s->dir);
    else if (rc)
        s_msg(errbuf, errlen, "cannot open the databases in %s: %s", s->dir, mdb_strerror(rc));
    return rc ? VG_ERR_STORAGE : 0;
}

static int s_outbox_init(vg_store_t *s);

int vg_store_open(const vg_store_config_t *cfg, vg_store_t **out, char *errbuf, size_t errlen)
{
    VG_ASSERT(cfg && out);
    char msg[512] = "";
    *out = NULL;
    s_msg(errbuf, errlen, "%s", "");
    if (!cfg->dir || !cfg->dir[0]) {
        s_msg(errbuf, errlen, "store: no data directory given");
        return VG_ERR_INVALID;
    }
    int rc = s_mkdirs(cfg->dir, msg, sizeof msg);
    if (rc) {
        vg_error(S_MOD, "%s", msg);
        s_msg(errbuf, errlen, "store: %s", msg);
        return rc;
    }
    size_t map_size = cfg->map_size ? cfg->map_size : S_MAP_DEFAULT;
    vg_store_t *s = VG_NEW(vg_store_t);
    s->dir = vg_strdup(cfg->dir);
    vg_mpw_init(&s->scratch);
    int mrc = mdb_env_create(&s->env);
    if (!mrc) mrc = mdb_env_set_maxdbs(s->env, S_NDB);
    if (!mrc) mrc = mdb_env_set_maxreaders(s->env, S_MAX_READERS);
    if (!mrc) mrc = mdb_env_set_mapsize(s->env, map_size);
    if (!mrc) mrc = mdb_env_open(s->env, s->dir, MDB_NOTLS | (cfg->no_sync ? MDB_NOSYNC : 0), 0640);
    if (mrc) {
        s_msg(msg, sizeof msg, "cannot open LMDB environment in %s: %s", s->dir, mdb_strerror(mrc));
        rc = VG_ERR_STORAGE;
    } else {
        int dead = 0;
        mdb_reader_check(s->env, &dead);
        if (dead) vg_info(S_MOD, "%s: cleared %d stale reader slots", s->dir, dead);
        rc = s_open_dbs(s, map_size, msg, sizeof msg);
    }
    s->outbox = cfg->outbox;
    s->sinks = cfg->outbox_sinks ? cfg->outbox_sinks : cfg->outbox ? 1 : 0;
    if (s->sinks > VG_STORE_SINKS_MAX) {
        snprintf(msg, sizeof msg, "at most %d outbox sinks", VG_STORE_SINKS_MAX);
        rc = rc ? rc : VG_ERR_INVALID;
    }
    for (uint32_t i = 0; !rc && i < s->sinks; i++) {
        const char *name = cfg->outbox_sink_names[i];
        if (name && name[0])
            snprintf(s->sink_names[i], sizeof s->sink_names[i], "%s", name);
        else
            snprintf(s->sink_names[i], sizeof s->sink_names[i], "sink%u", i);
    }
    if (!rc && (rc = s_outbox_init(s))) snprintf(msg, sizeof msg, "cannot read the outbox");
    if (rc) {
        vg_error(S_MOD, "%s", msg);
        s_msg(errbuf, errlen, "store: %s", msg);
        vg_store_close(&s);
        return rc;
    }
    *out = s;
    return 0;
}

void vg_store_close(vg_store_t **sp)
{
    vg_store_t *s = sp ? *sp : NULL;
    if (!s) return;
    if (s->env) mdb_env_close(s->env);
    vg_mpw_fini(&s->scratch);
    vg_free(s->dir);
    vg_free(s);
    *sp = NULL;
}

/* ---- write side -------------------------------------------------------- */

int vg_store_batch_begin(vg_store_t *s, vg_store_batch_t **out)
{
    VG_ASSERT(s && out);
    MDB_txn *txn;
    *out = NULL;
    int rc = mdb_txn_begin(s->env, NULL, 0, &txn);
    if (rc) return s_err(rc, "begin write transaction");
    vg_store_batch_t *b = VG_NEW(vg_store_batch_t);
    b->s = s;
    b->txn = txn;
    *out = b;
    return 0;
}

static int s_put(vg_store_batch_t *b, int db, MDB_val *k, MDB_val *v, unsigned flags)
{
    if (b->err) return b->err;
    int rc = mdb_put(b->txn, b->s->dbi[db], k, v, flags);
    if (rc == MDB_KEYEXIST) return VG_ERR_EXISTS; /* txn unharmed */
    if (rc) {
        char what[64];
        snprintf(what, sizeof what, "put into %s", s_db_names[db]);
        b->err = s_err(rc, what);
    }
    return b->err;
}

static int s_put_shard(vg_store_batch_t *b, int db, uint32_t shard, vg_str_t id, const void *val,
                       size_t len)
{
    VG_ASSERT(b && (val || !len));
    uint8_t buf[2 + S_KEY_MAX];
    MDB_val k, v = s_val(val, len);
    int rc = s_shard_key(shard, id, buf, &k);
    return rc ? rc : s_put(b, db, &k, &v, 0);
}

int vg_store_put_user(vg_store_batch_t *b, uint32_t shard, vg_str_t user_id, const void *state,
                      size_t len)
{
    return s_put_shard(b, S_USERS, shard, user_id, state, len);
}

int vg_store_put_seen(vg_store_batch_t *b, uint32_t shard, int64_t ts_ms, vg_str_t tx_id,
                      const void *verdict, size_t len)
{
    VG_ASSERT(b && (verdict || !len));
    uint8_t buf[10 + S_KEY_MAX];
    MDB_val k, v = s_val(verdict, len);
    int rc = s_seen_key(shard, ts_ms, tx_id, buf, &k);
    return rc ? rc : s_put(b, S_SEEN, &k, &v, 0);
}

/* Adds one record to its minute's counters (read-modify-write in b). */
static int s_stats_add(vg_store_batch_t *b, const vg_anomaly_rec_t *rec)
{
    uint8_t key[8], raw[S_COUNTERS * 8];
    uint64_t c[S_COUNTERS] = {0};
    s_put64(key, s_ord64(s_floor_div(rec->ts_ms, S_MINUTE_MS)));
    MDB_val k = s_val(key, 8), v;
    int rc = mdb_get(b->txn, b->s->dbi[S_ANOM_STATS], &k, &v);
    if (rc && rc != MDB_NOTFOUND) return b->err = s_err(rc, "get from anom_stats");
    if (!rc && v.mv_size == sizeof raw)
        for (int i = 0; i < S_COUNTERS; i++) c[i] = s_get64((const uint8_t *) v.mv_data + 8 * i);
    else if (!rc)
        vg_warn(S_MOD, "anom_stats: counters of %zu bytes, expected %zu: restarted", v.mv_size,
                sizeof raw);
    c[0]++;
    c[1 + rec->severity]++;
    c[5 + rec->decision]++;
    for (int i = 0; i < S_COUNTERS; i++) s_put64(raw + 8 * i, c[i]);
    v = s_val(raw, sizeof raw);
    return s_put(b, S_ANOM_STATS, &k, &v, 0);
}

/* Appends the encoded record in w to the outbox. */
static int s_outbox_append(vg_store_batch_t *b, const vg_mpw_t *w)
{
    uint8_t seq[8];
    s_put64(seq, atomic_fetch_add(&b->s->next_seq, 1));
    MDB_val k = s_val(seq, 8), v = s_val(w->buf, w->len);
    return s_put(b, S_OUTBOX, &k, &v, MDB_APPEND);
}

int vg_store_put_anomaly(vg_store_batch_t *b, const vg_anomaly_t *a)
{
    VG_ASSERT(b && a && a->tx && a->verdict);
    if (b->err) return b->err;
    const vg_tx_t *tx = a->tx;
    if (!s_id_ok(tx->id) || !s_id_ok(tx->user_id)) {
        vg_warn(S_MOD, "anomaly not stored: id and user_id must be 1..%d bytes", VG_TX_ID_MAX);
        return VG_ERR_INVALID;
    }
    /* Encode and read back first: never store a record that cannot be read. */
    vg_mpw_t *w = &b->s->scratch;
    vg_anomaly_rec_t rec;
    vg_perr_t perr;
    vg_perr_clear(&perr);
    vg_mpw_reset(w);
    vg_anomaly_encode(a, w);
    if (w->err) return w->err;
    if (vg_anomaly_decode(w->buf, w->len, &rec, &perr)) {
        char msg[300];
        vg_warn(S_MOD, "anomaly %.*s not stored: %s", (int) tx->id.len, tx->id.ptr,
                vg_perr_str(&perr, msg, sizeof msg));
        return VG_ERR_INVALID;
    }
    if (b->s->outbox) /* delivered (and deduplicated) by the external store */
        return s_outbox_append(b, w);
    uint8_t pk[S_PK_MAX], ukey[S_UKEY_MAX];
    size_t pk_len = s_pk(tx->ts_ms, tx->id, pk);
    MDB_val k = s_val(tx->id.ptr, tx->id.len), v = s_val(pk, pk_len);
    int rc = s_put(b, S_ANOM_ID, &k, &v, MDB_NOOVERWRITE);
    if (rc == VG_ERR_EXISTS) return 0;                  /* idempotent: the first record stays */
    if (!rc && b->s->sinks) rc = s_outbox_append(b, w); /* new here: the sinks get it too */
    if (rc) return rc;
    k = s_val(pk, pk_len);
    v = s_val(w->buf, w->len);
    if ((rc = s_put(b, S_ANOM, &k, &v, 0))) return rc;
    size_t plen = s_user_prefix(tx->user_id, ukey);
    memcpy(ukey + plen, pk, pk_len);
    k = s_val(ukey, plen + pk_len);
    v = s_val("", 0);
    if ((rc = s_put(b, S_ANOM_USER, &k, &v, 0))) return rc;
    return s_stats_add(b, &rec);
}

int vg_store_batch_commit(vg_store_batch_t **bp)
{
    VG_ASSERT(bp && *bp);
    vg_store_batch_t *b = *bp;
    vg_store_t *s = b->s;
    MDB_txn *txn = b->txn;
    int err = b->err;
    vg_free(b);
    *bp = NULL;
    if (err) {
        mdb_txn_abort(txn);
        return err;
    }
    uint64_t t0 = vg_now_ns();
    int rc = mdb_txn_commit(txn); /* frees txn either way; fsync unless MDB_NOSYNC */
    if (rc) return s_err(rc, "commit");
    uint64_t dt = vg_now_ns() - t0;
    atomic_fetch_add_explicit(&s->commits, 1, memory_order_relaxed);
    atomic_fetch_add_explicit(&s->commit_ns_total, dt, memory_order_relaxed);
    atomic_store_explicit(&s->commit_ns_last, dt, memory_order_relaxed);
    return 0;
}

void vg_store_batch_abort(vg_store_batch_t **bp)
{
    if (!bp || !*bp) return;
    mdb_txn_abort((*bp)->txn);
    vg_free(*bp);
    *bp = NULL;
}

/* ---- readers ----------------------------------------------------------- */

vg_store_reader_t *vg_store_reader_new(vg_store_t *s)
{
    VG_ASSERT(s);
    vg_store_reader_t *r = VG_NEW(vg_store_reader_t);
    r->s = s;
    return r;
}

void vg_store_reader_destroy(vg_store_reader_t **rp)
{
    if (!rp || !*rp) return;
    if ((*rp)->txn) mdb_txn_abort((*rp)->txn);
    vg_free(*rp);
    *rp = NULL;
}

int vg_store_reader_begin(vg_store_reader_t *r)
{
    VG_ASSERT(r && !r->active);
    int rc;
    if (r->txn) {
        rc = mdb_txn_renew(r->txn);
    } else {
        MDB_txn *txn;
        rc = mdb_txn_begin(r->s->env, NULL, MDB_RDONLY, &txn);
        if (!rc) r->txn = txn;
    }
    if (rc) return s_err(rc, "begin read transaction");
    r->active = true;
    return 0;
}

void vg_store_reader_end(vg_store_reader_t *r)
{
    VG_ASSERT(r);
    if (!r->active) return;
    mdb_txn_reset(r->txn);
    r->active = false;
}

static int s_get_shard(vg_store_reader_t *r, int db, uint32_t shard, vg_str_t id, const void **val,
                       size_t *len)
{
    VG_ASSERT(r && r->active && val && len);
    uint8_t buf[2 + S_KEY_MAX];
    MDB_val k, v;
    int rc = s_shard_key(shard, id, buf, &k);
    if (rc) return rc;
    if ((rc = mdb_get(r->txn, r->s->dbi[db], &k, &v))) return s_err(rc, s_db_names[db]);
    *val = v.mv_data;
    *len = v.mv_size;
    return 0;
}

int vg_store_get_user(vg_store_reader_t *r, uint32_t shard, vg_str_t user_id, const void **val,
                      size_t *len)
{
    return s_get_shard(r, S_USERS, shard, user_id, val, len);
}

int vg_store_get_seen(vg_store_reader_t *r, uint32_t shard, int64_t ts_ms, vg_str_t tx_id,
                      const void **val, size_t *len)
{
    VG_ASSERT(r && r->active && val && len);
    uint8_t buf[10 + S_KEY_MAX];
    MDB_val k, v;
    int rc = s_seen_key(shard, ts_ms, tx_id, buf, &k);
    if (rc) return rc;
    if ((rc = mdb_get(r->txn, r->s->dbi[S_SEEN], &k, &v))) return s_err(rc, s_db_names[S_SEEN]);
    *val = v.mv_data;
    *len = v.mv_size;
    return 0;
}

/* A private snapshot for one query call. */
static int s_ro_begin(vg_store_t *s, MDB_txn **txn)
{
    int rc = mdb_txn_begin(s->env, NULL, MDB_RDONLY, txn);
    return rc ? s_err(rc, "begin read transaction") : 0;
}

/* ---- cursor: vg_anomaly_cursor_* ---------------------------------------- */

/* Decodes a cursor into pk; VG_ERR_INVALID when malformed or altered. */
static int s_cursor_decode(vg_str_t c, uint8_t *pk, size_t *pk_len)
{
    int rc = vg_anomaly_cursor_decode(c, pk, pk_len);
    return rc ? rc : s_pk_ok(pk, *pk_len) ? 0 : VG_ERR_INVALID;
}

/* ---- anomaly queries ---------------------------------------------------- */

/* One walk, newest first, over anomalies (primary) or the user's range
 * of anom_by_user (index: key = prefix | pk). */
typedef struct {
    const vg_anomaly_query_t *q;
    MDB_txn *txn;
    MDB_cursor *cur;
    MDB_dbi anom;
    uint8_t prefix[S_UPREFIX_MAX];
    size_t prefix_len; /* 0 = primary walk */
    MDB_val key, val;  /* current entry */
    const uint8_t *pk; /* its primary key */
    size_t pk_len;
} s_walk_t;

/* Exclusive upper bound of the walk (into buf), from cursor and to_ms;
 * returns its length, 0 = none (primary walk from the end). */
static size_t s_walk_bound(s_walk_t *wk, const uint8_t *cpk, size_t cpk_len, uint8_t *buf)
{
    uint8_t cand[S_PK_MAX];
    size_t n = 0;
    if (cpk) memcpy(cand, cpk, n = cpk_len);
    if (wk->q->to_ms != INT64_MAX) {
        uint8_t to[8];
        s_put64(to, s_ord64(wk->q->to_ms));
        if (!n || s_keycmp(to, 8, cand, n) < 0) memcpy(cand, to, n = 8);
    }
    memcpy(buf, wk->prefix, wk->prefix_len);
    if (!n && wk->prefix_len) { /* past this user's keys, before other users' */
        buf[wk->prefix_len] = 0xFF;
        return wk->prefix_len + 1;
    }
    if (!n) return 0;
    memcpy(buf + wk->prefix_len, cand, n);
    return wk->prefix_len + n;
}

/* Steps to the next entry (op MDB_PREV) or positions below bound; returns
 * 1 with wk->pk set while inside the walk's range, 0 at its end, or a
 * vg_err. */
static int s_walk_step(s_walk_t *wk, MDB_cursor_op op, const uint8_t *bound, size_t bound_len)
{
    int rc;
    if (op == MDB_SET_RANGE) {
        wk->key = s_val(bound, bound_len);
        rc = bound_len ? mdb_cursor_get(wk->cur, &wk->key, &wk->val, MDB_SET_RANGE) : MDB_NOTFOUND;
        rc = rc == 0 ? mdb_cursor_get(wk->cur, &wk->key, &wk->val, MDB_PREV)
                     : mdb_cursor_get(wk->cur, &wk->key, &wk->val, MDB_LAST);
    } else {
        rc = mdb_cursor_get(wk->cur, &wk->key, &wk->val, op);
    }
    if (rc == MDB_NOTFOUND) return 0;
    if (rc) return s_err(rc, "anomaly query");
    const uint8_t *k = wk->key.mv_data;
    if (wk->key.mv_size < wk->prefix_len || memcmp(k, wk->prefix, wk->prefix_len) != 0) return 0;
    wk->pk = k + wk->prefix_len;
    wk->pk_len = wk->key.mv_size - wk->prefix_len;
    if (wk->pk_len >= 8 && s_unord64(s_get64(wk->pk)) < wk->q->from_ms) return 0;
    return 1;
}

/* The current entry's record, NOT_FOUND if it is damaged (logged). */
static int s_walk_record(s_walk_t *wk, vg_anomaly_rec_t *rec)
{
    MDB_val v = wk->val;
    vg_perr_t perr;
    char msg[300];
    if (!s_pk_ok(wk->pk, wk->pk_len)) {
        vg_warn(S_MOD, "anomaly query: skipped a key of %zu bytes", wk->key.mv_size);
        return VG_ERR_NOT_FOUND;
    }
    if (wk->prefix_len) {
        MDB_val k = s_val(wk->pk, wk->pk_len);
        int rc = mdb_get(wk->txn, wk->anom, &k, &v);
        if (rc == MDB_NOTFOUND) vg_warn(S_MOD, "anom_by_user: dangling entry skipped");
        if (rc) return rc == MDB_NOTFOUND ? VG_ERR_NOT_FOUND : s_err(rc, "anomaly query");
    }
    vg_perr_clear(&perr);
    if (vg_anomaly_decode(v.mv_data, v.mv_size, rec, &perr)) {
        vg_warn(S_MOD, "anomaly query: damaged record skipped: %s",
                vg_perr_str(&perr, msg, sizeof msg));
        return VG_ERR_NOT_FOUND;
    }
    return 0;
}

static int s_query_check(const vg_anomaly_query_t *q, char *next_cursor, size_t cursor_cap)
{
    if (!q || !next_cursor || cursor_cap < VG_STORE_CURSOR_MAX + 1) return VG_ERR_INVALID;
    next_cursor[0] = 0;
    if (q->limit < 1 || q->limit > S_LIMIT_MAX) return VG_ERR_INVALID;
    return 0;
}

/* The walk itself: returns 0, a vg_err or fn's nonzero value; *last_len
 * stays nonzero (last = the last primary key scanned) when it stopped at
 * the limit or the scan cap with entries left. */
static int s_query_walk(s_walk_t *wk, uint32_t max_scan, vg_anomaly_fn *fn, void *arg,
                        const uint8_t *bound, size_t bound_len, uint8_t *last, size_t *last_len)
{
    vg_anomaly_rec_t rec;
    uint32_t scanned = 0, returned = 0;
    int in = s_walk_step(wk, MDB_SET_RANGE, bound, bound_len);
    while (in == 1) {
        int rc = s_walk_record(wk, &rec);
        if (rc && rc != VG_ERR_NOT_FOUND) return rc;
        scanned++;
        if (s_pk_ok(wk->pk, wk->pk_len)) memcpy(last, wk->pk, *last_len = wk->pk_len);
        if (!rc && rec.ts_ms < wk->q->to_ms && vg_anomaly_query_match(wk->q, &rec)) {
            returned++;
            if ((rc = fn(arg, &rec))) {
                *last_len = 0;
                return rc;
            }
        }
        in = s_walk_step(wk, MDB_PREV, NULL, 0);
        if (in == 1 && (scanned >= max_scan || returned >= wk->q->limit)) return 0;
    }
    *last_len = 0;
    return in < 0 ? in : 0;
}

int vg_store_anomaly_query(vg_store_t *s, const vg_anomaly_query_t *q, uint32_t max_scan,
                           vg_anomaly_fn *fn, void *arg, char *next_cursor, size_t cursor_cap)
{
    VG_ASSERT(s && fn);
    uint8_t cpk[S_PK_MAX], bound[S_UKEY_MAX], last[S_PK_MAX];
    size_t cpk_len = 0, last_len = 0;
    int rc = s_query_check(q, next_cursor, cursor_cap);
    if (!rc && q->cursor.ptr) rc = s_cursor_decode(q->cursor, cpk, &cpk_len);
    if (rc) return rc;
    if (q->user_id.ptr && !s_id_ok(q->user_id)) return 0; /* no record can match */
    if (q->from_ms >= q->to_ms) return 0;
    s_walk_t wk = {.q = q, .anom = s->dbi[S_ANOM]};
    if (q->user_id.ptr) wk.prefix_len = s_user_prefix(q->user_id, wk.prefix);
    size_t bound_len = s_walk_bound(&wk, cpk_len ? cpk : NULL, cpk_len, bound);
    if ((rc = s_ro_begin(s, &wk.txn))) return rc;
    rc = mdb_cursor_open(wk.txn, s->dbi[wk.prefix_len ? S_ANOM_USER : S_ANOM], &wk.cur);
    if (rc) {
        mdb_txn_abort(wk.txn);
        return s_err(rc, "anomaly query cursor");
    }
    rc = s_query_walk(&wk, max_scan ? max_scan : S_SCAN_DEFAULT, fn, arg, bound, bound_len, last,
                      &last_len);
    mdb_cursor_close(wk.cur);
    mdb_txn_abort(wk.txn);
    if (!rc && last_len) vg_anomaly_cursor_encode(last, last_len, next_cursor);
    return rc;
}

int vg_store_anomaly_get(vg_store_t *s, vg_str_t id, vg_anomaly_fn *fn, void *arg)
{
    VG_ASSERT(s && fn);
    MDB_txn *txn;
    MDB_val k = s_val(id.ptr, id.len), v;
    vg_anomaly_rec_t rec;
    vg_perr_t perr;
    char msg[300];
    if (!s_id_ok(id)) return VG_ERR_NOT_FOUND;
    int rc = s_ro_begin(s, &txn);
    if (rc) return rc;
    rc = mdb_get(txn, s->dbi[S_ANOM_ID], &k, &v);
    if (!rc) {
        k = v;
        rc = mdb_get(txn, s->dbi[S_ANOM], &k, &v);
    }
    rc = s_err(rc, "anomaly get");
    vg_perr_clear(&perr);
    if (!rc && vg_anomaly_decode(v.mv_data, v.mv_size, &rec, &perr)) {
        vg_error(S_MOD, "anomaly %.*s: damaged record: %s", (int) id.len, id.ptr,
                 vg_perr_str(&perr, msg, sizeof msg));
        rc = VG_ERR_STORAGE;
    }
    if (!rc) rc = fn(arg, &rec);
    mdb_txn_abort(txn);
    return rc;
}

/* ---- trend buckets ------------------------------------------------------ */

/* Sums the minute counters of [start_min, start_min + n * per) into n
 * buckets of per minutes, emitting each (empty ones too) in order. */
static int s_stats_walk(MDB_cursor *cur, int64_t start_min, int64_t per, int64_t n,
                        vg_bucket_fn *fn, void *arg)
{
    uint8_t key[8];
    vg_anomaly_bucket_t b;
    int64_t idx = 0;
    memset(&b, 0, sizeof b);
    b.start_ms = start_min * S_MINUTE_MS;
    s_put64(key, s_ord64(start_min));
    MDB_val k = s_val(key, 8), v;
    int rc = mdb_cursor_get(cur, &k, &v, MDB_SET_RANGE);
    for (; idx < n; rc = mdb_cursor_get(cur, &k, &v, MDB_NEXT)) {
        int64_t at = n, off; /* bucket of this entry; n = past the range */
        if (rc && rc != MDB_NOTFOUND) return s_err(rc, "anomaly stats");
        if (!rc && k.mv_size != 8) continue;
        if (!rc && !__builtin_sub_overflow(s_unord64(s_get64(k.mv_data)), start_min, &off) &&
            off >= 0 && off < n * per)
            at = off / per;
        for (; idx < at; idx++, b.start_ms += per * S_MINUTE_MS) { /* finished buckets */
            int frc = fn(arg, &b);
            if (frc) return frc;
            memset(&b.total, 0, sizeof b - offsetof(vg_anomaly_bucket_t, total));
        }
        if (idx >= n) break;
        if (v.mv_size != S_COUNTERS * 8) continue;
        const uint8_t *p = v.mv_data;
        b.total += s_get64(p);
        for (int i = 0; i < 4; i++) b.by_severity[i] += s_get64(p + 8 * (1 + i));
        for (int i = 0; i < 3; i++) b.by_decision[i] += s_get64(p + 8 * (5 + i));
    }
    return 0;
}

int vg_store_anomaly_stats(vg_store_t *s, int64_t from_ms, int64_t to_ms, int64_t bucket_ms,
                           vg_bucket_fn *fn, void *arg)
{
    VG_ASSERT(s && fn);
    if (bucket_ms <= 0 || bucket_ms % S_MINUTE_MS || from_ms >= to_ms) return VG_ERR_INVALID;
    if (from_ms < -S_TIME_ABS_MAX || to_ms > S_TIME_ABS_MAX || bucket_ms > S_TIME_ABS_MAX)
        return VG_ERR_INVALID; /* keeps the minute arithmetic below far from overflow */
    int64_t per = bucket_ms / S_MINUTE_MS;
    int64_t start_min = s_floor_div(s_floor_div(from_ms, S_MINUTE_MS), per) * per;
    int64_t end_min = s_floor_div(to_ms - 1, S_MINUTE_MS) + 1; /* ceil(to / 1 min) */
    int64_t n = (end_min - start_min + per - 1) / per;         /* buckets covering [from, to) */
    if (n > S_BUCKETS_MAX) return VG_ERR_LIMIT;
    MDB_txn *txn;
    MDB_cursor *cur;
    int rc = s_ro_begin(s, &txn);
    if (rc) return rc;
    if ((rc = mdb_cursor_open(txn, s->dbi[S_ANOM_STATS], &cur))) {
        mdb_txn_abort(txn);
        return s_err(rc, "anomaly stats cursor");
    }
    rc = s_stats_walk(cur, start_min, per, n, fn, arg);
    mdb_cursor_close(cur);
    mdb_txn_abort(txn);
    return rc;
}

/* ---- hand-off ----------------------------------------------------------- */

/* Walks dbi's keys with the shard prefix; returns 0, a vg_err or fn's
 * nonzero value. */
static int s_scan_db(MDB_txn *txn, MDB_dbi dbi, uint32_t shard, char kind, vg_store_kv_fn *fn,
                     void *arg)
{
    MDB_cursor *cur;
    uint8_t prefix[2] = {(uint8_t) (shard >> 8), (uint8_t) shard};
    MDB_val k = s_val(prefix, 2), v;
    int frc = 0, rc = mdb_cursor_open(txn, dbi, &cur);
    if (rc) return s_err(rc, "shard scan cursor");
    for (rc = mdb_cursor_get(cur, &k, &v, MDB_SET_RANGE); !rc && !frc;
         rc = mdb_cursor_get(cur, &k, &v, MDB_NEXT)) {
        if (k.mv_size < 2 || memcmp(k.mv_data, prefix, 2) != 0) break;
        vg_str_t key = {(const char *) k.mv_data + 2, (uint32_t) (k.mv_size - 2)};
        frc = fn(arg, kind, key, v.mv_data, v.mv_size);
    }
    mdb_cursor_close(cur);
    if (frc) return frc;
    return rc == MDB_NOTFOUND ? 0 : s_err(rc, "shard scan");
}

/* seen is time-major: walk it all, keep shard's entries, and hand out
 * their keys as ord64(ts) | id (the shard bytes removed). */
static int s_scan_seen(MDB_txn *txn, MDB_dbi dbi, uint32_t shard, vg_store_kv_fn *fn, void *arg)
{
    MDB_cursor *cur;
    MDB_val k, v;
    uint8_t key[10 + S_KEY_MAX];
    int frc = 0, rc = mdb_cursor_open(txn, dbi, &cur);
    if (rc) return s_err(rc, "shard scan cursor");
    for (rc = mdb_cursor_get(cur, &k, &v, MDB_FIRST); !rc && !frc;
         rc = mdb_cursor_get(cur, &k, &v, MDB_NEXT)) {
        const uint8_t *kb = k.mv_data;
        if (k.mv_size <= 10 || k.mv_size > sizeof key || ((uint32_t) kb[8] << 8 | kb[9]) != shard)
            continue;
        memcpy(key, kb, 8);
        memcpy(key + 8, kb + 10, k.mv_size - 10);
        frc = fn(arg, 's', (vg_str_t){(const char *) key, (uint32_t) (k.mv_size - 2)}, v.mv_data,
                 v.mv_size);
    }
    mdb_cursor_close(cur);
    if (frc) return frc;
    return rc == MDB_NOTFOUND ? 0 : s_err(rc, "shard scan");
}

int vg_store_shard_scan(vg_store_t *s, uint32_t shard, vg_store_kv_fn *fn, void *arg)
{
    VG_ASSERT(s && fn);
    if (shard > UINT16_MAX) return VG_ERR_INVALID;
    MDB_txn *txn;
    int rc = s_ro_begin(s, &txn);
    if (rc) return rc;
    rc = s_scan_db(txn, s->dbi[S_USERS], shard, 'u', fn, arg);
    if (!rc) rc = s_scan_seen(txn, s->dbi[S_SEEN], shard, fn, arg);
    mdb_txn_abort(txn);
    return rc;
}

/* ---- metrics ------------------------------------------------------------ */

void vg_store_stats(vg_store_t *s, vg_store_stats_t *out)
{
    VG_ASSERT(s && out);
    memset(out, 0, sizeof *out);
    out->commits = atomic_load_explicit(&s->commits, memory_order_relaxed);
    out->commit_ns_total = atomic_load_explicit(&s->commit_ns_total, memory_order_relaxed);
    out->commit_ns_last = atomic_load_explicit(&s->commit_ns_last, memory_order_relaxed);
    MDB_envinfo info;
    MDB_stat st;
    MDB_txn *txn;
    if (mdb_env_info(s->env, &info) == 0 && mdb_env_stat(s->env, &st) == 0) {
        out->map_size = info.me_mapsize;
        out->map_used = ((uint64_t) info.me_last_pgno + 1) * st.ms_psize;
    }
    if (s_ro_begin(s, &txn)) return;
    if (mdb_stat(txn, s->dbi[S_USERS], &st) == 0) out->users = st.ms_entries;
    if (mdb_stat(txn, s->dbi[S_SEEN], &st) == 0) out->seen = st.ms_entries;
    if (mdb_stat(txn, s->dbi[S_ANOM], &st) == 0) out->anomalies = st.ms_entries;
    mdb_txn_abort(txn);
}

/* ---- blobs ---------------------------------------------------------------- */

int vg_store_blob_put(vg_store_t *s, const void *key, size_t key_len, const void *val, size_t len)
{
    VG_ASSERT(s && key && key_len && key_len <= S_KEY_MAX);
    MDB_txn *txn;
    int rc = mdb_txn_begin(s->env, NULL, 0, &txn);
    if (rc) return s_err(rc, "blob write");
    MDB_val k = s_val(key, key_len), v = s_val(val, len);
    rc = mdb_put(txn, s->dbi[S_BLOBS], &k, &v, 0);
    if (rc) {
        mdb_txn_abort(txn);
        return s_err(rc, "blob put");
    }
    rc = mdb_txn_commit(txn);
    return rc ? s_err(rc, "blob commit") : 0;
}

int vg_store_blob_get(vg_store_t *s, const void *key, size_t key_len, void **out, size_t *len)
{
    VG_ASSERT(s && key && out && len);
    *out = NULL;
    *len = 0;
    if (!key_len || key_len > S_KEY_MAX) return VG_ERR_NOT_FOUND;
    MDB_txn *txn;
    int rc = s_ro_begin(s, &txn);
    if (rc) return rc;
    MDB_val k = s_val(key, key_len), v;
    rc = mdb_get(txn, s->dbi[S_BLOBS], &k, &v);
    if (!rc) {
        *out = vg_malloc(v.mv_size ? v.mv_size : 1);
        memcpy(*out, v.mv_data, v.mv_size);
        *len = v.mv_size;
    }
    mdb_txn_abort(txn);
    if (rc == MDB_NOTFOUND) return VG_ERR_NOT_FOUND;
    return rc ? s_err(rc, "blob get") : 0;
}

/* ---- outbox ----------------------------------------------------------------- */

/* The meta key of a sink's cursor: "outbox:" | name. */
static size_t s_cursor_key(const vg_store_t *s, uint32_t sink, char *key, size_t cap)
{
    int n = snprintf(key, cap, "outbox:%s", s->sink_names[sink]);
    return (size_t) n < cap ? (size_t) n : cap - 1;
}

/* Reads every configured sink's cursor, and the next outbox key: one past
 * the last entry and past every cursor (1 when all are empty). */
static int s_outbox_init(vg_store_t *s)
{
    MDB_txn *txn;
    MDB_cursor *cur;
    int rc = s_ro_begin(s, &txn);
    if (rc) return rc;
    uint64_t next = 1;
    MDB_val k, v;
    if (!mdb_cursor_open(txn, s->dbi[S_OUTBOX], &cur)) {
        if (!mdb_cursor_get(cur, &k, &v, MDB_LAST) && k.mv_size == 8) next = s_get64(k.mv_data) + 1;
        mdb_cursor_close(cur);
    }
    if (!mdb_cursor_open(txn, s->dbi[S_META], &cur)) { /* every cursor, configured or not */
        k = s_val("outbox:", 7);
        for (int mrc = mdb_cursor_get(cur, &k, &v, MDB_SET_RANGE);
             !mrc && k.mv_size >= 7 && !memcmp(k.mv_data, "outbox:", 7);
             mrc = mdb_cursor_get(cur, &k, &v, MDB_NEXT))
            if (v.mv_size == 8) next = VG_MAX(next, s_get64(v.mv_data) + 1);
        mdb_cursor_close(cur);
    }
    for (uint32_t i = 0; i < s->sinks; i++) {
        char key[80];
        k = s_val(key, s_cursor_key(s, i, key, sizeof key));
        uint64_t acked = 0;
        if (!mdb_get(txn, s->dbi[S_META], &k, &v) && v.mv_size == 8) acked = s_get64(v.mv_data);
        atomic_store(&s->acked[i], acked);
    }
    mdb_txn_abort(txn);
    atomic_store(&s->next_seq, next);
    return 0;
}

uint32_t vg_store_outbox_sinks(vg_store_t *s)
{
    return s->sinks;
}

const char *vg_store_outbox_sink_name(vg_store_t *s, uint32_t sink)
{
    return sink < s->sinks ? s->sink_names[sink] : NULL;
}

int vg_store_outbox_take(vg_store_t *s, uint32_t sink, size_t max, vg_store_outbox_t *out)
{
    VG_ASSERT(s && out && max);
    out->n = 0;
    out->last_seq = 0;
    vg_mpw_reset(&out->buf);
    if (sink >= s->sinks) return VG_ERR_INVALID;
    if (out->cap < max) {
        out->recs = vg_realloc(out->recs, max * sizeof *out->recs);
        out->offs = vg_realloc(out->offs, max * sizeof *out->offs);
        out->cap = max;
    }
    MDB_txn *txn;
    MDB_cursor *cur;
    int rc = s_ro_begin(s, &txn);
    if (rc) return rc;
    if ((rc = mdb_cursor_open(txn, s->dbi[S_OUTBOX], &cur))) {
        mdb_txn_abort(txn);
        return s_err(rc, "outbox cursor");
    }
    uint8_t from[8];
    s_put64(from, atomic_load(&s->acked[sink]) + 1);
    MDB_val k = s_val(from, 8), v;
    for (rc = mdb_cursor_get(cur, &k, &v, MDB_SET_RANGE); !rc && out->n < max;
         rc = mdb_cursor_get(cur, &k, &v, MDB_NEXT)) {
        if (k.mv_size != 8) continue;
        out->offs[out->n] = out->buf.len;
        vg_mpw_raw(&out->buf, v.mv_data, v.mv_size);
        out->recs[out->n].len = (uint32_t) v.mv_size;
        out->last_seq = s_get64(k.mv_data);
        out->n++;
    }
    mdb_cursor_close(cur);
    mdb_txn_abort(txn);
    if (rc && rc != MDB_NOTFOUND) return s_err(rc, "outbox read");
    for (size_t i = 0; i < out->n; i++)
        out->recs[i].ptr = (const char *) out->buf.buf + out->offs[i];
    return out->buf.err;
}

void vg_store_outbox_fini(vg_store_outbox_t *o)
{
    vg_mpw_fini(&o->buf);
    free(o->recs);
    free(o->offs);
    memset(o, 0, sizeof *o);
}

/* Deletes the entries up to upto_seq inside txn. */
static int s_outbox_trim(vg_store_t *s, MDB_txn *txn, uint64_t upto_seq)
{
    MDB_cursor *cur;
    int rc = mdb_cursor_open(txn, s->dbi[S_OUTBOX], &cur);
    if (rc) return rc;
    MDB_val k, v;
    for (rc = mdb_cursor_get(cur, &k, &v, MDB_FIRST); !rc;
         rc = mdb_cursor_get(cur, &k, &v, MDB_FIRST)) {
        if (k.mv_size == 8 && s_get64(k.mv_data) > upto_seq) break;
        if ((rc = mdb_cursor_del(cur, 0))) break;
    }
    mdb_cursor_close(cur);
    return rc == MDB_NOTFOUND ? 0 : rc;
}

int vg_store_outbox_ack(vg_store_t *s, uint32_t sink, uint64_t upto_seq)
{
    VG_ASSERT(s);
    if (sink >= s->sinks) return VG_ERR_INVALID;
    if (upto_seq <= atomic_load(&s->acked[sink])) return 0;
    MDB_txn *txn;
    int rc = mdb_txn_begin(s->env, NULL, 0, &txn);
    if (rc) return s_err(rc, "outbox ack");
    char key[80];
    uint8_t val[8];
    s_put64(val, upto_seq);
    MDB_val k = s_val(key, s_cursor_key(s, sink, key, sizeof key)), v = s_val(val, 8);
    rc = mdb_put(txn, s->dbi[S_META], &k, &v, 0);
    /* the others' cursors as last committed (a concurrent ack only makes
     * this one delete less; the next ack deletes the rest) */
    uint64_t min = upto_seq;
    for (uint32_t i = 0; i < s->sinks; i++)
        if (i != sink) min = VG_MIN(min, (uint64_t) atomic_load(&s->acked[i]));
    if (!rc) rc = s_outbox_trim(s, txn, min);
    if (rc) {
        mdb_txn_abort(txn);
        return s_err(rc, "outbox ack");
    }
    rc = mdb_txn_commit(txn);
    if (rc) return s_err(rc, "outbox ack commit");
    atomic_store(&s->acked[sink], upto_seq);
    return 0;
}

uint64_t vg_store_outbox_count(vg_store_t *s, uint32_t sink)
{
    if (sink >= s->sinks) return 0;
    MDB_txn *txn;
    MDB_stat st;
    if (s_ro_begin(s, &txn)) return 0;
    uint64_t n = mdb_stat(txn, s->dbi[S_OUTBOX], &st) ? 0 : st.ms_entries;
    mdb_txn_abort(txn);
    uint64_t next = atomic_load(&s->next_seq), acked = atomic_load(&s->acked[sink]);
    uint64_t ahead = next > acked + 1 ? next - acked - 1 : 0; /* seqs after the cursor */
    return VG_MIN(n, ahead);
}
