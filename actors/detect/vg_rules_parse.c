/* vg_rules_parse.c: the rule language's front end: a lexer that tracks
 * lines and columns, the rule set file grammar, and a precedence-climbing
 * expression parser that resolves names and checks types while it builds
 * the syntax tree, so every error points at the token that caused it.
 * Errors unwind with longjmp: everything the parser allocates lives in the
 * file's arena (or in the parser struct, freed by vg__rule_parse). */
#include "vg_rules_internal.h"

#include "vg_err.h"
#include "vg_features.h"
#include "vg_mem.h"
#include "vg_tx.h"

#include <math.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

/* ---- tokens -------------------------------------------------------------- */

typedef enum {
    K_EOF,
    K_IDENT,
    K_NUM,
    K_STR,
    K_LPAREN,
    K_RPAREN,
    K_LBRACE,
    K_RBRACE,
    K_LBRACK,
    K_RBRACK,
    K_COMMA,
    K_DOT,
    K_SEMI,
    K_ASSIGN, /* '=': a rule field's assignment, or equality in expressions */
    K_EQ,
    K_NE,
    K_LT,
    K_LE,
    K_GT,
    K_GE,
    K_PLUS,
    K_MINUS,
    K_STAR,
    K_SLASH,
    K_PERCENT,
} s_kind;

typedef struct {
    uint8_t kind;
    int line, col;
    const char *start, *end; /* source span */
    double num;
    vg_str_t str; /* identifier (source slice) or decoded string (arena) */
} s_tok_t;

/* Words reserved inside expressions (case-insensitive). */
static const char *const s_keywords[] = {"and", "or",   "not",  "in",    "between",
                                         "is",  "null", "true", "false", "list"};

/* The fields of a rule body, in the order of the meta struct. */
typedef enum {
    F_NAME,
    F_DESCRIPTION,
    F_SEVERITY,
    F_ACTION,
    F_WEIGHT,
    F_ENABLED,
    F_MODE,
    F_WHEN
} s_rfield;
static const char *const s_rfields[] = {"name",   "description", "severity", "action",
                                        "weight", "enabled",     "mode",     "when"};

static const char *const s_field_names[] = {
#define VG__RF_NAME(name, type) #name,
    VG__RULE_FIELD_LIST(VG__RF_NAME)
#undef VG__RF_NAME
};
static const uint8_t s_field_types[] = {
#define VG__RF_TYPE(name, type) VG__T_##type,
    VG__RULE_FIELD_LIST(VG__RF_TYPE)
#undef VG__RF_TYPE
};

static const struct {
    const char *name;
    uint8_t n_args, result, arg[2];
} s_funcs[] = {
#define VG__FN_ROW(name, n, r, a0, a1) {#name, n, VG__T_##r, {VG__T_##a0, VG__T_##a1}},
    VG__RULE_FUNC_LIST(VG__FN_ROW)
#undef VG__FN_ROW
};

typedef struct {
    vg__rule_node_t **v;
    uint32_t n, cap;
} s_nodes_t;

typedef struct {
    const char *src, *p, *end;
    int line, col;
    s_tok_t cur, nxt;
    const char *prev_end; /* end of the last consumed token */
    vg__rule_file_t *out;
    vg_arena_t *arena;
    vg_rules_err_t *err;
    jmp_buf jmp;
    int depth;
    size_t cap_rules, cap_lists;
    vg_strmap_t ids, lists; /* value: index + 1 */
} s_parser_t;

static _Noreturn __attribute__((format(printf, 5, 6))) void
s_fail(s_parser_t *p, int code, int line, int col, const char *fmt, ...)
{
    char msg[256];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(msg, sizeof msg, fmt, ap);
    va_end(ap);
    vg__rule_err(p->err, code, line, col, "%s", msg);
    longjmp(p->jmp, 1);
}

static bool s_alpha(int c)
{
    return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || c == '_';
}

static bool s_digit(int c)
{
    return c >= '0' && c <= '9';
}

/* A byte for a message: 'c', or \xNN when not printable. */
static const char *s_byte_desc(unsigned char c, char *buf, size_t size)
{
    if (c >= 0x21 && c < 0x7f)
        snprintf(buf, size, "'%c'", c);
    else
        snprintf(buf, size, "byte 0x%02x", c);
    return buf;
}

/* ---- lexer ----------------------------------------------------------------- */

/* Consumes one byte; columns count characters (UTF-8 lead bytes). */
static void s_adv(s_parser_t *p)
{
    unsigned char c = (unsigned char) *p->p++;
    if (c == '\n') {
        p->line++;
        p->col = 1;
    } else if ((c & 0xC0) != 0x80) {
        p->col++;
    }
}

static void s_skip_blanks(s_parser_t *p)
{
    while (p->p < p->end) {
        char c = *p->p;
        if (c == ' ' || c == '\t' || c == '\r' || c == '\n' || c == '\f' || c == '\v') {
            s_adv(p);
        } else if (c == '#' || (c == '/' && p->p + 1 < p->end && p->p[1] == '/')) {
            while (p->p < p->end && *p->p != '\n') s_adv(p);
        } else {
            break;
        }
    }
}

/* Digits with single '_' separators between them, appended to buf. */
static void s_lex_digits(s_parser_t *p, const s_tok_t *t, char *buf, size_t *n)
{
    while (p->p < p->end && (s_digit(*p->p) || *p->p == '_')) {
        if (*p->p == '_' && (p->p + 1 >= p->end || !s_digit(p->p[1])))
            s_fail(p, VG_ERR_PARSE, p->line, p->col,
                   "misplaced '_' in number (only between digits)");
        if (*p->p != '_') {
            if (*n >= 64) s_fail(p, VG_ERR_PARSE, t->line, t->col, "number too long");
            buf[(*n)++] = *p->p;
        }
        s_adv(p);
    }
}

