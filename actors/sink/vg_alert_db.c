/* vg_alert_db.c: the alert module's own LMDB env (<data_dir>/alerts, never
 * the node store's env): open with the named DBs of vg_alert_internal.h,
 * transactions, get/put/del and ordered walks. The only file of the alert
 * module that includes lmdb.h; LMDB errors become vg_err here (logged). */
#include "vg_alert_internal.h"

#include "vg_err.h"
#include "vg_log.h"
#include "vg_mem.h"

#include <errno.h>
#include <lmdb.h>
#include <string.h>
#include <sys/stat.h>

#define S_MOD         "alert"
#define S_FORMAT      1
#define S_MAP_DEFAULT ((size_t) 1 << 30)

struct vg__adb {
    MDB_env *env;
    MDB_dbi dbi[VG__DB_N];
};

struct vg__atxn {
    vg__adb_t *db;
    MDB_txn *txn;
};

static const char *const s_names[VG__DB_N] = {"meta", "alerts", "status", "due",
                                              "held", "dedup",  "seen",   "seen_t"};

/* The LMDB -> vg_err border: logs the original, returns the vg_err. */
static int s_err(int rc, const char *what)
{
    int e;
    switch (rc) {
    case 0: return 0;
    case MDB_NOTFOUND: return VG_ERR_NOT_FOUND;
    case MDB_MAP_FULL: e = VG_ERR_FULL; break;
    case MDB_READERS_FULL: e = VG_ERR_LIMIT; break;
    case MDB_BAD_VALSIZE: e = VG_ERR_TOO_LARGE; break;
    default: e = VG_ERR_STORAGE; break;
    }
    vg_error(S_MOD, "%s: %s (lmdb %d)", what, mdb_strerror(rc), rc);
    return e;
}

static int s_mkdirs(const char *dir)
{
    char path[1024];
    size_t n = strlen(dir);
    if (n == 0 || n >= sizeof path) return VG_ERR_INVALID;
    memcpy(path, dir, n + 1);
    for (size_t i = 1; i <= n; i++) {
        if (path[i] != '/' && path[i] != 0) continue;
        char c = path[i];
        path[i] = 0;
        if (mkdir(path, 0750) && errno != EEXIST) return VG_ERR_IO;
        path[i] = c;
    }
    struct stat st;
    return stat(dir, &st) == 0 && S_ISDIR(st.st_mode) ? 0 : VG_ERR_IO;
}

static int s_open_dbs(vg__adb_t *db, char *err, size_t errlen)
{
    MDB_txn *txn = NULL;
    int rc = mdb_txn_begin(db->env, NULL, 0, &txn);
    for (int i = 0; !rc && i < VG__DB_N; i++)
        rc = mdb_dbi_open(txn, s_names[i], MDB_CREATE, &db->dbi[i]);
    if (rc) {
        if (txn) mdb_txn_abort(txn);
        return vg_errf(err, errlen, s_err(rc, "open dbs"), "alerts: cannot open databases: %s",
                       mdb_strerror(rc));
    }
    MDB_val k = {6, "format"}, v;
    rc = mdb_get(txn, db->dbi[VG__DB_META], &k, &v);
    if (rc == 0) {
        const uint8_t *p = v.mv_data;
        uint32_t f = v.mv_size == 4 ? (uint32_t) p[0] << 24 | p[1] << 16 | p[2] << 8 | p[3] : 0;
        rc = mdb_txn_commit(txn); /* keeps the DBI handles (an abort would close them) */
        if (rc)
            return vg_errf(err, errlen, s_err(rc, "open dbs"), "alerts: cannot open databases: %s",
                           mdb_strerror(rc));
        if (f != S_FORMAT)
            return vg_errf(err, errlen, VG_ERR_UNSUPPORTED,
                           "alerts: store format %u is not supported (this build: %d)", f,
                           S_FORMAT);
        return 0;
    }
    uint8_t fmt[4] = {0, 0, 0, S_FORMAT}, inst[8];
    vg__alert_random_bytes(inst, sizeof inst);
    v = (MDB_val){4, fmt};
    rc = mdb_put(txn, db->dbi[VG__DB_META], &k, &v, 0);
    MDB_val ki = {8, "instance"}, vi = {8, inst};
    if (!rc) rc = mdb_put(txn, db->dbi[VG__DB_META], &ki, &vi, 0);
    if (!rc) {
        rc = mdb_txn_commit(txn);
        txn = NULL;
    }
    if (!rc) return 0;
    if (txn) mdb_txn_abort(txn);
    return vg_errf(err, errlen, s_err(rc, "init meta"), "alerts: cannot initialise: %s",
                   mdb_strerror(rc));
}

