/* vg_rules_vm.c: the rule VM: runs one rule's bytecode over a transaction
 * and its features with SQL three-valued logic. Its stack and the scratch
 * space of lower()/upper() live in the C frame: no allocation, no locks,
 * nothing written but the ruleset's relaxed counters. */
#include "vg_rules_internal.h"

#include "vg_mem.h"

#include <math.h>
#include <string.h>

typedef vg__rule_val_t s_val_t;

static const char s_err_type[] = "type mismatch: an attribute's value is a number where a string "
                                 "is needed, or the other way round";
static const char s_err_div[] = "division by zero";
static const char s_err_scratch[] = "string functions ran out of scratch space";

static inline void s_null(s_val_t *v)
{
    v->tag = VG__V_NULL;
}

static inline void s_bool(s_val_t *v, bool b)
{
    v->tag = VG__V_BOOL;
    v->b = b;
}

/* Numbers that are NaN (no value, 0/0 of features) are null. */
static inline void s_num(s_val_t *v, double n)
{
    if (VG_UNLIKELY(n != n)) {
        v->tag = VG__V_NULL;
        return;
    }
    v->tag = VG__V_NUM;
    v->n = n;
}

static inline void s_str(s_val_t *v, const char *p, uint32_t len)
{
    if (!p) {
        v->tag = VG__V_NULL;
        return;
    }
    v->tag = VG__V_STR;
    v->s = p;
    v->len = len;
}

static inline void s_slice(s_val_t *v, vg_str_t s)
{
    s_str(v, s.ptr, s.len);
}

/* A fixed-size code field ("" = absent). */
static inline void s_code(s_val_t *v, const char *code, size_t cap)
{
    size_t n = strnlen(code, cap);
    s_str(v, n ? code : NULL, (uint32_t) n);
}

static int s_hour(int64_t ms)
{
    int64_t h = ms / 3600000;
    if (ms % 3600000 < 0) h--;
    h %= 24;
    return (int) (h < 0 ? h + 24 : h);
}

static void s_field(s_val_t *v, const vg_tx_t *tx, uint32_t field)
{
    switch (field) {
    case VG__RF_id: s_slice(v, tx->id); break;
    case VG__RF_user_id: s_slice(v, tx->user_id); break;
    case VG__RF_amount: s_num(v, tx->amount); break;
    case VG__RF_currency: s_code(v, tx->currency, sizeof tx->currency - 1); break;
    case VG__RF_country: s_code(v, tx->country, sizeof tx->country - 1); break;
    case VG__RF_merchant_id: s_slice(v, tx->merchant_id); break;
    case VG__RF_merchant_category: s_slice(v, tx->merchant_category); break;
    case VG__RF_channel: s_slice(v, tx->channel); break;
    case VG__RF_device_id: s_slice(v, tx->device_id); break;
    case VG__RF_ip: s_slice(v, tx->ip); break;
    case VG__RF_lat: s_num(v, tx->lat); break;
    case VG__RF_lon: s_num(v, tx->lon); break;
    case VG__RF_timestamp: s_num(v, (double) tx->ts_ms); break;
    case VG__RF_hour: s_num(v, s_hour(tx->ts_ms)); break;
    default: s_null(v); break;
    }
}

static void s_attr(s_val_t *v, const vg_tx_t *tx, const s_val_t *key)
{
    uint32_t n = VG_MIN(tx->n_attrs, (uint32_t) VG_TX_ATTR_MAX);
    for (uint32_t i = 0; i < n; i++) {
        const vg_tx_attr_t *a = &tx->attrs[i];
        if (a->key.len != key->len || memcmp(a->key.ptr, key->s, key->len) != 0) continue;
        if (a->kind == VG_ATTR_NUM)
            s_num(v, a->num);
        else if (a->kind == VG_ATTR_STR)
            s_str(v, a->str.ptr ? a->str.ptr : "", a->str.len);
        else
            s_null(v);
        return;
    }
    s_null(v);
}

/* Both numbers: 0; a null among them: 1; otherwise a type error: -1. */
static inline int s_nums(const s_val_t *a, const s_val_t *b)
{
    if (VG_LIKELY(a->tag == VG__V_NUM && b->tag == VG__V_NUM)) return 0;
    if (a->tag == VG__V_NULL || b->tag == VG__V_NULL) return 1;
    return -1;
}

/* Three-way comparison into *out: 0, 1 when a side is null, -1 on mixed
 * types (only possible with attributes). */
