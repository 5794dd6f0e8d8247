/* lg_resp.c: verdict and error bodies, read with proto's strict JSON pull
 * reader (vg_json.h); unknown members (reasons, score, ...) are skipped. */
#include "lg_resp.h"

#include "vg_err.h"
#include "vg_json.h"
#include "vg_verdict.h"

#include <stdio.h>
#include <string.h>

static void s_copy(char *dst, size_t size, vg_str_t s)
{
    size_t n = s.len < size - 1 ? s.len : size - 1;
    memcpy(dst, s.ptr, n);
    dst[n] = 0;
}

/* {"code": "...", ...}: keeps the code. */
static int s_error_obj(vg_jr_t *r, lg_result_t *res)
{
    bool first = true;
    vg_str_t key, v;
    int rc = vg_jr_obj_begin(r);
    while (rc == 0 && (rc = vg_jr_obj_next(r, &first, &key)) == 1) {
        if (vg_str_eq_c(key, "code") && vg_jr_peek(r) == '"') {
            rc = vg_jr_string(r, &v);
            if (rc == 0) s_copy(res->error, sizeof res->error, v);
        } else {
            rc = vg_jr_skip(r);
        }
    }
    if (rc == 0 && !res->error[0]) snprintf(res->error, sizeof res->error, "ERROR");
    return rc;
}

static int s_result(vg_jr_t *r, const lg_tx_t *tx, lg_result_t *res)
{
    memset(res, 0, sizeof *res);
    bool first = true, has_decision = false, has_anomaly = false;
    vg_str_t key, v;
    int rc = vg_jr_obj_begin(r);
    while (rc == 0 && (rc = vg_jr_obj_next(r, &first, &key)) == 1) {
        if (vg_str_eq_c(key, "id") && vg_jr_peek(r) == '"') {
            rc = vg_jr_string(r, &v);
            if (rc == 0 && !vg_str_eq_c(v, tx->id)) res->id_mismatch = true;
        } else if (vg_str_eq_c(key, "decision") && vg_jr_peek(r) == '"') {
            vg_decision d;
            rc = vg_jr_string(r, &v);
            if (rc == 0 && vg_decision_parse(v, &d) == 0)
                has_decision = true, res->flagged = d != VG_DECISION_ALLOW;
        } else if (vg_str_eq_c(key, "anomaly") && (vg_jr_peek(r) == 't' || vg_jr_peek(r) == 'f')) {
            rc = vg_jr_bool(r, &res->anomaly);
            has_anomaly = rc == 0;
        } else if (vg_str_eq_c(key, "duplicate") &&
                   (vg_jr_peek(r) == 't' || vg_jr_peek(r) == 'f')) {
            rc = vg_jr_bool(r, &res->duplicate);
        } else if (vg_str_eq_c(key, "late") && (vg_jr_peek(r) == 't' || vg_jr_peek(r) == 'f')) {
            rc = vg_jr_bool(r, &res->late);
        } else if (vg_str_eq_c(key, "error") && vg_jr_peek(r) == '{') {
            rc = s_error_obj(r, res);
        } else {
            rc = vg_jr_skip(r);
        }
    }
    if (rc < 0) return rc;
    res->scored = !res->error[0] && has_decision && has_anomaly;
    if (!res->scored && !res->error[0]) snprintf(res->error, sizeof res->error, "NO_VERDICT");
    return 0;
}

static int s_fail(vg_jr_t *r, int rc, char *err, size_t errlen, const char *what)
{
    if (r->err)
        snprintf(err, errlen, "%s at byte %zu", r->reason ? r->reason : "bad JSON", r->err_off);
    else
        snprintf(err, errlen, "%s", what);
    (void) rc;
    return r->err ? r->err : VG_ERR_PROTO;
}

int lg_resp_parse(const char *body, size_t len, bool single, const lg_tx_t *txs, uint32_t n,
                  lg_result_t *out, vg_arena_t *arena, char *err, size_t errlen)
{
    vg_jr_t r;
    vg_jr_init(&r, body, len, arena);
    int rc;
    if (single) {
        if (n != 1) return s_fail(&r, VG_ERR_INVALID, err, errlen, "single needs n == 1");
        if (vg_jr_peek(&r) != '{') return s_fail(&r, VG_ERR_PROTO, err, errlen, "not an object");
        rc = s_result(&r, &txs[0], &out[0]);
        if (rc) return s_fail(&r, rc, err, errlen, "bad result");
    } else {
        bool first = true, seen = false;
        vg_str_t key;
        rc = vg_jr_obj_begin(&r);
        while (rc == 0 && (rc = vg_jr_obj_next(&r, &first, &key)) == 1) {
            if (!vg_str_eq_c(key, "results")) {
                rc = vg_jr_skip(&r);
                continue;
            }
            seen = true;
            bool afirst = true;
            uint32_t i = 0;
            rc = vg_jr_arr_begin(&r);
            while (rc == 0 && (rc = vg_jr_arr_next(&r, &afirst)) == 1) {
                if (i >= n) return s_fail(&r, VG_ERR_PROTO, err, errlen, "more results than sent");
                rc = s_result(&r, &txs[i], &out[i]);
                i++;
            }
            if (rc == 0 && i != n)
                return s_fail(&r, VG_ERR_PROTO, err, errlen, "fewer results than sent");
        }
        if (rc < 0) return s_fail(&r, rc, err, errlen, "bad results");
        if (!seen) return s_fail(&r, VG_ERR_PROTO, err, errlen, "no \"results\" member");
    }
    if (!vg_jr_at_end(&r)) return s_fail(&r, VG_ERR_PROTO, err, errlen, "trailing data");
    return 0;
}

void lg_resp_error_text(const char *body, size_t len, char *buf, size_t size)
{
    vg_arena_t arena = VG_ARENA_INIT;
    vg_jr_t r;
    vg_jr_init(&r, body, len, &arena);
    char code[48] = "", msg[200] = "", field[64] = "";
    bool first = true, efirst = true;
    vg_str_t key, v;
    int rc = vg_jr_obj_begin(&r);
    while (rc == 0 && (rc = vg_jr_obj_next(&r, &first, &key)) == 1) {
        if (!vg_str_eq_c(key, "error") || vg_jr_peek(&r) != '{') {
            rc = vg_jr_skip(&r);
            continue;
        }
        rc = vg_jr_obj_begin(&r);
        while (rc == 0 && (rc = vg_jr_obj_next(&r, &efirst, &key)) == 1) {
            char *dst = vg_str_eq_c(key, "code")      ? code
                        : vg_str_eq_c(key, "message") ? msg
                        : vg_str_eq_c(key, "field")   ? field
                                                      : NULL;
            size_t dn = dst == code ? sizeof code : dst == msg ? sizeof msg : sizeof field;
            if (dst && vg_jr_peek(&r) == '"') {
                rc = vg_jr_string(&r, &v);
                if (rc == 0) s_copy(dst, dn, v);
            } else {
                rc = vg_jr_skip(&r);
            }
        }
    }
    if (code[0] || msg[0])
        snprintf(buf, size, "%s%s%s%s%s", code, code[0] && msg[0] ? ": " : "", msg,
                 field[0] ? " (field " : "", field[0] ? field : "");
    else
        snprintf(buf, size, "%.*s", (int) (len < 120 ? len : 120), body);
    if (field[0] && strlen(buf) + 2 <= size) strcat(buf, ")");
    for (char *p = buf; *p; p++)
        if (*p == '\n' || *p == '\r') *p = ' ';
    vg_arena_fini(&arena);
}