static void s_lex_num(s_parser_t *p, s_tok_t *t)
{
    char buf[72];
    size_t n = 0;
    s_lex_digits(p, t, buf, &n);
    if (p->p < p->end && *p->p == '.') {
        if (p->p + 1 >= p->end || !s_digit(p->p[1]))
            s_fail(p, VG_ERR_PARSE, t->line, t->col, "invalid number: digits must follow '.'");
        buf[n++] = '.';
        s_adv(p);
        s_lex_digits(p, t, buf, &n);
    }
    if (p->p < p->end && (*p->p == 'e' || *p->p == 'E')) {
        const char *q = p->p + 1;
        if (q < p->end && (*q == '+' || *q == '-')) q++;
        if (q >= p->end || !s_digit(*q))
            s_fail(p, VG_ERR_PARSE, t->line, t->col, "invalid number: digits must follow 'e'");
        buf[n++] = 'e';
        s_adv(p);
        if (*p->p == '+' || *p->p == '-') {
            buf[n++] = *p->p;
            s_adv(p);
        }
        s_lex_digits(p, t, buf, &n);
    }
    if (p->p < p->end && (s_alpha(*p->p) || *p->p == '.')) {
        const char *q = p->p;
        while (q < p->end && (s_alpha(*q) || s_digit(*q) || *q == '.')) q++;
        s_fail(p, VG_ERR_PARSE, t->line, t->col, "invalid number '%.*s'",
               (int) VG_MIN(q - t->start, 40), t->start);
    }
    buf[n] = 0;
    t->kind = K_NUM;
    t->num = strtod(buf, NULL);
    if (!isfinite(t->num)) s_fail(p, VG_ERR_PARSE, t->line, t->col, "number out of range");
}

static void s_lex_str(s_parser_t *p, s_tok_t *t)
{
    char buf[VG_RULES_MAX_STRING];
    size_t n = 0;
    s_adv(p); /* opening quote */
    for (;;) {
        if (p->p >= p->end || *p->p == '\n')
            s_fail(p, VG_ERR_PARSE, t->line, t->col, "unterminated string");
        char c = *p->p;
        if (c == '"') {
            s_adv(p);
            break;
        }
        if (c == '\\') {
            if (p->p + 1 >= p->end) s_fail(p, VG_ERR_PARSE, t->line, t->col, "unterminated string");
            switch (p->p[1]) {
            case '"': c = '"'; break;
            case '\\': c = '\\'; break;
            case 'n': c = '\n'; break;
            case 't': c = '\t'; break;
            case 'r': c = '\r'; break;
            default: {
                unsigned char e = (unsigned char) p->p[1];
                if (e >= 0x21 && e < 0x7f)
                    s_fail(p, VG_ERR_PARSE, p->line, p->col,
                           "unknown escape '\\%c' in string (use \\\" \\\\ \\n \\t or \\r)", e);
                s_fail(p, VG_ERR_PARSE, p->line, p->col,
                       "unknown escape in string (use \\\" \\\\ \\n \\t or \\r)");
            }
            }
            s_adv(p);
        }
        s_adv(p);
        if (n >= sizeof buf)
            s_fail(p, VG_ERR_LIMIT, t->line, t->col, "string longer than %d bytes",
                   VG_RULES_MAX_STRING);
        buf[n++] = c;
    }
    if (!vg_utf8_valid(buf, n))
        s_fail(p, VG_ERR_PARSE, t->line, t->col, "string is not valid UTF-8");
    t->kind = K_STR;
    t->str = (vg_str_t){vg_arena_strndup(p->arena, buf, n), (uint32_t) n};
}

static void s_lex_punct(s_parser_t *p, s_tok_t *t)
{
    char c = *p->p, d = p->p + 1 < p->end ? p->p[1] : 0;
    int two = 0;
    switch (c) {
    case '(': t->kind = K_LPAREN; break;
    case ')': t->kind = K_RPAREN; break;
    case '{': t->kind = K_LBRACE; break;
    case '}': t->kind = K_RBRACE; break;
    case '[': t->kind = K_LBRACK; break;
    case ']': t->kind = K_RBRACK; break;
    case ',': t->kind = K_COMMA; break;
    case '.': t->kind = K_DOT; break;
    case ';': t->kind = K_SEMI; break;
    case '+': t->kind = K_PLUS; break;
    case '-': t->kind = K_MINUS; break;
    case '*': t->kind = K_STAR; break;
    case '/': t->kind = K_SLASH; break;
    case '%': t->kind = K_PERCENT; break;
    case '=': t->kind = d == '=' ? (two = 1, K_EQ) : K_ASSIGN; break;
    case '<': t->kind = d == '=' ? (two = 1, K_LE) : d == '>' ? (two = 1, K_NE) : K_LT; break;
    case '>': t->kind = d == '=' ? (two = 1, K_GE) : K_GT; break;
    case '!':
        if (d != '=')
            s_fail(p, VG_ERR_PARSE, t->line, t->col, "unexpected '!' (use 'not' or '!=')");
        t->kind = K_NE;
        two = 1;
        break;
    case '&': s_fail(p, VG_ERR_PARSE, t->line, t->col, "unexpected '&' (use 'and')");
    case '|': s_fail(p, VG_ERR_PARSE, t->line, t->col, "unexpected '|' (use 'or')");
    default: {
        char b[16];
        s_fail(p, VG_ERR_PARSE, t->line, t->col, "unexpected character %s",
               s_byte_desc((unsigned char) c, b, sizeof b));
    }
    }
    s_adv(p);
    if (two) s_adv(p);
}

static void s_lex(s_parser_t *p, s_tok_t *t)
{
    s_skip_blanks(p);
    memset(t, 0, sizeof *t);
    t->line = p->line;
    t->col = p->col;
    t->start = p->p;
    if (p->p >= p->end) {
        t->kind = K_EOF;
    } else if (s_alpha(*p->p)) {
        while (p->p < p->end && (s_alpha(*p->p) || s_digit(*p->p))) s_adv(p);
        t->kind = K_IDENT;
        t->str = (vg_str_t){t->start, (uint32_t) (p->p - t->start)};
    } else if (s_digit(*p->p)) {
        s_lex_num(p, t);
    } else if (*p->p == '"') {
        s_lex_str(p, t);
    } else {
        s_lex_punct(p, t);
    }
    t->end = p->p;
}