int vg__adb_open(const char *dir, size_t map_size, bool no_sync, vg__adb_t **out, char *err,
                 size_t errlen)
{
    *out = NULL;
    if (s_mkdirs(dir))
        return vg_errf(err, errlen, VG_ERR_IO, "alerts: cannot create directory %s: %s", dir,
                       strerror(errno));
    vg__adb_t *db = VG_NEW(vg__adb_t);
    int rc = mdb_env_create(&db->env);
    if (!rc) rc = mdb_env_set_maxdbs(db->env, VG__DB_N);
    if (!rc) rc = mdb_env_set_mapsize(db->env, map_size ? map_size : S_MAP_DEFAULT);
    if (!rc) rc = mdb_env_open(db->env, dir, MDB_NOTLS | (no_sync ? MDB_NOSYNC : 0), 0640);
    if (rc) {
        vg_errf(err, errlen, VG_ERR_STORAGE, "alerts: cannot open LMDB environment in %s: %s", dir,
                mdb_strerror(rc));
        vg__adb_close(&db);
        return VG_ERR_STORAGE;
    }
    int dead = 0;
    mdb_reader_check(db->env, &dead);
    if ((rc = s_open_dbs(db, err, errlen))) {
        vg__adb_close(&db);
        return rc;
    }
    *out = db;
    return 0;
}

void vg__adb_close(vg__adb_t **db_p)
{
    vg__adb_t *db = db_p ? *db_p : NULL;
    if (!db) return;
    if (db->env) mdb_env_close(db->env);
    free(db);
    *db_p = NULL;
}

int vg__adb_begin(vg__adb_t *db, bool write, vg__atxn_t **out)
{
    MDB_txn *txn;
    int rc = mdb_txn_begin(db->env, NULL, write ? 0 : MDB_RDONLY, &txn);
    if (rc) return s_err(rc, "begin");
    vg__atxn_t *t = VG_NEW(vg__atxn_t);
    t->db = db;
    t->txn = txn;
    *out = t;
    return 0;
}

int vg__adb_commit(vg__atxn_t **t_p)
{
    vg__atxn_t *t = *t_p;
    int rc = mdb_txn_commit(t->txn);
    free(t);
    *t_p = NULL;
    return s_err(rc, "commit");
}

void vg__adb_abort(vg__atxn_t **t_p)
{
    vg__atxn_t *t = t_p ? *t_p : NULL;
    if (!t) return;
    mdb_txn_abort(t->txn);
    free(t);
    *t_p = NULL;
}

int vg__adb_get(vg__atxn_t *t, int db, const void *k, size_t klen, vg_str_t *v)
{
    MDB_val mk = {klen, (void *) k}, mv;
    int rc = mdb_get(t->txn, t->db->dbi[db], &mk, &mv);
    if (rc == MDB_NOTFOUND) return VG_ERR_NOT_FOUND;
    if (rc) return s_err(rc, s_names[db]);
    *v = (vg_str_t){mv.mv_data, (uint32_t) mv.mv_size};
    return 0;
}

int vg__adb_put(vg__atxn_t *t, int db, const void *k, size_t klen, const void *v, size_t vlen)
{
    MDB_val mk = {klen, (void *) k}, mv = {vlen, (void *) v};
    return s_err(mdb_put(t->txn, t->db->dbi[db], &mk, &mv, 0), s_names[db]);
}

int vg__adb_del(vg__atxn_t *t, int db, const void *k, size_t klen)
{
    MDB_val mk = {klen, (void *) k};
    int rc = mdb_del(t->txn, t->db->dbi[db], &mk, NULL);
    return rc == MDB_NOTFOUND ? 0 : s_err(rc, s_names[db]);
}

int vg__adb_walk(vg__atxn_t *t, int db, const void *from, size_t flen, bool reverse,
                 vg__adb_walk_fn *fn, void *arg)
{
    MDB_cursor *cur;
    int rc = mdb_cursor_open(t->txn, t->db->dbi[db], &cur);
    if (rc) return s_err(rc, "cursor");
    MDB_val k = {flen, (void *) from}, v;
    if (!from) {
        rc = mdb_cursor_get(cur, &k, &v, reverse ? MDB_LAST : MDB_FIRST);
    } else {
        rc = mdb_cursor_get(cur, &k, &v, MDB_SET_RANGE);
        if (reverse) {
            if (rc == MDB_NOTFOUND)
                rc = mdb_cursor_get(cur, &k, &v, MDB_LAST);
            else if (!rc && (k.mv_size != flen || memcmp(k.mv_data, from, flen)))
                rc = mdb_cursor_get(cur, &k, &v, MDB_PREV); /* first key > from: step back */
        }
    }
    int out = 0;
    while (!rc) {
        out = fn(arg, (vg_str_t){k.mv_data, (uint32_t) k.mv_size},
                 (vg_str_t){v.mv_data, (uint32_t) v.mv_size});
        if (out) break;
        rc = mdb_cursor_get(cur, &k, &v, reverse ? MDB_PREV : MDB_NEXT);
    }
    mdb_cursor_close(cur);
    if (out) return out;
    return rc == MDB_NOTFOUND ? 0 : s_err(rc, "walk");
}
