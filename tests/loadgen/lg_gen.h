/* lg_gen.h: vigil-loadgen's synthetic, labelled transaction generator. No
 * I/O: a population of users with their own habits (home city, amounts,
 * merchants, devices, channels, activity and diurnal profile) emits a
 * time-ordered stream on a simulated clock, with injected anomalies that
 * carry their kind as the label. Deterministic given the options. */
#ifndef LG_GEN_H
#define LG_GEN_H

#include "vg_jw.h"

#include <stdbool.h>
#include <stdint.h>

/* Label kinds. The first LG_KIND_FIRST_ANOMALY kinds are legitimate
 * traffic (routine and the legitimate novelties that are not fraud); the
 * rest are injected anomalies. */
#define LG_KIND_LIST(X)                       \
    X(ROUTINE, "routine")                     \
    X(NEW_MERCHANT, "new_merchant")           \
    X(BIG_PURCHASE, "big_purchase")           \
    X(TRIP, "trip")                           \
    X(NEW_DEVICE, "new_device")               \
    X(AMOUNT_SPIKE, "amount_spike")           \
    X(VELOCITY, "velocity")                   \
    X(IMPOSSIBLE_TRAVEL, "impossible_travel") \
    X(ACCOUNT_TAKEOVER, "account_takeover")   \
    X(NEW_DEVICE_HIGH, "new_device_high")

typedef enum {
#define LG__KIND_ENUM(name, text) LG_KIND_##name,
    LG_KIND_LIST(LG__KIND_ENUM)
#undef LG__KIND_ENUM
        LG_KIND_COUNT
} lg_kind;

#define LG_KIND_FIRST_ANOMALY LG_KIND_AMOUNT_SPIKE
#define LG_ANOMALY_KINDS      (LG_KIND_COUNT - LG_KIND_FIRST_ANOMALY)

/* "routine", "amount_spike", ...; "?" when out of range. */
const char *lg_kind_name(int kind);
/* Kind by name; returns the kind or -1. */
int lg_kind_parse(const char *name, size_t len);
static inline bool lg_kind_is_anomaly(int kind)
{
    return kind >= LG_KIND_FIRST_ANOMALY && kind < LG_KIND_COUNT;
}

typedef struct {
    uint64_t seed;
    uint32_t users;       /* population size (>= 1) */
    uint32_t part, parts; /* emit only users with index % parts == part; parts 0 = 1 */
    double anomaly_rate;  /* expected share of anomalous transactions, 0..0.5 */
    /* Relative weights of anomaly episodes per kind, indexed by
     * kind - LG_KIND_FIRST_ANOMALY; all zero = the defaults. */
    double mix[LG_ANOMALY_KINDS];
    int64_t start_ms; /* simulated clock start, ms since the epoch */
    const char *tag;  /* id tag, 1..40 of [A-Za-z0-9._]: users "u<tag>-<n>",
                         transactions "t<tag>-<n>-<seq>" (<= 64 bytes) */
} lg_gen_opts_t;

/* One generated transaction with its label. Strings are NUL-terminated;
 * an empty device_id / ip means "absent". */
typedef struct {
    char id[72];
    char user_id[56];
    int64_t amount_minor; /* amount in minor units (10^-decimals) */
    uint8_t decimals;     /* 2, or 0 for currencies without minor units */
    double amount;
    int64_t ts_ms; /* event time (simulated clock) */
    char currency[4];
    char country[3];
    char merchant_id[16];
    const char *category;   /* static */
    const char *channel;    /* static: "pos", "ecom", "app", "atm" */
    const char *entry_mode; /* static, the "entry_mode" attribute */
    uint16_t mcc;           /* the "mcc" attribute */
    char device_id[20];
    char ip[16];
    double lat, lon; /* rounded to 4 decimals */
    uint8_t kind;    /* lg_kind */
    bool anomaly;    /* lg_kind_is_anomaly(kind) */
    uint32_t user;   /* user index */
    uint32_t seq;    /* the user's transaction number, from 0 */
} lg_tx_t;

typedef struct lg_gen lg_gen_t;

/* Validates opts (VG_ERR_INVALID with a message in err, errlen bytes, when
 * a value is out of range) and builds the population. *out is owned by the
 * caller. Generators with the same options but different part/parts emit
 * disjoint sets of users whose transactions are identical, so the merge by
 * (ts_ms, user) of all parts equals the stream of parts = 1. */
int lg_gen_new(const lg_gen_opts_t *opts, lg_gen_t **out, char *err, size_t errlen);
void lg_gen_destroy(lg_gen_t **self_p);

/* Emits the next transaction in (ts_ms, user) order. Never runs dry. */
void lg_gen_next(lg_gen_t *g, lg_tx_t *tx);
/* Event time of the transaction lg_gen_next would emit. */
int64_t lg_gen_peek_ts(const lg_gen_t *g);
/* Expected transactions per second (simulated time) of this generator's
 * users, anomalies included. */
double lg_gen_rate(const lg_gen_t *g);
/* The median amount of a user's habits (home currency units). */
double lg_gen_user_median(const lg_gen_t *g, uint32_t user);

/* Appends tx as one JSON object (the transaction schema of README.md). */
void lg_tx_to_json(const lg_tx_t *tx, vg_jw_t *w);

/* Great-circle distance in km. */
double lg_geo_km(double lat1, double lon1, double lat2, double lon2);

#endif