static void s_next(s_parser_t *p)
{
    p->prev_end = p->cur.end;
    p->cur = p->nxt;
    s_lex(p, &p->nxt);
}

/* ---- parser helpers ---------------------------------------------------------- */

static bool s_word_is(vg_str_t w, const char *kw)
{
    size_t n = strlen(kw);
    return w.len == n && strncasecmp(w.ptr, kw, n) == 0;
}

static bool s_kw(const s_tok_t *t, const char *kw)
{
    return t->kind == K_IDENT && s_word_is(t->str, kw);
}

static bool s_reserved(const s_tok_t *t)
{
    for (size_t i = 0; i < VG_ARRAY_LEN(s_keywords); i++)
        if (s_kw(t, s_keywords[i])) return true;
    return false;
}

/* "end of input", "'foo'", "number 12", "string \"abc\"". */
static const char *s_desc(const s_tok_t *t, char *buf, size_t size)
{
    int n = (int) VG_MIN(t->end - t->start, 40);
    const char *more = t->end - t->start > 40 ? "..." : "";
    switch (t->kind) {
    case K_EOF: snprintf(buf, size, "end of input"); break;
    case K_NUM: snprintf(buf, size, "number %.*s%s", n, t->start, more); break;
    case K_STR: snprintf(buf, size, "string %.*s%s", n, t->start, more); break;
    case K_IDENT:
        snprintf(buf, size, "%s '%.*s%s'", s_reserved(t) ? "keyword" : "name", n, t->start, more);
        break;
    default: snprintf(buf, size, "'%.*s'", n, t->start); break;
    }
    return buf;
}

static _Noreturn void s_expected(s_parser_t *p, const char *what)
{
    char d[80];
    s_fail(p, VG_ERR_PARSE, p->cur.line, p->cur.col, "expected %s, got %s", what,
           s_desc(&p->cur, d, sizeof d));
}

static void s_expect(s_parser_t *p, int kind, const char *what)
{
    if (p->cur.kind != kind) s_expected(p, what);
    s_next(p);
}

static const char *s_tname(int type)
{
    switch (type) {
    case VG__T_BOOL: return "a boolean";
    case VG__T_NUM: return "a number";
    case VG__T_STR: return "a string";
    case VG__T_DYN: return "an attribute";
    default: return "null";
    }
}

/* True when a value of static type `have` is acceptable where `want` is. */
static bool s_compat(int want, int have)
{
    if (have == want || have == VG__T_NUL) return true;
    if (have == VG__T_DYN) return want == VG__T_NUM || want == VG__T_STR;
    return false;
}

static void s_want(s_parser_t *p, const vg__rule_node_t *n, int want, const s_tok_t *at,
                   const char *ctx)
{
    if (!s_compat(want, n->type))
        s_fail(p, VG_ERR_INVALID, at->line, at->col, "%s needs %s, got %s", ctx, s_tname(want),
               s_tname(n->type));
}

static vg__rule_node_t *s_node(s_parser_t *p, int kind, int type, const s_tok_t *at)
{
    vg__rule_node_t *n = vg_arena_calloc(p->arena, 1, sizeof *n);
    n->kind = (uint8_t) kind;
    n->type = (uint8_t) type;
    n->line = at->line;
    n->col = at->col;
    n->height = 1;
    return n;
}

/* Makes kid a child of n as far as the height limit is concerned. */
static void s_below(s_parser_t *p, vg__rule_node_t *n, const vg__rule_node_t *kid)
{
    if (kid->height + 1 > n->height) n->height = (uint16_t) (kid->height + 1);
    if (n->height > VG_RULES_MAX_DEPTH)
        s_fail(p, VG_ERR_LIMIT, n->line, n->col, "expression nested deeper than %d levels",
               VG_RULES_MAX_DEPTH);
}

static void s_push(s_parser_t *p, s_nodes_t *a, vg__rule_node_t *n)
{
    if (a->n == a->cap) {
        uint32_t cap = a->cap ? a->cap * 2 : 4;
        vg__rule_node_t **v = vg_arena_alloc(p->arena, cap * sizeof *v);
        if (a->n) memcpy(v, a->v, a->n * sizeof *v);
        a->v = v;
        a->cap = cap;
    }
    a->v[a->n++] = n;
}

static void s_enter(s_parser_t *p)
{
    if (++p->depth > VG_RULES_MAX_DEPTH)
        s_fail(p, VG_ERR_LIMIT, p->cur.line, p->cur.col, "expression nested deeper than %d levels",
               VG_RULES_MAX_DEPTH);
}

static bool s_is_const(const vg__rule_node_t *n, int tag)
{
    return n->kind == VG__N_CONST && n->val.tag == tag;
}

/* ---- expressions ------------------------------------------------------------ */

static vg__rule_node_t *s_expr(s_parser_t *p);

static bool s_cmp_op(int kind)
{
    return kind == K_ASSIGN || kind == K_EQ || kind == K_NE || kind == K_LT || kind == K_LE ||
           kind == K_GT || kind == K_GE;
}

static int s_cmp_opcode(int kind)
{
    switch (kind) {
    case K_NE: return VG__OP_NE;
    case K_LT: return VG__OP_LT;
    case K_LE: return VG__OP_LE;
    case K_GT: return VG__OP_GT;
    case K_GE: return VG__OP_GE;
    default: return VG__OP_EQ;
    }
}

