/* vg_rules_internal.h: what the rule compiler (vg_rules_parse.c,
 * vg_rules.c), the rule VM (vg_rules_vm.c) and the lists
 * (vg_rules_lists.c) share: names as data, the value and instruction
 * formats, the compiled ruleset layout, string sets and the syntax tree.
 *
 * Bytecode: each rule is a run of 8-byte instructions for a stack machine
 * over 16-byte tagged values (null, bool, number, string). Operands live
 * in the instruction (`a` small flags, `c` an index into the constant
 * pool, the sets, the lists or a jump target within the rule). */
#ifndef VG_RULES_INTERNAL_H
#define VG_RULES_INTERNAL_H

#include "vg_arena.h"
#include "vg_rules.h"
#include "vg_str.h"
#include "vg_strmap.h"

#include <stdatomic.h>
#include <stdbool.h>
#include <stdint.h>

/* Transaction fields usable in rules: X(name, type). */
#define VG__RULE_FIELD_LIST(X) \
    X(id, STR)                 \
    X(user_id, STR)            \
    X(amount, NUM)             \
    X(currency, STR)           \
    X(country, STR)            \
    X(merchant_id, STR)        \
    X(merchant_category, STR)  \
    X(channel, STR)            \
    X(device_id, STR)          \
    X(ip, STR)                 \
    X(lat, NUM)                \
    X(lon, NUM)                \
    X(timestamp, NUM)          \
    X(hour, NUM)

enum {
#define VG__RF_ENUM(name, type) VG__RF_##name,
    VG__RULE_FIELD_LIST(VG__RF_ENUM)
#undef VG__RF_ENUM
        VG__RF_COUNT
};

/* Static types. DYN: an attribute, number or string at run time. NUL:
 * the literal null, acceptable wherever a value is. */
typedef enum { VG__T_BOOL = 1, VG__T_NUM, VG__T_STR, VG__T_DYN, VG__T_NUL } vg__rule_type;

/* Functions: X(name, n_args, result, arg0, arg1). A result of DYN means
 * "the type of the arguments" (coalesce). */
#define VG__RULE_FUNC_LIST(X)         \
    X(lower, 1, STR, STR, STR)        \
    X(upper, 1, STR, STR, STR)        \
    X(len, 1, NUM, STR, STR)          \
    X(starts_with, 2, BOOL, STR, STR) \
    X(ends_with, 2, BOOL, STR, STR)   \
    X(contains, 2, BOOL, STR, STR)    \
    X(abs, 1, NUM, NUM, NUM)          \
    X(min, 2, NUM, NUM, NUM)          \
    X(max, 2, NUM, NUM, NUM)          \
    X(coalesce, 2, DYN, DYN, DYN)

enum {
#define VG__FN_ENUM(name, n, r, a0, a1) VG__FN_##name,
    VG__RULE_FUNC_LIST(VG__FN_ENUM)
#undef VG__FN_ENUM
        VG__FN_COUNT
};

/* ---- values and instructions --------------------------------------------- */

typedef enum { VG__V_NULL = 0, VG__V_BOOL, VG__V_NUM, VG__V_STR } vg__rule_tag;

typedef struct {
    uint8_t tag;  /* vg__rule_tag */
    uint8_t b;    /* VG__V_BOOL */
    uint32_t len; /* VG__V_STR */
    union {
        double n;
        const char *s;
    };
} vg__rule_val_t;

typedef enum {
    VG__OP_CONST, /* push pool[c] */
    VG__OP_NULL,  /* push null */
    VG__OP_FIELD, /* push transaction field c */
    VG__OP_FEAT,  /* push feature c (NaN: null) */
    VG__OP_ATTR,  /* push attribute named pool[c] (missing: null) */
    VG__OP_NEG,   /* arithmetic: null in, null out; NaN out is null */
    VG__OP_ADD,
    VG__OP_SUB,
    VG__OP_MUL,
    VG__OP_DIV, /* by zero: error */
    VG__OP_MOD, /* by zero: error */
    VG__OP_EQ,  /* comparisons: null if either side is null */
    VG__OP_NE,
    VG__OP_LT,
    VG__OP_LE,
    VG__OP_GT,
    VG__OP_GE,
    VG__OP_NOT, /* Kleene */
    VG__OP_AND, /* Kleene, pops two */
    VG__OP_OR,
    VG__OP_JF,      /* top is false: jump to c (keeping it) */
    VG__OP_JT,      /* top is true: jump to c (keeping it) */
    VG__OP_ISNULL,  /* a: negate ("is not null") */
    VG__OP_INSET,   /* x in sets[c]; a: negate */
    VG__OP_INLIST,  /* x in lists[c]; a: negate */
    VG__OP_INBEGIN, /* [x] -> [x, false] */
    VG__OP_INSTEP,  /* [x, acc, item] -> [x, acc'] */
    VG__OP_INEND,   /* [x, acc] -> [acc]; a: negate */
    VG__OP_BETWEEN, /* [x, lo, hi] -> [lo <= x <= hi]; a: negate */
    VG__OP_CALL,    /* function a */
    VG__OP_COUNT
} vg__rule_op;

typedef struct {
    uint8_t op;
    uint8_t a;
    uint16_t pad_;
    uint32_t c;
} vg__rule_ins_t;

/* ---- string sets (named lists, large `in (...)`) ------------------------ */

/* An immutable, reference-counted string set. */
typedef struct vg__strset vg__strset_t;