static inline int s_cmp(const s_val_t *a, const s_val_t *b, int *out)
{
    if (a->tag == VG__V_NULL || b->tag == VG__V_NULL) return 1;
    if (VG_UNLIKELY(a->tag != b->tag)) return -1;
    switch (a->tag) {
    case VG__V_NUM: *out = (a->n > b->n) - (a->n < b->n); break;
    case VG__V_STR: {
        int c = memcmp(a->s, b->s, VG_MIN(a->len, b->len));
        *out = c ? c : (a->len > b->len) - (a->len < b->len);
        break;
    }
    default: *out = (int) a->b - (int) b->b; break;
    }
    return 0;
}

/* Equality into *eq; same returns as s_cmp. */
static inline int s_eq(const s_val_t *a, const s_val_t *b, bool *eq)
{
    if (a->tag == VG__V_NULL || b->tag == VG__V_NULL) return 1;
    if (VG_UNLIKELY(a->tag != b->tag)) return -1;
    if (a->tag == VG__V_NUM)
        *eq = a->n == b->n;
    else if (a->tag == VG__V_STR)
        *eq = a->len == b->len && memcmp(a->s, b->s, a->len) == 0;
    else
        *eq = a->b == b->b;
    return 0;
}

/* Kleene values: 0 false, 1 true, 2 null. */
static inline int s_k(const s_val_t *v)
{
    return v->tag == VG__V_BOOL ? v->b : 2;
}

static inline void s_setk(s_val_t *v, int k, bool negate)
{
    if (k == 2)
        s_null(v);
    else
        s_bool(v, negate ? !k : k);
}

static int s_cset_has(const vg__rule_cset_t *set, const s_val_t *x)
{
    if (set->tag == VG__V_NUM) {
        if (set->n <= VG__SET_LINEAR) {
            for (uint32_t i = 0; i < set->n; i++)
                if (set->nums[i] == x->n) return 1;
            return 0;
        }
        uint32_t lo = 0, hi = set->n;
        while (lo < hi) {
            uint32_t mid = lo + (hi - lo) / 2;
            if (set->nums[mid] < x->n)
                lo = mid + 1;
            else
                hi = mid;
        }
        return lo < set->n && set->nums[lo] == x->n;
    }
    if (set->hash) return vg__strset_has(set->hash, x->s, x->len);
    for (uint32_t i = 0; i < set->n; i++)
        if (set->strs[i].len == x->len && memcmp(set->strs[i].ptr, x->s, x->len) == 0) return 1;
    return 0;
}

static bool s_has(const char *s, uint32_t n, const char *p, uint32_t m, int fn)
{
    if (m > n) return false;
    if (fn == VG__FN_starts_with) return memcmp(s, p, m) == 0;
    if (fn == VG__FN_ends_with) return memcmp(s + n - m, p, m) == 0;
    return m == 0 || memmem(s, n, p, m) != NULL;
}

typedef struct {
    char *buf;
    size_t used;
} s_scratch_t;

/* Runs function fn over the top of the stack; returns the new stack
 * pointer, setting *why on a runtime error. */
static s_val_t *s_call(int fn, s_val_t *sp, s_scratch_t *scr, const char **why)
{
    s_val_t *a = sp - 1, *b = sp - 1;
    switch (fn) {
    case VG__FN_lower:
    case VG__FN_upper: {
        if (a->tag == VG__V_NULL) return sp;
        if (a->tag != VG__V_STR) break;
        if (scr->used + a->len > VG__VM_SCRATCH) {
            *why = s_err_scratch;
            return sp;
        }
        char *out = scr->buf + scr->used;
        char lo = fn == VG__FN_lower ? 'A' : 'a', delta = fn == VG__FN_lower ? 32 : -32;
        for (uint32_t i = 0; i < a->len; i++) {
            char c = a->s[i];
            out[i] = c >= lo && c <= lo + 25 ? (char) (c + delta) : c;
        }
        scr->used += a->len;
        a->s = out;
        return sp;
    }
    case VG__FN_len: {
        if (a->tag == VG__V_NULL) return sp;
        if (a->tag != VG__V_STR) break;
        uint32_t n = 0;
        for (uint32_t i = 0; i < a->len; i++) n += ((unsigned char) a->s[i] & 0xC0) != 0x80;
        s_num(a, n);
        return sp;
    }
    case VG__FN_abs:
        if (a->tag == VG__V_NUM) a->n = fabs(a->n);
        if (a->tag == VG__V_NUM || a->tag == VG__V_NULL) return sp;
        break;
    case VG__FN_coalesce:
        a = sp - 2;
        if (a->tag == VG__V_NULL) *a = *b;
        return sp - 1;
    default: { /* two arguments */
        a = sp - 2;
        if (a->tag == VG__V_NULL || b->tag == VG__V_NULL) {
            s_null(a);
            return sp - 1;
        }
        if (fn == VG__FN_min || fn == VG__FN_max) {
            if (a->tag != VG__V_NUM || b->tag != VG__V_NUM) break;
            if ((fn == VG__FN_min) == (b->n < a->n)) a->n = b->n;
            return sp - 1;
        }
        if (a->tag != VG__V_STR || b->tag != VG__V_STR) break;
        s_bool(a, s_has(a->s, a->len, b->s, b->len, fn));
        return sp - 1;
    }
    }
    *why = s_err_type;
    return sp;
}