/* Checks that l and r can be compared by `what` (ordered: < <= > >=). */
static void s_check_cmp(s_parser_t *p, const vg__rule_node_t *l, const vg__rule_node_t *r,
                        bool ordered, const s_tok_t *at, const char *what)
{
    int a = l->type, b = r->type;
    if (a == VG__T_NUL || b == VG__T_NUL)
        s_fail(p, VG_ERR_INVALID, at->line, at->col,
               "%s with null is always null; use 'is null' or 'is not null'", what);
    bool ok = a == b || (a == VG__T_DYN && b != VG__T_BOOL) || (b == VG__T_DYN && a != VG__T_BOOL);
    if (!ok)
        s_fail(p, VG_ERR_INVALID, at->line, at->col, "cannot compare %s with %s", s_tname(a),
               s_tname(b));
    if (ordered && a == VG__T_BOOL)
        s_fail(p, VG_ERR_INVALID, at->line, at->col, "%s cannot order booleans", what);
}

static double s_fold(int op, double a, double b)
{
    switch (op) {
    case VG__OP_ADD: return a + b;
    case VG__OP_SUB: return a - b;
    case VG__OP_MUL: return a * b;
    case VG__OP_DIV: return a / b;
    default: return fmod(a, b);
    }
}

static vg__rule_node_t *s_arith(s_parser_t *p, int op, vg__rule_node_t *l, vg__rule_node_t *r,
                                const s_tok_t *at)
{
    char what[8];
    snprintf(what, sizeof what, "'%.*s'", (int) (at->end - at->start), at->start);
    s_want(p, l, VG__T_NUM, at, what);
    s_want(p, r, VG__T_NUM, at, what);
    bool lc = l->kind == VG__N_CONST, rc = r->kind == VG__N_CONST;
    if ((op == VG__OP_DIV || op == VG__OP_MOD) && s_is_const(r, VG__V_NUM) && r->val.n == 0)
        s_fail(p, VG_ERR_INVALID, at->line, at->col, "division by zero");
    if (lc && rc) { /* fold constants; null in, null out */
        vg__rule_node_t *n = s_node(p, VG__N_CONST, VG__T_NUM, at);
        n->line = l->line;
        n->col = l->col;
        if (l->val.tag == VG__V_NUM && r->val.tag == VG__V_NUM) {
            double v = s_fold(op, l->val.n, r->val.n);
            if (!isnan(v)) n->val = (vg__rule_val_t){.tag = VG__V_NUM, .n = v};
        }
        return n;
    }
    vg__rule_node_t *n = s_node(p, VG__N_BINARY, VG__T_NUM, at);
    n->op = (uint8_t) op;
    n->kid[0] = l;
    n->kid[1] = r;
    s_below(p, n, l);
    s_below(p, n, r);
    return n;
}

static vg__rule_node_t *s_call(s_parser_t *p)
{
    s_tok_t name = p->cur;
    int fn = -1;
    for (int i = 0; i < VG__FN_COUNT; i++)
        if (s_word_is(name.str, s_funcs[i].name)) fn = i;
    if (fn < 0) {
        const char *names[VG__FN_COUNT];
        for (int i = 0; i < VG__FN_COUNT; i++) names[i] = s_funcs[i].name;
        const char *sug = vg__rule_suggest(name.str, names, VG__FN_COUNT);
        if (sug)
            s_fail(p, VG_ERR_INVALID, name.line, name.col,
                   "unknown function '%.*s' (did you mean '%s'?)", (int) VG_MIN(name.str.len, 64u),
                   name.str.ptr, sug);
        s_fail(p, VG_ERR_INVALID, name.line, name.col,
               "unknown function '%.*s' (expected lower, upper, len, starts_with, ends_with, "
               "contains, abs, min, max or coalesce)",
               (int) VG_MIN(name.str.len, 64u), name.str.ptr);
    }
    s_next(p);
    s_next(p); /* '(' */
    s_nodes_t args = {0};
    if (p->cur.kind != K_RPAREN) {
        for (;;) {
            s_push(p, &args, s_expr(p));
            if (p->cur.kind != K_COMMA) break;
            s_next(p);
        }
    }
    s_expect(p, K_RPAREN, "',' or ')' after a function argument");
    const char *fname = s_funcs[fn].name;
    if (args.n != s_funcs[fn].n_args)
        s_fail(p, VG_ERR_INVALID, name.line, name.col, "%s() takes %d argument%s, got %u", fname,
               s_funcs[fn].n_args, s_funcs[fn].n_args == 1 ? "" : "s", args.n);
    vg__rule_node_t *n = s_node(p, VG__N_CALL, s_funcs[fn].result, &name);
    n->ref = fn;
    n->items = args.v;
    n->n_items = args.n;
    char what[48];
    snprintf(what, sizeof what, "%s()", fname);
    for (uint32_t i = 0; i < args.n; i++) {
        s_below(p, n, args.v[i]);
        if (s_funcs[fn].arg[i] != VG__T_DYN) s_want(p, args.v[i], s_funcs[fn].arg[i], &name, what);
    }
    if (fn == VG__FN_coalesce) {
        int a = args.v[0]->type, b = args.v[1]->type;
        if (a == VG__T_NUL)
            n->type = (uint8_t) b;
        else if (b == VG__T_NUL || a == b)
            n->type = (uint8_t) a;
        else if ((a == VG__T_DYN && b != VG__T_BOOL) || (b == VG__T_DYN && a != VG__T_BOOL))
            n->type = VG__T_DYN;
        else
            s_fail(p, VG_ERR_INVALID, name.line, name.col,
                   "coalesce() needs arguments of one type, got %s and %s", s_tname(a), s_tname(b));
    }
    return n;
}

static vg__rule_node_t *s_attr(s_parser_t *p)
{
    s_tok_t at = p->cur;
    s_next(p);
    vg_str_t key;
    if (p->cur.kind == K_DOT) {
        s_next(p);
        if (p->cur.kind != K_IDENT) s_expected(p, "an attribute name after 'attributes.'");
        key = p->cur.str;
        s_next(p);
    } else if (p->cur.kind == K_LBRACK) {
        s_next(p);
        if (p->cur.kind != K_STR) s_expected(p, "a string after 'attributes['");
        key = p->cur.str;
        s_next(p);
        s_expect(p, K_RBRACK, "']'");
    } else {
        s_expected(p, "'.' or '[' after 'attributes'");
    }
    if (key.len < 1 || key.len > VG_TX_ATTR_KEY_MAX)
        s_fail(p, VG_ERR_INVALID, at.line, at.col, "attribute names are 1 to %d bytes",
               VG_TX_ATTR_KEY_MAX);
    vg__rule_node_t *n = s_node(p, VG__N_ATTR, VG__T_DYN, &at);
    n->str = key;
    return n;
}