vg__strset_t *vg__strset_new(const char *name, size_t expected);
/* Copies the value in; only while building (refs == 1, not shared). */
void vg__strset_add(vg__strset_t *s, const char *ptr, size_t len);
bool vg__strset_has(const vg__strset_t *s, const char *ptr, uint32_t len);
size_t vg__strset_len(const vg__strset_t *s);
vg__strset_t *vg__strset_ref(vg__strset_t *s);
void vg__strset_unref(vg__strset_t **s_p);
/* The set of list `name` in lists (NULL if none), borrowed. */
vg__strset_t *vg__rule_lists_get(const vg_rule_lists_t *lists, vg_str_t name);
/* Up to cap list names (for suggestions); returns how many were written. */
size_t vg__rule_lists_names(const vg_rule_lists_t *lists, const char **names, size_t cap);
/* True when name is a valid list name. */
bool vg__rule_list_name_ok(const char *name, size_t len);

/* A constant set for `x in (...)`: sorted numbers or strings. */
#define VG__SET_LINEAR 8 /* up to this many: a linear scan beats hashing */
typedef struct {
    uint8_t tag;   /* VG__V_NUM or VG__V_STR */
    bool has_null; /* a null among the items: "not found" is null */
    uint32_t n;
    const double *nums;   /* ascending */
    const vg_str_t *strs; /* when n <= VG__SET_LINEAR */
    vg__strset_t *hash;   /* strings, when n > VG__SET_LINEAR */
} vg__rule_cset_t;

/* ---- the compiled ruleset ------------------------------------------------ */

/* A rule's program, with what the evaluation loop needs next to it. */
typedef struct {
    uint32_t start, len; /* into code */
    uint16_t max_stack;
    uint8_t enabled, shadow;
} vg__rule_prog_t;

/* The only part of a ruleset written after compilation. */
typedef struct {
    _Atomic uint64_t hits;
    _Atomic uint64_t errors;
} vg__rule_stats_t;

#define VG__VM_STACK   256  /* values; compile enforces max_stack <= this */
#define VG__VM_SCRATCH 4096 /* bytes for lower()/upper() results per rule */

struct vg_ruleset {
    vg_arena_t arena; /* strings, meta, pools */
    size_t n_rules;
    vg_rule_meta_t *meta;
    vg__rule_prog_t *prog;
    vg__rule_stats_t *stats;
    vg__rule_ins_t *code;
    size_t n_code, cap_code;
    vg__rule_val_t *pool;
    size_t n_pool, cap_pool;
    vg__rule_cset_t *sets;
    size_t n_sets, cap_sets;
    vg__strset_t **lists; /* one reference each */
    size_t n_lists, cap_lists;
    vg_strmap_t ids; /* rule id -> index + 1 */
};

/* Runs rule i's program; *why gets the static reason on error. */
vg_rule_result vg__rule_run(const vg_ruleset_t *rs, size_t i, const vg_tx_t *tx,
                            const vg_features_t *f, const char **why);

/* ---- syntax tree (parser -> code generator) ---------------------------- */

typedef enum {
    VG__N_CONST,   /* literal: val */
    VG__N_FIELD,   /* ref = field */
    VG__N_FEAT,    /* ref = feature */
    VG__N_ATTR,    /* str = key */
    VG__N_UNARY,   /* op NEG or NOT; kid[0] */
    VG__N_BINARY,  /* op arithmetic or comparison; kid[0], kid[1] */
    VG__N_LOGIC,   /* op AND or OR over items (n-ary) */
    VG__N_IN,      /* kid[0] in items; neg */
    VG__N_INLIST,  /* kid[0] in list str; neg */
    VG__N_BETWEEN, /* kid[0] between kid[1] and kid[2]; neg */
    VG__N_ISNULL,  /* kid[0] is [not] null; neg */
    VG__N_CALL,    /* function ref over items */
} vg__rule_nkind;

typedef struct vg__rule_node vg__rule_node_t;
struct vg__rule_node {
    uint8_t kind;    /* vg__rule_nkind */
    uint8_t op;      /* vg__rule_op */
    uint8_t type;    /* vg__rule_type */
    bool neg;        /* not in / not between / is not null */
    uint16_t height; /* of the tree below, leaves are 1 */
    int line, col;   /* where the node's operator or name is */
    int ref;
    vg__rule_val_t val; /* VG__N_CONST; strings live in the parse arena */
    vg_str_t str;
    vg__rule_node_t *kid[3];
    vg__rule_node_t **items;
    uint32_t n_items;
};

/* One rule as parsed. Strings live in the parse arena. */
typedef struct {
    vg_rule_meta_t meta;
    vg__rule_node_t *when;
} vg__rule_ast_t;

/* One `list NAME { ... }` of the file. */
typedef struct {
    vg_str_t name;
    int line, col;
    vg_str_t *values;
    uint32_t n;
} vg__rule_list_ast_t;

typedef struct {
    vg_arena_t arena;
    vg__rule_ast_t *rules;
    size_t n_rules;
    vg__rule_list_ast_t *lists;
    size_t n_lists;
} vg__rule_file_t;

/* Parses and type-checks a rule set file into out (whose arena the caller
 * finalises with vg__rule_file_fini, also on failure). Returns 0 or the
 * code of the first error (err filled; err->file already set). */
int vg__rule_parse(const char *src, size_t len, vg__rule_file_t *out, vg_rules_err_t *err);
void vg__rule_file_fini(vg__rule_file_t *f);

/* Records an error (the first one only) and returns code. */
int vg__rule_err(vg_rules_err_t *err, int code, int line, int col, const char *fmt, ...)
    __attribute__((format(printf, 5, 6)));

/* The closest of n names to `word` within a small edit distance, or NULL. */
const char *vg__rule_suggest(vg_str_t word, const char *const *names, size_t n);

#endif