/* Each op group below works on the top of the stack and returns the
 * static reason of a runtime error, or NULL. */

static const char *s_op_arith(int op, s_val_t *a, const s_val_t *b)
{
    int r = s_nums(a, b);
    if (VG_UNLIKELY(r != 0)) {
        s_null(a);
        return r < 0 ? s_err_type : NULL;
    }
    double x = a->n, y = b->n;
    switch (op) {
    case VG__OP_ADD: s_num(a, x + y); break;
    case VG__OP_SUB: s_num(a, x - y); break;
    case VG__OP_MUL: s_num(a, x * y); break;
    default:
        if (y == 0) return s_err_div;
        s_num(a, op == VG__OP_DIV ? x / y : fmod(x, y));
        break;
    }
    return NULL;
}

static const char *s_op_compare(int op, s_val_t *a, const s_val_t *b)
{
    int r, c = 0;
    bool eq = false;
    if (op == VG__OP_EQ || op == VG__OP_NE) {
        r = s_eq(a, b, &eq);
        c = eq == (op == VG__OP_EQ);
    } else {
        r = s_cmp(a, b, &c);
        c = op == VG__OP_LT ? c < 0 : op == VG__OP_LE ? c <= 0 : op == VG__OP_GT ? c > 0 : c >= 0;
    }
    if (r < 0) return s_err_type;
    if (r)
        s_null(a);
    else
        s_bool(a, c);
    return NULL;
}

/* x [not] in a constant set or a named list. */
static const char *s_op_in(const vg_ruleset_t *rs, vg__rule_ins_t in, s_val_t *x)
{
    if (x->tag == VG__V_NULL) return NULL;
    if (in.op == VG__OP_INLIST) {
        if (x->tag != VG__V_STR) return s_err_type;
        s_bool(x, vg__strset_has(rs->lists[in.c], x->s, x->len) != in.a);
        return NULL;
    }
    const vg__rule_cset_t *set = &rs->sets[in.c];
    if (x->tag != set->tag) return s_err_type;
    s_setk(x, s_cset_has(set, x) ? 1 : set->has_null ? 2 : 0, in.a);
    return NULL;
}

/* [x, acc, item] -> [x, acc']: acc becomes true on a match, null on a
 * comparison with null (unless already true). */
static const char *s_op_in_step(s_val_t *x, s_val_t *acc, const s_val_t *item)
{
    bool eq = false;
    if (s_k(acc) == 1) return NULL;
    int r = s_eq(x, item, &eq);
    if (r < 0) return s_err_type;
    if (r)
        s_null(acc);
    else if (eq)
        s_bool(acc, true);
    return NULL;
}

static const char *s_op_between(s_val_t *x, const s_val_t *lo, const s_val_t *hi, bool negate)
{
    int c1 = 0, c2 = 0, r1 = s_cmp(x, lo, &c1), r2 = s_cmp(x, hi, &c2);
    if (r1 < 0 || r2 < 0) return s_err_type;
    int k1 = r1 ? 2 : c1 >= 0, k2 = r2 ? 2 : c2 <= 0;
    s_setk(x, k1 == 0 || k2 == 0 ? 0 : (k1 == 2 || k2 == 2) ? 2 : 1, negate);
    return NULL;
}

/* Kleene and/or of the two values on top. */
static void s_op_logic(int op, s_val_t *a, const s_val_t *b)
{
    int x = s_k(a), y = s_k(b), stop = op == VG__OP_AND ? 0 : 1; /* the deciding value */
    s_setk(a, x == stop || y == stop ? stop : (x == 2 || y == 2) ? 2 : !stop, false);
}