static vg__rule_node_t *s_name(s_parser_t *p)
{
    s_tok_t t = p->cur;
    s_next(p);
    for (int i = 0; i < VG__RF_COUNT; i++) {
        if (vg_str_eq_c(t.str, s_field_names[i])) {
            vg__rule_node_t *n = s_node(p, VG__N_FIELD, s_field_types[i], &t);
            n->ref = i;
            return n;
        }
    }
    for (int i = 0; i < VG_FEATURE_COUNT; i++) {
        if (vg_str_eq_c(t.str, vg_feature_name(i))) {
            vg__rule_node_t *n = s_node(p, VG__N_FEAT, VG__T_NUM, &t);
            n->ref = i;
            return n;
        }
    }
    const char *names[VG__RF_COUNT + VG_FEATURE_COUNT];
    size_t k = 0;
    for (int i = 0; i < VG__RF_COUNT; i++) names[k++] = s_field_names[i];
    for (int i = 0; i < VG_FEATURE_COUNT; i++) names[k++] = vg_feature_name(i);
    const char *sug = vg__rule_suggest(t.str, names, k);
    if (sug)
        s_fail(p, VG_ERR_INVALID, t.line, t.col,
               "unknown field or feature '%.*s' (did you mean '%s'?)", (int) VG_MIN(t.str.len, 64u),
               t.str.ptr, sug);
    s_fail(p, VG_ERR_INVALID, t.line, t.col,
           "unknown field or feature '%.*s' (expected a transaction field, a feature or "
           "attributes.NAME; see docs/RULES.md)",
           (int) VG_MIN(t.str.len, 64u), t.str.ptr);
}

static vg__rule_node_t *s_primary(s_parser_t *p)
{
    s_tok_t t = p->cur;
    vg__rule_node_t *n;
    switch (t.kind) {
    case K_NUM:
        n = s_node(p, VG__N_CONST, VG__T_NUM, &t);
        n->val = (vg__rule_val_t){.tag = VG__V_NUM, .n = t.num};
        s_next(p);
        return n;
    case K_STR:
        n = s_node(p, VG__N_CONST, VG__T_STR, &t);
        n->val = (vg__rule_val_t){.tag = VG__V_STR, .len = t.str.len, .s = t.str.ptr};
        s_next(p);
        return n;
    case K_LPAREN:
        s_next(p);
        n = s_expr(p);
        if (p->cur.kind != K_RPAREN) {
            char what[64];
            snprintf(what, sizeof what, "')' to close the '(' at %d:%d", t.line, t.col);
            s_expected(p, what);
        }
        s_next(p);
        return n;
    case K_IDENT:
        if (s_kw(&t, "true") || s_kw(&t, "false")) {
            n = s_node(p, VG__N_CONST, VG__T_BOOL, &t);
            n->val = (vg__rule_val_t){.tag = VG__V_BOOL, .b = s_kw(&t, "true")};
            s_next(p);
            return n;
        }
        if (s_kw(&t, "null")) {
            n = s_node(p, VG__N_CONST, VG__T_NUL, &t);
            s_next(p);
            return n;
        }
        if (s_reserved(&t)) break;
        if (p->nxt.kind == K_LPAREN) return s_call(p);
        if (vg_str_eq_c(t.str, "attributes")) return s_attr(p);
        return s_name(p);
    default: break;
    }
    s_expected(p, "a value (number, string, name, function call or '(')");
}

static vg__rule_node_t *s_unary(s_parser_t *p)
{
    if (p->cur.kind != K_MINUS) return s_primary(p);
    s_tok_t at = p->cur;
    s_next(p);
    s_enter(p);
    vg__rule_node_t *x = s_unary(p);
    p->depth--;
    s_want(p, x, VG__T_NUM, &at, "unary '-'");
    if (x->kind == VG__N_CONST) {
        if (x->val.tag == VG__V_NUM) x->val.n = -x->val.n;
        x->type = VG__T_NUM;
        x->line = at.line;
        x->col = at.col;
        return x;
    }
    vg__rule_node_t *n = s_node(p, VG__N_UNARY, VG__T_NUM, &at);
    n->op = VG__OP_NEG;
    n->kid[0] = x;
    s_below(p, n, x);
    return n;
}

static vg__rule_node_t *s_mul(s_parser_t *p)
{
    vg__rule_node_t *l = s_unary(p);
    while (p->cur.kind == K_STAR || p->cur.kind == K_SLASH || p->cur.kind == K_PERCENT) {
        s_tok_t at = p->cur;
        int op = at.kind == K_STAR ? VG__OP_MUL : at.kind == K_SLASH ? VG__OP_DIV : VG__OP_MOD;
        s_next(p);
        l = s_arith(p, op, l, s_unary(p), &at);
    }
    return l;
}

static vg__rule_node_t *s_add(s_parser_t *p)
{
    vg__rule_node_t *l = s_mul(p);
    while (p->cur.kind == K_PLUS || p->cur.kind == K_MINUS) {
        s_tok_t at = p->cur;
        s_next(p);
        l = s_arith(p, at.kind == K_PLUS ? VG__OP_ADD : VG__OP_SUB, l, s_mul(p), &at);
    }
    return l;
}

/* `x [not] in (a, b, ...)` or `x [not] in list "name"`; cur is after `in`. */
static vg__rule_node_t *s_in(s_parser_t *p, vg__rule_node_t *x, const s_tok_t *at, bool neg)
{
    const char *what = neg ? "'not in'" : "'in'";
    if (x->type == VG__T_NUL)
        s_fail(p, VG_ERR_INVALID, at->line, at->col,
               "%s with null is always null; use 'is null' or 'is not null'", what);
    vg__rule_node_t *n;
    if (s_kw(&p->cur, "list")) {
        s_next(p);
        if (p->cur.kind != K_STR && (p->cur.kind != K_IDENT || s_reserved(&p->cur)))
            s_expected(p, "a list name after 'in list'");
        s_want(p, x, VG__T_STR, at, neg ? "'not in list'" : "'in list'");
        n = s_node(p, VG__N_INLIST, VG__T_BOOL, &p->cur);
        n->str = p->cur.str;
        s_next(p);
    } else {
        if (p->cur.kind != K_LPAREN) s_expected(p, "'(' or 'list' after 'in'");
        s_next(p);
        n = s_node(p, VG__N_IN, VG__T_BOOL, at);
        s_nodes_t items = {0};
        int item_type = 0;
        for (;;) {
            s_tok_t it = p->cur;
            vg__rule_node_t *v = s_expr(p);
            if (v->type != VG__T_NUL) {
                s_check_cmp(p, x, v, false, &it, what);
                if (v->type != VG__T_DYN) {
                    if (item_type && item_type != v->type)
                        s_fail(p, VG_ERR_INVALID, it.line, it.col,
                               "the values of %s must be of one type, got %s and %s", what,
                               s_tname(item_type), s_tname(v->type));
                    item_type = v->type;
                }
            }
            s_push(p, &items, v);
            s_below(p, n, v);
            if (p->cur.kind != K_COMMA) break;
            s_next(p);
        }
        s_expect(p, K_RPAREN, "',' or ')' in the value list");
        n->items = items.v;
        n->n_items = items.n;
    }
    n->neg = neg;
    n->kid[0] = x;
    s_below(p, n, x);
    return n;
}

static vg__rule_node_t *s_between(s_parser_t *p, vg__rule_node_t *x, const s_tok_t *at, bool neg)
{
    const char *what = neg ? "'not between'" : "'between'";
    vg__rule_node_t *lo = s_add(p);
    if (!s_kw(&p->cur, "and")) s_expected(p, "'and' in 'between ... and ...'");
    s_next(p);
    vg__rule_node_t *hi = s_add(p);
    s_check_cmp(p, x, lo, true, at, what);
    s_check_cmp(p, x, hi, true, at, what);
    s_check_cmp(p, lo, hi, true, at, what); /* matters when x is an attribute */
    vg__rule_node_t *n = s_node(p, VG__N_BETWEEN, VG__T_BOOL, at);
    n->neg = neg;
    n->kid[0] = x;
    n->kid[1] = lo;
    n->kid[2] = hi;
    for (int i = 0; i < 3; i++) s_below(p, n, n->kid[i]);
    return n;
}

static bool s_cmp_start(const s_parser_t *p)
{
    if (s_cmp_op(p->cur.kind) || s_kw(&p->cur, "is") || s_kw(&p->cur, "in") ||
        s_kw(&p->cur, "between"))
        return true;
    return s_kw(&p->cur, "not") && (s_kw(&p->nxt, "in") || s_kw(&p->nxt, "between"));
}

static vg__rule_node_t *s_cmp(s_parser_t *p)
{
    vg__rule_node_t *l = s_add(p);
    if (!s_cmp_start(p)) return l;
    s_tok_t at = p->cur;
    vg__rule_node_t *n;
    if (s_cmp_op(at.kind)) {
        s_next(p);
        vg__rule_node_t *r = s_add(p);
        char what[8];
        snprintf(what, sizeof what, "'%.*s'", (int) (at.end - at.start), at.start);
        int op = s_cmp_opcode(at.kind);
        s_check_cmp(p, l, r, op != VG__OP_EQ && op != VG__OP_NE, &at, what);
        n = s_node(p, VG__N_BINARY, VG__T_BOOL, &at);
        n->op = (uint8_t) op;
        n->kid[0] = l;
        n->kid[1] = r;
        s_below(p, n, l);
        s_below(p, n, r);
    } else if (s_kw(&at, "is")) {
        s_next(p);
        bool neg = s_kw(&p->cur, "not");
        if (neg) s_next(p);
        if (!s_kw(&p->cur, "null"))
            s_expected(p, neg ? "'null' after 'is not'" : "'null' after 'is'");
        s_next(p);
        n = s_node(p, VG__N_ISNULL, VG__T_BOOL, &at);
        n->neg = neg;
        n->kid[0] = l;
        s_below(p, n, l);
    } else {
        bool neg = s_kw(&at, "not");
        if (neg) s_next(p);
        bool in = s_kw(&p->cur, "in");
        s_next(p);
        n = in ? s_in(p, l, &at, neg) : s_between(p, l, &at, neg);
    }
    if (s_cmp_start(p))
        s_fail(p, VG_ERR_PARSE, p->cur.line, p->cur.col,
               "comparisons cannot be chained; join them with 'and'");
    return n;
}

static vg__rule_node_t *s_not(s_parser_t *p)
{
    if (!s_kw(&p->cur, "not")) return s_cmp(p);
    s_tok_t at = p->cur;
    s_next(p);
    s_enter(p);
    vg__rule_node_t *x = s_not(p);
    p->depth--;
    s_want(p, x, VG__T_BOOL, &at, "'not'");
    vg__rule_node_t *n = s_node(p, VG__N_UNARY, VG__T_BOOL, &at);
    n->op = VG__OP_NOT;
    n->kid[0] = x;
    s_below(p, n, x);
    return n;
}