vg_rule_result vg__rule_run(const vg_ruleset_t *rs, size_t i, const vg_tx_t *tx,
                            const vg_features_t *f, const char **why)
{
    const vg__rule_prog_t *prog = &rs->prog[i];
    const vg__rule_ins_t *code = rs->code + prog->start;
    const double *feat = f ? vg_features_array(f) : NULL;
    s_val_t stack[VG__VM_STACK];
    char scratch_buf[VG__VM_SCRATCH];
    s_scratch_t scr = {scratch_buf, 0};
    s_val_t *sp = stack;
    const char *err = NULL;
    for (uint32_t pc = 0, n = prog->len; pc < n && !err;) {
        const vg__rule_ins_t in = code[pc++];
        switch (in.op) {
        case VG__OP_CONST: *sp++ = rs->pool[in.c]; break;
        case VG__OP_NULL: s_null(sp++); break;
        case VG__OP_FIELD: s_field(sp++, tx, in.c); break;
        case VG__OP_FEAT: feat ? s_num(sp++, feat[in.c]) : s_null(sp++); break;
        case VG__OP_ATTR: s_attr(sp++, tx, &rs->pool[in.c]); break;
        case VG__OP_NEG:
            if (sp[-1].tag == VG__V_NUM) sp[-1].n = -sp[-1].n;
            if (sp[-1].tag == VG__V_STR) err = s_err_type;
            break;
        case VG__OP_ADD:
        case VG__OP_SUB:
        case VG__OP_MUL:
        case VG__OP_DIV:
        case VG__OP_MOD: sp--, err = s_op_arith(in.op, sp - 1, sp); break;
        case VG__OP_EQ:
        case VG__OP_NE:
        case VG__OP_LT:
        case VG__OP_LE:
        case VG__OP_GT:
        case VG__OP_GE: sp--, err = s_op_compare(in.op, sp - 1, sp); break;
        case VG__OP_NOT:
            if (sp[-1].tag == VG__V_BOOL) sp[-1].b = !sp[-1].b;
            break;
        case VG__OP_AND:
        case VG__OP_OR: sp--, s_op_logic(in.op, sp - 1, sp); break;
        case VG__OP_JF:
            if (sp[-1].tag == VG__V_BOOL && !sp[-1].b) pc = in.c;
            break;
        case VG__OP_JT:
            if (sp[-1].tag == VG__V_BOOL && sp[-1].b) pc = in.c;
            break;
        case VG__OP_ISNULL: s_bool(sp - 1, (sp[-1].tag == VG__V_NULL) != in.a); break;
        case VG__OP_INSET:
        case VG__OP_INLIST: err = s_op_in(rs, in, sp - 1); break;
        case VG__OP_INBEGIN: s_bool(sp++, false); break;
        case VG__OP_INSTEP: sp--, err = s_op_in_step(sp - 2, sp - 1, sp); break;
        case VG__OP_INEND: sp--, s_setk(sp - 1, s_k(sp), in.a); break;
        case VG__OP_BETWEEN: sp -= 2, err = s_op_between(sp - 1, sp, sp + 1, in.a); break;
        case VG__OP_CALL: sp = s_call(in.a, sp, &scr, &err); break;
        default: VG_ASSERT(!"bad rule opcode");
        }
    }
    if (VG_UNLIKELY(err)) {
        if (why) *why = err;
        return VG_RULE_ERROR;
    }
    VG_DASSERT(sp == stack + 1);
    return stack[0].tag == VG__V_BOOL ? (stack[0].b ? VG_RULE_TRUE : VG_RULE_FALSE) : VG_RULE_NULL;
}

size_t vg_ruleset_eval(const vg_ruleset_t *self, const vg_tx_t *tx, const vg_features_t *f,
                       vg_rule_hit_t *hits, size_t cap)
{
    size_t n = 0;
    for (size_t i = 0; i < self->n_rules; i++) {
        const vg__rule_prog_t *prog = &self->prog[i];
        if (!prog->enabled) continue;
        vg_rule_result r = vg__rule_run(self, i, tx, f, NULL);
        if (r == VG_RULE_TRUE) {
            atomic_fetch_add_explicit(&self->stats[i].hits, 1, memory_order_relaxed);
            if (n < cap) hits[n] = (vg_rule_hit_t){(uint32_t) i, prog->shadow};
            n++;
        } else if (VG_UNLIKELY(r == VG_RULE_ERROR)) {
            atomic_fetch_add_explicit(&self->stats[i].errors, 1, memory_order_relaxed);
        }
    }
    return n;
}

vg_rule_result vg_ruleset_eval_one(const vg_ruleset_t *self, size_t i, const vg_tx_t *tx,
                                   const vg_features_t *f, const char **why)
{
    VG_ASSERT(i < self->n_rules);
    return vg__rule_run(self, i, tx, f, why);
}