/* An n-ary chain of `and` (op AND, operands from s_not) or `or`. */
static vg__rule_node_t *s_logic(s_parser_t *p, int op)
{
    const char *word = op == VG__OP_AND ? "and" : "or";
    vg__rule_node_t *first = op == VG__OP_AND ? s_not(p) : s_logic(p, VG__OP_AND);
    if (!s_kw(&p->cur, word)) return first;
    char what[8];
    snprintf(what, sizeof what, "'%s'", word);
    s_want(p, first, VG__T_BOOL, &p->cur, what);
    vg__rule_node_t *n = s_node(p, VG__N_LOGIC, VG__T_BOOL, &p->cur);
    n->op = (uint8_t) op;
    s_nodes_t items = {0};
    s_push(p, &items, first);
    s_below(p, n, first);
    while (s_kw(&p->cur, word)) {
        s_tok_t at = p->cur;
        s_next(p);
        vg__rule_node_t *x = op == VG__OP_AND ? s_not(p) : s_logic(p, VG__OP_AND);
        s_want(p, x, VG__T_BOOL, &at, what);
        s_push(p, &items, x);
        s_below(p, n, x);
    }
    n->items = items.v;
    n->n_items = items.n;
    return n;
}

static vg__rule_node_t *s_expr(s_parser_t *p)
{
    s_enter(p);
    vg__rule_node_t *n = s_logic(p, VG__OP_OR);
    p->depth--;
    return n;
}

/* ---- the rule set file ------------------------------------------------------ */

static void *s_grow(s_parser_t *p, void *v, size_t n, size_t *cap, size_t size)
{
    if (n < *cap) return v;
    size_t ncap = *cap ? *cap * 2 : 16;
    void *nv = vg_arena_alloc(p->arena, ncap * size);
    if (n) memcpy(nv, v, n * size);
    *cap = ncap;
    return nv;
}

static const char *s_strdup(s_parser_t *p, vg_str_t s)
{
    return vg_arena_strndup(p->arena, s.ptr ? s.ptr : "", s.len);
}

/* One of `words` (case-insensitive identifier or string), as its index. */
static int s_choice(s_parser_t *p, const char *const *words, int n, const char *what)
{
    if (p->cur.kind == K_IDENT || p->cur.kind == K_STR) {
        for (int i = 0; i < n; i++) {
            if (s_word_is(p->cur.str, words[i])) {
                s_next(p);
                return i;
            }
        }
    }
    s_expected(p, what);
}

static void s_when(s_parser_t *p, vg_rule_meta_t *m, vg__rule_node_t **out)
{
    s_tok_t at = p->cur;
    if (at.kind == K_RBRACE || at.kind == K_EOF) s_expected(p, "a condition after 'when ='");
    p->depth = 0;
    vg__rule_node_t *n = s_expr(p);
    if (n->type != VG__T_BOOL && n->type != VG__T_NUL)
        s_fail(p, VG_ERR_INVALID, at.line, at.col, "'when' must be a condition, got %s",
               s_tname(n->type));
    *out = n;
    m->when_src = vg_arena_strndup(p->arena, at.start, (size_t) (p->prev_end - at.start));
}

static void s_field_value(s_parser_t *p, int field, vg_rule_meta_t *m, vg__rule_node_t **when,
                          bool *weight_set)
{
    static const char *const sev[] = {"low", "medium", "high", "critical"};
    static const char *const act[] = {"flag", "review", "block"};
    static const char *const bools[] = {"false", "true"};
    static const char *const modes[] = {"active", "shadow"};
    switch (field) {
    case F_NAME:
    case F_DESCRIPTION:
        if (p->cur.kind != K_STR) s_expected(p, "a string");
        *(field == F_NAME ? &m->name : &m->description) = p->cur.str.ptr;
        s_next(p);
        break;
    case F_SEVERITY:
        m->severity =
            (vg_severity) s_choice(p, sev, 4, "a severity (low, medium, high or critical)");
        break;
    case F_ACTION:
        m->action = (vg_rule_action) s_choice(p, act, 3, "an action (flag, review or block)");
        break;
    case F_WEIGHT: {
        s_tok_t at = p->cur;
        double sign = 1;
        if (p->cur.kind == K_MINUS) {
            sign = -1;
            s_next(p);
        }
        if (p->cur.kind != K_NUM) s_expected(p, "a number between 0 and 1");
        double w = sign * p->cur.num;
        if (!(w >= 0 && w <= 1))
            s_fail(p, VG_ERR_INVALID, at.line, at.col, "weight must be between 0 and 1, got %g", w);
        m->weight = w;
        *weight_set = true;
        s_next(p);
        break;
    }
    case F_ENABLED: m->enabled = s_choice(p, bools, 2, "true or false"); break;
    case F_MODE: m->shadow = s_choice(p, modes, 2, "a mode (active or shadow)"); break;
    default: s_when(p, m, when); break;
    }
}

static _Noreturn void s_bad_field(s_parser_t *p, bool after_when)
{
    char d[80];
    const s_tok_t *t = &p->cur;
    if (t->kind != K_IDENT)
        s_fail(p, VG_ERR_PARSE, t->line, t->col, "expected a rule field (%s) or '}', got %s",
               "name, description, severity, action, weight, enabled, mode, when",
               s_desc(t, d, sizeof d));
    const char *sug = vg__rule_suggest(t->str, s_rfields, VG_ARRAY_LEN(s_rfields));
    s_fail(p, VG_ERR_PARSE, t->line, t->col, "unknown rule field '%.*s'%s%s%s%s",
           (int) VG_MIN(t->str.len, 64u), t->str.ptr, sug ? " (did you mean '" : "", sug ? sug : "",
           sug ? "'?)" : "",
           after_when ? "; if it belongs to the 'when' condition, an operator such as 'and' is "
                        "missing before it"
                      : "");
}

static const double s_default_weight[] = {0.3, 0.5, 0.8, 0.95};

static void s_rule(s_parser_t *p)
{
    s_tok_t kw = p->cur;
    vg__rule_file_t *f = p->out;
    s_next(p);
    if (p->cur.kind != K_IDENT) s_expected(p, "a rule id ([A-Za-z_][A-Za-z0-9_]*)");
    s_tok_t id = p->cur;
    if (id.str.len > VG_RULES_MAX_ID)
        s_fail(p, VG_ERR_INVALID, id.line, id.col, "rule id longer than %d bytes", VG_RULES_MAX_ID);
    uintptr_t prev = (uintptr_t) vg_strmap_get(&p->ids, id.str);
    if (prev)
        s_fail(p, VG_ERR_INVALID, id.line, id.col,
               "duplicate rule id '%.*s' (first defined at line %d)", (int) id.str.len, id.str.ptr,
               f->rules[prev - 1].meta.line);
    if (f->n_rules >= VG_RULES_MAX_RULES)
        s_fail(p, VG_ERR_LIMIT, kw.line, kw.col, "too many rules (the limit is %d)",
               VG_RULES_MAX_RULES);
    s_next(p);
    s_tok_t open = p->cur;
    s_expect(p, K_LBRACE, "'{' after the rule id");
    vg__rule_ast_t r = {0};
    vg_rule_meta_t *m = &r.meta;
    m->id = s_strdup(p, id.str);
    m->description = "";
    m->severity = VG_SEV_MEDIUM;
    m->action = VG_RULE_FLAG;
    m->enabled = true;
    m->line = kw.line;
    int seen_line[VG_ARRAY_LEN(s_rfields)] = {0};
    bool weight_set = false, after_when = false;
    while (p->cur.kind != K_RBRACE) {
        if (p->cur.kind == K_EOF) {
            char what[96];
            snprintf(what, sizeof what, "'}' to close rule '%s' (opened at %d:%d)", m->id,
                     open.line, open.col);
            s_expected(p, what);
        }
        int field = -1;
        for (size_t i = 0; p->cur.kind == K_IDENT && i < VG_ARRAY_LEN(s_rfields); i++)
            if (s_kw(&p->cur, s_rfields[i])) field = (int) i;
        if (field < 0) s_bad_field(p, after_when);
        if (seen_line[field])
            s_fail(p, VG_ERR_INVALID, p->cur.line, p->cur.col,
                   "duplicate field '%s' (already set at line %d)", s_rfields[field],
                   seen_line[field]);
        seen_line[field] = p->cur.line;
        s_next(p);
        char what[48];
        snprintf(what, sizeof what, "'=' after '%s'", s_rfields[field]);
        s_expect(p, K_ASSIGN, what);
        s_field_value(p, field, m, &r.when, &weight_set);
        after_when = field == F_WHEN;
        if (p->cur.kind == K_SEMI) s_next(p);
    }
    if (!r.when)
        s_fail(p, VG_ERR_INVALID, p->cur.line, p->cur.col, "rule '%s' has no 'when' (required)",
               m->id);
    s_next(p);
    if (!m->name) m->name = m->id;
    if (!weight_set) m->weight = s_default_weight[m->severity];
    f->rules = s_grow(p, f->rules, f->n_rules, &p->cap_rules, sizeof *f->rules);
    f->rules[f->n_rules++] = r;
    vg_strmap_put(&p->ids, (vg_str_t){m->id, id.str.len}, (void *) (uintptr_t) f->n_rules);
}

static void s_list(s_parser_t *p)
{
    vg__rule_file_t *f = p->out;
    s_next(p);
    s_tok_t at = p->cur;
    if (at.kind != K_IDENT && at.kind != K_STR) s_expected(p, "a list name");
    if (!vg__rule_list_name_ok(at.str.ptr, at.str.len))
        s_fail(p, VG_ERR_INVALID, at.line, at.col,
               "invalid list name (1 to %d characters of A-Z a-z 0-9 _ . -)", VG_RULES_MAX_ID);
    if (vg_strmap_get(&p->lists, at.str))
        s_fail(p, VG_ERR_INVALID, at.line, at.col, "duplicate list '%.*s'", (int) at.str.len,
               at.str.ptr);
    s_next(p);
    s_expect(p, K_LBRACE, "'{' after the list name");
    vg__rule_list_ast_t l = {
        .name = {s_strdup(p, at.str), at.str.len}, .line = at.line, .col = at.col};
    size_t cap = 0;
    while (p->cur.kind != K_RBRACE) {
        if (p->cur.kind != K_STR) s_expected(p, "a string value or '}'");
        if (l.n >= VG_RULES_MAX_LIST)
            s_fail(p, VG_ERR_LIMIT, p->cur.line, p->cur.col, "more than %d values in a list",
                   VG_RULES_MAX_LIST);
        l.values = s_grow(p, l.values, l.n, &cap, sizeof *l.values);
        l.values[l.n++] = p->cur.str;
        s_next(p);
        if (p->cur.kind == K_COMMA)
            s_next(p);
        else if (p->cur.kind != K_RBRACE)
            s_expected(p, "',' or '}' in the list");
    }
    s_next(p);
    f->lists = s_grow(p, f->lists, f->n_lists, &p->cap_lists, sizeof *f->lists);
    f->lists[f->n_lists++] = l;
    vg_strmap_put(&p->lists, l.name, (void *) (uintptr_t) f->n_lists);
}

static void s_file(s_parser_t *p)
{
    s_lex(p, &p->nxt);
    s_next(p);
    while (p->cur.kind != K_EOF) {
        if (s_kw(&p->cur, "rule"))
            s_rule(p);
        else if (s_kw(&p->cur, "list"))
            s_list(p);
        else
            s_expected(p, "'rule' or 'list'");
    }
}

int vg__rule_parse(const char *src, size_t len, vg__rule_file_t *out, vg_rules_err_t *err)
{
    memset(out, 0, sizeof *out);
    s_parser_t *p = VG_NEW(s_parser_t); /* volatile-free: nothing local changes after setjmp */
    p->src = p->p = src;
    p->end = src + len;
    p->line = p->col = 1;
    p->out = out;
    p->arena = &out->arena;
    p->err = err;
    vg_strmap_init(&p->ids, 64);
    vg_strmap_init(&p->lists, 16);
    int rc = 0;
    if (setjmp(p->jmp) == 0)
        s_file(p);
    else
        rc = err->code ? err->code : VG_ERR_PARSE;
    vg_strmap_fini(&p->ids);
    vg_strmap_fini(&p->lists);
    free(p);
    return rc;
}

void vg__rule_file_fini(vg__rule_file_t *f)
{
    vg_arena_fini(&f->arena);
    memset(f, 0, sizeof *f);
}
