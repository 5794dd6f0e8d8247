/* lg_gen.c: the synthetic population behind vigil-loadgen. Each user owns
 * a private random stream (seeded from seed and the user's index), so a
 * user's transactions do not depend on how users are split between
 * generators; a binary heap merges the users by next event time. */
#include "lg_gen.h"

#include "vg_err.h"
#include "vg_mem.h"
#include "vg_tx.h"

#include <math.h>
#include <stdio.h>
#include <string.h>

/* ---- static world: currencies, cities, merchant categories ------------- */

typedef struct {
    const char *code;
    double per_usd; /* units per US dollar, rough */
    uint8_t decimals;
} s_currency_t;

static const s_currency_t s_currencies[] = {
    {"USD", 1, 2},    {"CAD", 1.35, 2}, {"MXN", 17, 2},   {"BRL", 5, 2},   {"ARS", 900, 2},
    {"GBP", 0.8, 2},  {"EUR", 0.92, 2}, {"CHF", 0.9, 2},  {"PLN", 4, 2},   {"SEK", 10.5, 2},
    {"CZK", 23, 2},   {"TRY", 32, 2},   {"AED", 3.67, 2}, {"INR", 83, 2},  {"SGD", 1.35, 2},
    {"HKD", 7.8, 2},  {"JPY", 150, 0},  {"KRW", 1350, 0}, {"AUD", 1.5, 2}, {"ZAR", 18.5, 2},
    {"NGN", 1500, 2}, {"EGP", 48, 2},
};

typedef struct {
    const char *name;
    const char *cc;
    double lat, lon;
    int tz_min; /* standard-time UTC offset (no DST) */
    const char *currency;
    int weight; /* share of home cities */
} s_city_t;

static const s_city_t s_cities[] = {
    {"New York", "US", 40.7128, -74.0060, -300, "USD", 8},
    {"Chicago", "US", 41.8781, -87.6298, -360, "USD", 5},
    {"Los Angeles", "US", 34.0522, -118.2437, -480, "USD", 6},
    {"San Francisco", "US", 37.7749, -122.4194, -480, "USD", 3},
    {"Toronto", "CA", 43.6532, -79.3832, -300, "CAD", 4},
    {"Mexico City", "MX", 19.4326, -99.1332, -360, "MXN", 3},
    {"Sao Paulo", "BR", -23.5505, -46.6333, -180, "BRL", 3},
    {"Buenos Aires", "AR", -34.6037, -58.3816, -180, "ARS", 2},
    {"London", "GB", 51.5074, -0.1278, 0, "GBP", 7},
    {"Dublin", "IE", 53.3498, -6.2603, 0, "EUR", 2},
    {"Paris", "FR", 48.8566, 2.3522, 60, "EUR", 6},
    {"Berlin", "DE", 52.5200, 13.4050, 60, "EUR", 5},
    {"Munich", "DE", 48.1351, 11.5820, 60, "EUR", 3},
    {"Amsterdam", "NL", 52.3676, 4.9041, 60, "EUR", 3},
    {"Madrid", "ES", 40.4168, -3.7038, 60, "EUR", 4},
    {"Rome", "IT", 41.9028, 12.4964, 60, "EUR", 4},
    {"Vienna", "AT", 48.2082, 16.3738, 60, "EUR", 2},
    {"Zurich", "CH", 47.3769, 8.5417, 60, "CHF", 2},
    {"Warsaw", "PL", 52.2297, 21.0122, 60, "PLN", 3},
    {"Stockholm", "SE", 59.3293, 18.0686, 60, "SEK", 2},
    {"Prague", "CZ", 50.0755, 14.4378, 60, "CZK", 2},
    {"Istanbul", "TR", 41.0082, 28.9784, 180, "TRY", 3},
    {"Dubai", "AE", 25.2048, 55.2708, 240, "AED", 2},
    {"Mumbai", "IN", 19.0760, 72.8777, 330, "INR", 3},
    {"Singapore", "SG", 1.3521, 103.8198, 480, "SGD", 2},
    {"Hong Kong", "HK", 22.3193, 114.1694, 480, "HKD", 2},
    {"Tokyo", "JP", 35.6762, 139.6503, 540, "JPY", 4},
    {"Seoul", "KR", 37.5665, 126.9780, 540, "KRW", 3},
    {"Sydney", "AU", -33.8688, 151.2093, 600, "AUD", 3},
    {"Johannesburg", "ZA", -26.2041, 28.0473, 120, "ZAR", 2},
    {"Lagos", "NG", 6.5244, 3.3792, 60, "NGN", 2},
    {"Cairo", "EG", 30.0444, 31.2357, 120, "EGP", 2},
};
#define S_NCITY ((int) VG_ARRAY_LEN(s_cities))

enum { S_LOCAL, S_ONLINE, S_ATM };

typedef struct {
    const char *name;
    uint16_t mcc;
    float mult; /* typical amount relative to the user's median */
    uint8_t where;
    uint8_t weight;
} s_cat_t;

static const s_cat_t s_cats[] = {
    {"grocery", 5411, 0.8f, S_LOCAL, 30},
    {"restaurant", 5812, 0.8f, S_LOCAL, 22},
    {"fuel", 5541, 1.2f, S_LOCAL, 10},
    {"pharmacy", 5912, 0.6f, S_LOCAL, 8},
    {"clothing", 5651, 1.4f, S_LOCAL, 8},
    {"electronics", 5732, 1.8f, S_LOCAL, 4},
    {"transport", 4121, 0.5f, S_LOCAL, 10},
    {"entertainment", 7832, 0.9f, S_LOCAL, 5},
    {"hotel", 7011, 2.0f, S_LOCAL, 3},
    {"digital_goods", 5816, 0.5f, S_ONLINE, 20},
    {"subscription", 4899, 0.5f, S_ONLINE, 15},
    {"marketplace", 5399, 1.2f, S_ONLINE, 35},
    {"travel", 4722, 2.0f, S_ONLINE, 10},
    {"food_delivery", 5814, 0.8f, S_ONLINE, 20},
    {"cash", 6011, 1.5f, S_ATM, 1},
};
#define S_CAT_CASH ((uint8_t) (VG_ARRAY_LEN(s_cats) - 1))

/* Diurnal profiles: relative activity per local hour. */
static const float s_profiles[][24] = {
    /* daytime */
    {.10f, .05f, .03f, .02f, .02f, .05f, .2f, .5f, .8f, 1,   1,   1,
     1,    1,    .9f,  .9f,  1,    1,    1,   .9f, .8f, .6f, .4f, .2f},
    /* evening */
    {.15f, .08f, .04f, .02f, .02f, .03f, .08f, .2f, .3f, .4f, .5f, .6f,
     .7f,  .6f,  .5f,  .5f,  .6f,  .8f,  1,    1,   1,   .9f, .7f, .4f},
    /* early bird */
    {.03f, .02f, .02f, .03f, .1f, .4f, .9f, 1,   1,   1,   .9f, .8f,
     .8f,  .7f,  .6f,  .6f,  .6f, .6f, .5f, .4f, .3f, .2f, .1f, .05f},
    /* office hours */
    {.03f, .02f, .02f, .02f, .02f, .03f, .1f, .4f, .9f, 1,    1,   1,
     1,    1,    1,    1,    1,    .9f,  .5f, .3f, .2f, .15f, .1f, .05f},
    /* night owl */
    {.9f, .8f, .6f, .4f, .2f, .1f, .05f, .05f, .1f, .2f, .3f, .4f,
     .5f, .5f, .5f, .5f, .6f, .7f, .8f,  .9f,  1,   1,   1,   1},
};
#define S_NPROFILE ((int) VG_ARRAY_LEN(s_profiles))
static const int s_profile_weight[S_NPROFILE] = {35, 25, 15, 15, 10};

#define S_LOCAL_PER_CITY   250
#define S_ONLINE_MERCHANTS 400
#define S_ATM_PER_CITY     16
#define S_MAX_LOCAL        7
#define S_MAX_ONLINE       4
#define S_NONE             0xff
#define S_MIN              60000LL
#define S_HOUR             3600000LL
#define S_DAY              86400000LL

enum { S_CH_POS, S_CH_ECOM, S_CH_APP, S_CH_ATM };
static const char *const s_channels[] = {"pos", "ecom", "app", "atm"};

/* Default anomaly episode weights (relative), per anomaly kind. */
static const double s_default_mix[LG_ANOMALY_KINDS] = {3, 1, 3, 2, 3};

static const char *const s_kind_names[] = {
#define LG__KIND_NAME(name, text) text,
    LG_KIND_LIST(LG__KIND_NAME)
#undef LG__KIND_NAME
};

/* ---- per-user state ---------------------------------------------------- */

typedef struct {
    uint64_t rng;
    int64_t next_ts, last_ts, trip_end;
    float median, sigma, rate_day;
    float ch_cum[4];
    uint32_t idx, seq;
    uint32_t dev[2], ip_host, trip_ip, ep_dev, ep_ip;
    uint16_t local_m[S_MAX_LOCAL], online_m[S_MAX_ONLINE], atm_m, ep_merchant;
    uint8_t n_local, n_online, n_dev, home, trip_city, profile;
    uint8_t ep_kind, ep_left, ep_city;
    uint8_t last_city; /* where the previous transaction happened */
} s_user_t;

typedef struct {
    int64_t ts;
    uint32_t slot;
} s_heap_t;

struct lg_gen {
    lg_gen_opts_t opts;
    double q; /* probability that the next event starts an anomaly episode */
    double mix_cum[LG_ANOMALY_KINDS];
    uint32_t n; /* users in this part */
    s_user_t *users;
    s_heap_t *heap;
    double rate; /* expected tx/s */
    char uprefix[48], tprefix[48];
    size_t uprefix_len, tprefix_len;
    /* derived world tables */
    uint8_t city_cur[S_NCITY], city_country[S_NCITY];
    uint8_t near[S_NCITY][S_NCITY], n_near[S_NCITY]; /* trip destinations */
    uint8_t far[S_NCITY][S_NCITY], n_far[S_NCITY];   /* >= 2500 km away */
    int city_weight_sum;
    float profile_max[S_NPROFILE];
    uint8_t local_cat[S_NCITY][S_LOCAL_PER_CITY];
    uint8_t online_cat[S_ONLINE_MERCHANTS];
    uint16_t digital[S_ONLINE_MERCHANTS], n_digital; /* card-testing targets */
    uint16_t pricey[S_ONLINE_MERCHANTS], n_pricey;   /* takeover targets */
};

/* ---- random numbers (splitmix64 per user) ------------------------------ */

static inline uint64_t s_mix(uint64_t z)
{
    z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ull;
    z = (z ^ (z >> 27)) * 0x94d049bb133111ebull;
    return z ^ (z >> 31);
}

static inline uint64_t s_u64(uint64_t *st)
{
    *st += 0x9e3779b97f4a7c15ull;
    return s_mix(*st);
}

static inline double s_unif(uint64_t *st) /* [0, 1) */
{
    return (double) (s_u64(st) >> 11) * 0x1.0p-53;
}

static inline uint32_t s_below(uint64_t *st, uint32_t n) /* [0, n) */
{
    return (uint32_t) (((s_u64(st) >> 32) * n) >> 32);
}

static inline double s_range(uint64_t *st, double lo, double hi)
{
    return lo + (hi - lo) * s_unif(st);
}

static double s_normal(uint64_t *st)
{
    double u1 = 1.0 - s_unif(st), u2 = s_unif(st);
    return sqrt(-2.0 * log(u1)) * cos(6.283185307179586 * u2);
}

static double s_logunif(uint64_t *st, double lo, double hi)
{
    return exp(s_range(st, log(lo), log(hi)));
}

/* ---- small helpers ----------------------------------------------------- */

const char *lg_kind_name(int kind)
{
    return kind >= 0 && kind < LG_KIND_COUNT ? s_kind_names[kind] : "?";
}

int lg_kind_parse(const char *name, size_t len)
{
    for (int k = 0; k < LG_KIND_COUNT; k++)
        if (strlen(s_kind_names[k]) == len && memcmp(s_kind_names[k], name, len) == 0) return k;
    return -1;
}

double lg_geo_km(double lat1, double lon1, double lat2, double lon2)
{
    const double rad = 0.017453292519943295;
    double dlat = (lat2 - lat1) * rad, dlon = (lon2 - lon1) * rad;
    double a = sin(dlat / 2) * sin(dlat / 2) +
               cos(lat1 * rad) * cos(lat2 * rad) * sin(dlon / 2) * sin(dlon / 2);
    return 2 * 6371.0 * asin(sqrt(VG_MIN(1.0, a)));
}

static double s_city_km(int a, int b)
{
    return lg_geo_km(s_cities[a].lat, s_cities[a].lon, s_cities[b].lat, s_cities[b].lon);
}

/* Unsigned decimal into p; returns the number of digits. */
static size_t s_utoa(uint64_t v, char *p)
{
    char tmp[20];
    size_t n = 0;
    do tmp[n++] = (char) ('0' + v % 10), v /= 10;
    while (v);
    for (size_t i = 0; i < n; i++) p[i] = tmp[n - 1 - i];
    return n;
}

/* Fixed-point decimal (v / 10^decimals) into p, NUL-terminated; returns length. */
static size_t s_fixed(int64_t v, int decimals, char *p)
{
    size_t n = 0;
    if (v < 0) p[n++] = '-', v = -v;
    uint64_t scale = 1;
    for (int i = 0; i < decimals; i++) scale *= 10;
    n += s_utoa((uint64_t) v / scale, p + n);
    if (decimals) {
        p[n++] = '.';
        uint64_t frac = (uint64_t) v % scale;
        for (int i = decimals - 1; i >= 0; i--)
            p[n + (size_t) i] = (char) ('0' + frac % 10), frac /= 10;
        n += (size_t) decimals;
    }
    p[n] = 0;
    return n;
}

static void s_padded(char *p, uint32_t v, int width)
{
    for (int i = width - 1; i >= 0; i--) p[i] = (char) ('0' + v % 10), v /= 10;
}

static void s_hex8(char *p, uint32_t v)
{
    static const char hex[] = "0123456789abcdef";
    for (int i = 7; i >= 0; i--) p[i] = hex[v & 15], v >>= 4;
}

static int s_weighted(uint64_t *st, const int *w, int n, int sum)
{
    int r = (int) s_below(st, (uint32_t) sum);
    for (int i = 0; i < n; i++) {
        if (r < w[i]) return i;
        r -= w[i];
    }
    return n - 1;
}

/* Zipf-like pick of a position 0..n-1 (weights 1, 1/2, 1/3, ...). */
static int s_zipf(uint64_t *st, int n)
{
    static const double h[] = {0, 1, 1.5, 1.8333333, 2.0833333, 2.2833333, 2.45, 2.5928571};
    double r = s_unif(st) * h[n];
    for (int i = 0; i < n; i++) {
        r -= 1.0 / (i + 1);
        if (r < 0) return i;
    }
    return n - 1;
}

/* ---- world tables ------------------------------------------------------ */

static int s_currency_index(const char *code)
{
    for (int i = 0; i < (int) VG_ARRAY_LEN(s_currencies); i++)
        if (strcmp(s_currencies[i].code, code) == 0) return i;
    VG_ASSERT(!"unknown currency in the city table");
    return 0;
}

static uint8_t s_pick_cat(uint64_t *st, uint8_t where)
{
    int sum = 0;
    for (size_t i = 0; i < VG_ARRAY_LEN(s_cats); i++)
        if (s_cats[i].where == where) sum += s_cats[i].weight;
    int r = (int) s_below(st, (uint32_t) sum);
    for (size_t i = 0; i < VG_ARRAY_LEN(s_cats); i++) {
        if (s_cats[i].where != where) continue;
        if (r < s_cats[i].weight) return (uint8_t) i;
        r -= s_cats[i].weight;
    }
    return 0;
}

static void s_world_init(lg_gen_t *g)
{
    char countries[S_NCITY][3];
    int n_countries = 0;
    for (int c = 0; c < S_NCITY; c++) {
        g->city_cur[c] = (uint8_t) s_currency_index(s_cities[c].currency);
        int ci = 0;
        while (ci < n_countries && strcmp(countries[ci], s_cities[c].cc) != 0) ci++;
        if (ci == n_countries) memcpy(countries[n_countries++], s_cities[c].cc, 3);
        g->city_country[c] = (uint8_t) ci;
        g->city_weight_sum += s_cities[c].weight;
    }
    for (int c = 0; c < S_NCITY; c++) {
        int nearest = -1;
        for (int o = 0; o < S_NCITY; o++) {
            if (g->city_country[o] == g->city_country[c]) continue;
            double km = s_city_km(c, o);
            if (km <= 1500) g->near[c][g->n_near[c]++] = (uint8_t) o;
            if (km >= 2500) g->far[c][g->n_far[c]++] = (uint8_t) o;
            if (nearest < 0 || km < s_city_km(c, nearest)) nearest = o;
        }
        if (g->n_near[c] == 0) g->near[c][g->n_near[c]++] = (uint8_t) nearest;
        VG_ASSERT(g->n_far[c] > 0);
    }
    for (int p = 0; p < S_NPROFILE; p++) {
        float mx = 0;
        for (int h = 0; h < 24; h++) mx = VG_MAX(mx, s_profiles[p][h]);
        g->profile_max[p] = mx;
    }
    /* The merchant catalogue is part of the world: same for every seed. */
    uint64_t st = 0x5eed0fc47a1061ull;
    for (int c = 0; c < S_NCITY; c++)
        for (int m = 0; m < S_LOCAL_PER_CITY; m++) g->local_cat[c][m] = s_pick_cat(&st, S_LOCAL);
    for (int m = 0; m < S_ONLINE_MERCHANTS; m++) {
        uint8_t cat = s_pick_cat(&st, S_ONLINE);
        g->online_cat[m] = cat;
        if (strcmp(s_cats[cat].name, "digital_goods") == 0)
            g->digital[g->n_digital++] = (uint16_t) m;
        if (s_cats[cat].mult >= 1.2f) g->pricey[g->n_pricey++] = (uint16_t) m;
    }
    VG_ASSERT(g->n_digital > 0 && g->n_pricey > 0);
}

static double s_travel_ms(int a, int b)
{
    return (s_city_km(a, b) / 800.0 + 2.0) * (double) S_HOUR; /* flight + airports */
}

/* ---- habits ------------------------------------------------------------ */

static int s_local_hour(int64_t ts, int tz_min)
{
    int64_t h = (ts / 1000 + tz_min * 60) / 3600;
    return (int) (((h % 24) + 24) % 24);
}

/* Next routine event after t: a Poisson process at the user's daily rate,
 * shaped by the diurnal profile in local time (thinning). */
static int64_t s_next_normal(const lg_gen_t *g, s_user_t *u, int64_t t)
{
    const float *w = s_profiles[u->profile];
    float mx = g->profile_max[u->profile];
    double mean = 0;
    for (int h = 0; h < 24; h++) mean += w[h];
    mean /= 24;
    double lam_max = u->rate_day / (double) S_DAY * mx / mean; /* per ms */
    int city = u->trip_city != S_NONE ? u->trip_city : u->home;
    int tz = s_cities[city].tz_min;
    t += 30000; /* at least 30 s between a user's routine payments */
    for (int i = 0; i < 1000; i++) {
        t += (int64_t) (-log(1.0 - s_unif(&u->rng)) / lam_max);
        if (s_unif(&u->rng) * mx < w[s_local_hour(t, tz)]) break;
    }
    return t;
}

static void s_user_init(lg_gen_t *g, s_user_t *u, uint32_t idx)
{
    memset(u, 0, sizeof *u);
    u->idx = idx;
    u->rng = s_mix(g->opts.seed * 0x9e3779b97f4a7c15ull + s_mix(idx + 1ull));
    uint64_t *st = &u->rng;
    int cw[S_NCITY];
    for (int c = 0; c < S_NCITY; c++) cw[c] = s_cities[c].weight;
    u->home = (uint8_t) s_weighted(st, cw, S_NCITY, g->city_weight_sum);
    double per_usd = s_currencies[g->city_cur[u->home]].per_usd;
    double median_usd = fmin(2000, fmax(3, exp(log(35) + 0.7 * s_normal(st))));
    u->median = (float) (median_usd * per_usd);
    u->sigma = (float) s_range(st, 0.3, 0.7);
    u->rate_day = (float) fmin(40, fmax(0.3, exp(log(1.5) + 1.0 * s_normal(st))));
    u->profile = (uint8_t) s_weighted(st, s_profile_weight, S_NPROFILE, 100);
    float ch[4] = {(float) s_range(st, .3, .8), (float) s_range(st, .1, .4),
                   s_unif(st) < 0.5 ? 0.0f : (float) s_range(st, 0, .3),
                   (float) s_range(st, 0, .08)};
    float sum = ch[0] + ch[1] + ch[2] + ch[3], acc = 0;
    for (int i = 0; i < 4; i++) acc += ch[i] / sum, u->ch_cum[i] = acc;
    u->ch_cum[3] = 1.0f;
    u->n_local = (uint8_t) (2 + s_below(st, S_MAX_LOCAL - 1));
    for (int i = 0; i < u->n_local; i++) u->local_m[i] = (uint16_t) s_below(st, S_LOCAL_PER_CITY);
    u->n_online = (uint8_t) (1 + s_below(st, S_MAX_ONLINE));
    for (int i = 0; i < u->n_online; i++)
        u->online_m[i] = (uint16_t) s_below(st, S_ONLINE_MERCHANTS);
    u->atm_m = (uint16_t) s_below(st, S_ATM_PER_CITY);
    u->n_dev = (uint8_t) (s_unif(st) < 0.4 ? 2 : 1);
    u->dev[0] = (uint32_t) s_u64(st);
    u->dev[1] = (uint32_t) s_u64(st);
    u->ip_host = (uint32_t) s_u64(st);
    u->trip_city = S_NONE;
    u->last_city = u->home;
    u->last_ts = g->opts.start_ms;
    u->next_ts = s_next_normal(g, u, g->opts.start_ms - 30000);
}

/* ---- the heap of users by next event ----------------------------------- */

static inline bool s_before(const s_heap_t *a, const s_heap_t *b)
{
    return a->ts < b->ts || (a->ts == b->ts && a->slot < b->slot);
}

static void s_sift_down(lg_gen_t *g, uint32_t i)
{
    s_heap_t *h = g->heap;
    s_heap_t x = h[i];
    for (;;) {
        uint32_t c = 2 * i + 1;
        if (c >= g->n) break;
        if (c + 1 < g->n && s_before(&h[c + 1], &h[c])) c++;
        if (!s_before(&h[c], &x)) break;
        h[i] = h[c];
        i = c;
    }
    h[i] = x;
}

/* ---- options ----------------------------------------------------------- */

static int s_fail(char *err, size_t errlen, const char *msg)
{
    if (err && errlen) snprintf(err, errlen, "%s", msg);
    return VG_ERR_INVALID;
}

static int s_check_opts(const lg_gen_opts_t *o, char *err, size_t errlen)
{
    if (o->users < 1 || o->users > 50000000)
        return s_fail(err, errlen, "users must be 1..50000000");
    uint32_t parts = o->parts ? o->parts : 1;
    if (o->part >= parts) return s_fail(err, errlen, "part must be < parts");
    if (!(o->anomaly_rate >= 0 && o->anomaly_rate <= 0.5))
        return s_fail(err, errlen, "anomaly rate must be 0..0.5");
    for (int k = 0; k < LG_ANOMALY_KINDS; k++)
        if (!(o->mix[k] >= 0 && isfinite(o->mix[k])))
            return s_fail(err, errlen, "anomaly mix weights must be finite and >= 0");
    if (o->start_ms < 0 || o->start_ms > VG_TX_TS_MAX / 2)
        return s_fail(err, errlen, "start time out of range");
    size_t n = o->tag ? strlen(o->tag) : 0;
    if (n < 1 || n > 40) return s_fail(err, errlen, "tag must be 1..40 characters");
    for (size_t i = 0; i < n; i++) {
        char c = o->tag[i];
        if (!((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
              c == '.' || c == '_'))
            return s_fail(err, errlen, "tag may only hold letters, digits, '.' and '_'");
    }
    return 0;
}

/* Mean labelled transactions per episode of each anomaly kind. */
static const double s_episode_len[LG_ANOMALY_KINDS] = {1, 10.5, 1, 2, 1};

int lg_gen_new(const lg_gen_opts_t *opts, lg_gen_t **out, char *err, size_t errlen)
{
    *out = NULL;
    int rc = s_check_opts(opts, err, errlen);
    if (rc) return rc;
    lg_gen_t *g = VG_NEW(lg_gen_t);
    g->opts = *opts;
    if (!g->opts.parts) g->opts.parts = 1;
    s_world_init(g);
    /* Episode mix and the per-event episode probability q that makes the
     * anomalous share s: s = q m / ((1 - q) + q m), m = mean episode length. */
    const double *mix = opts->mix;
    double wsum = 0, m = 0;
    for (int k = 0; k < LG_ANOMALY_KINDS; k++) wsum += mix[k];
    if (wsum <= 0) {
        mix = s_default_mix;
        for (int k = 0; k < LG_ANOMALY_KINDS; k++) wsum += mix[k];
    }
    double acc = 0;
    for (int k = 0; k < LG_ANOMALY_KINDS; k++) {
        acc += mix[k] / wsum;
        g->mix_cum[k] = acc;
        m += mix[k] / wsum * s_episode_len[k];
    }
    double s = opts->anomaly_rate;
    g->q = s > 0 ? s / (m * (1 - s) + s) : 0;

    g->uprefix_len = (size_t) snprintf(g->uprefix, sizeof g->uprefix, "u%s-", opts->tag);
    g->tprefix_len = (size_t) snprintf(g->tprefix, sizeof g->tprefix, "t%s-", opts->tag);
    uint32_t parts = g->opts.parts;
    g->n = g->opts.part < opts->users ? (opts->users - g->opts.part + parts - 1) / parts : 0;
    g->users = vg_calloc(g->n ? g->n : 1, sizeof *g->users);
    g->heap = vg_calloc(g->n ? g->n : 1, sizeof *g->heap);
    double day_rate = 0;
    for (uint32_t i = 0; i < g->n; i++) {
        s_user_init(g, &g->users[i], g->opts.part + i * parts);
        g->heap[i] = (s_heap_t){g->users[i].next_ts, i};
        day_rate += g->users[i].rate_day;
    }
    g->rate = day_rate / 86400.0 / (1 - s);
    for (uint32_t i = g->n / 2; i-- > 0;) s_sift_down(g, i);
    *out = g;
    return 0;
}

void lg_gen_destroy(lg_gen_t **self_p)
{
    if (!self_p || !*self_p) return;
    lg_gen_t *g = *self_p;
    vg_free(g->users);
    vg_free(g->heap);
    vg_free(g);
    *self_p = NULL;
}

int64_t lg_gen_peek_ts(const lg_gen_t *g)
{
    return g->n ? g->heap[0].ts : INT64_MAX;
}

double lg_gen_rate(const lg_gen_t *g)
{
    return g->rate;
}

double lg_gen_user_median(const lg_gen_t *g, uint32_t user)
{
    if (user % g->opts.parts != g->opts.part) return NAN;
    uint32_t slot = user / g->opts.parts;
    return slot < g->n ? g->users[slot].median : NAN;
}

/* ---- emitting one transaction ------------------------------------------ */

static void s_set_merchant(lg_tx_t *tx, int where, int city, int m, uint8_t cat)
{
    char *p = tx->merchant_id;
    if (where == S_LOCAL) {
        p[0] = 'm', s_padded(p + 1, (uint32_t) city, 2), p[3] = '-',
        s_padded(p + 4, (uint32_t) m, 4);
        p[8] = 0;
    } else if (where == S_ONLINE) {
        p[0] = 'w', p[1] = '-', s_padded(p + 2, (uint32_t) m, 4), p[6] = 0;
    } else {
        p[0] = 'a', s_padded(p + 1, (uint32_t) city, 2), p[3] = '-',
        s_padded(p + 4, (uint32_t) m, 2);
        p[6] = 0;
    }
    tx->category = s_cats[cat].name;
    tx->mcc = s_cats[cat].mcc;
}

static void s_set_ip(const lg_gen_t *g, lg_tx_t *tx, int city, uint32_t r)
{
    unsigned a = 24 + 6 * g->city_country[city] + (r & 3);
    snprintf(tx->ip, sizeof tx->ip, "%u.%u.%u.%u", a, (r >> 8) & 255, (r >> 16) & 255,
             1 + (r >> 24) % 254);
}

static void s_set_device(lg_tx_t *tx, uint32_t dev)
{
    tx->device_id[0] = 'd';
    s_hex8(tx->device_id + 1, dev);
    tx->device_id[9] = 0;
}

static void s_set_amount(const lg_gen_t *g, const s_user_t *u, lg_tx_t *tx, double amount, bool atm)
{
    const s_currency_t *cur = &s_currencies[g->city_cur[u->home]];
    tx->decimals = cur->decimals;
    if (atm) { /* cash comes in round notes */
        double unit = 10 * pow(10, floor(log10(cur->per_usd)));
        amount = fmax(unit, round(amount / unit) * unit);
    }
    double scale = cur->decimals ? 100 : 1;
    tx->amount_minor = VG_MAX(1, llround(amount * scale));
    tx->amount = (double) tx->amount_minor / scale;
}

static void s_set_place(const lg_gen_t *g, s_user_t *u, lg_tx_t *tx, int city, double jitter)
{
    memcpy(tx->country, s_cities[city].cc, 3);
    u->last_city = (uint8_t) city;
    double lat = s_cities[city].lat + s_range(&u->rng, -jitter, jitter);
    double lon = s_cities[city].lon + s_range(&u->rng, -jitter, jitter);
    tx->lat = (double) llround(lat * 1e4) / 1e4;
    tx->lon = (double) llround(lon * 1e4) / 1e4;
}

static int s_channel(s_user_t *u, bool allow_atm)
{
    for (;;) {
        float r = (float) s_unif(&u->rng);
        int ch = 0;
        while (ch < 3 && r >= u->ch_cum[ch]) ch++;
        if (ch != S_CH_ATM || allow_atm) return ch;
    }
}

/* Routine payment or a legitimate novelty. */
static void s_emit_normal(lg_gen_t *g, s_user_t *u, lg_tx_t *tx)
{
    uint64_t *st = &u->rng;
    bool trip = u->trip_city != S_NONE;
    int city = trip ? u->trip_city : u->home;
    tx->kind = trip ? LG_KIND_TRIP : LG_KIND_ROUTINE;
    int ch = s_channel(u, true);
    double big = 0;
    bool new_merchant = false;
    double r = s_unif(st);
    if (!trip && s_unif(st) < fmin(0.05, 1.0 / (u->rate_day * 200.0))) {
        tx->kind = LG_KIND_NEW_DEVICE; /* a new phone: replaces the old one */
        u->dev[0] = (uint32_t) s_u64(st);
        ch = S_CH_APP;
    } else if (r < 0.015) {
        if (!trip) tx->kind = LG_KIND_BIG_PURCHASE;
        big = s_logunif(st, 2.5, 6);
        if (ch == S_CH_ATM) ch = S_CH_POS;
    } else if (r < 0.055) {
        if (!trip) tx->kind = LG_KIND_NEW_MERCHANT;
        new_merchant = true;
    }
    tx->channel = s_channels[ch];
    uint8_t cat;
    if (ch == S_CH_POS) {
        int m = u->local_m[s_zipf(st, u->n_local)];
        if (trip || new_merchant) {
            m = (int) s_below(st, S_LOCAL_PER_CITY);
            if (!trip && s_unif(st) < 0.3) u->local_m[s_below(st, u->n_local)] = (uint16_t) m;
        }
        cat = g->local_cat[city][m];
        s_set_merchant(tx, S_LOCAL, city, m, cat);
        double x = s_unif(st);
        tx->entry_mode = x < 0.6 ? "contactless" : x < 0.98 ? "chip" : "magstripe";
    } else if (ch == S_CH_ATM) {
        cat = S_CAT_CASH;
        s_set_merchant(tx, S_ATM, city, trip ? (int) s_below(st, S_ATM_PER_CITY) : u->atm_m, cat);
        tx->entry_mode = "chip";
    } else {
        int m = u->online_m[s_zipf(st, u->n_online)];
        if (new_merchant) {
            m = (int) s_below(st, S_ONLINE_MERCHANTS);
            if (s_unif(st) < 0.3) u->online_m[s_below(st, u->n_online)] = (uint16_t) m;
        }
        cat = g->online_cat[m];
        s_set_merchant(tx, S_ONLINE, city, m, cat);
        tx->entry_mode = ch == S_CH_APP ? "app" : "ecom";
        s_set_device(tx, ch == S_CH_APP ? u->dev[0] : u->dev[u->n_dev - 1]);
        s_set_ip(g, tx, city, trip ? u->trip_ip : u->ip_host);
    }
    double amount =
        big > 0 ? u->median * big : u->median * s_cats[cat].mult * exp(u->sigma * s_normal(st));
    s_set_amount(g, u, tx, amount, ch == S_CH_ATM);
    s_set_place(g, u, tx, city, ch == S_CH_POS || ch == S_CH_ATM ? 0.05 : 0.02);
}

/* One transaction of the user's current anomaly episode. */
static void s_emit_anomaly(lg_gen_t *g, s_user_t *u, lg_tx_t *tx)
{
    uint64_t *st = &u->rng;
    int here = u->trip_city != S_NONE ? u->trip_city : u->home;
    uint32_t here_ip = u->trip_city != S_NONE ? u->trip_ip : u->ip_host;
    tx->kind = u->ep_kind;
    double amount;
    int m;
    switch (u->ep_kind) {
    case LG_KIND_AMOUNT_SPIKE: { /* only the amount is unusual */
        int ch = s_channel(u, false);
        tx->channel = s_channels[ch];
        if (ch == S_CH_POS) {
            m = s_unif(st) < 0.5 ? u->local_m[s_zipf(st, u->n_local)]
                                 : (int) s_below(st, S_LOCAL_PER_CITY);
            s_set_merchant(tx, S_LOCAL, here, m, g->local_cat[here][m]);
            tx->entry_mode = "chip";
        } else {
            m = s_unif(st) < 0.5 ? u->online_m[s_zipf(st, u->n_online)]
                                 : (int) s_below(st, S_ONLINE_MERCHANTS);
            s_set_merchant(tx, S_ONLINE, here, m, g->online_cat[m]);
            tx->entry_mode = ch == S_CH_APP ? "app" : "ecom";
            s_set_device(tx, ch == S_CH_APP ? u->dev[0] : u->dev[u->n_dev - 1]);
            s_set_ip(g, tx, here, here_ip);
        }
        amount = u->median * s_logunif(st, 8, 50);
        s_set_place(g, u, tx, here, ch == S_CH_POS ? 0.05 : 0.02);
        break;
    }
    case LG_KIND_VELOCITY: /* card testing: tiny online payments in a burst */
        tx->channel = "ecom";
        tx->entry_mode = "ecom";
        s_set_merchant(tx, S_ONLINE, here, u->ep_merchant, g->online_cat[u->ep_merchant]);
        s_set_device(tx, u->ep_dev);
        s_set_ip(g, tx, here, u->ep_ip);
        amount = s_logunif(st, 0.5, 5) * s_currencies[g->city_cur[u->home]].per_usd;
        s_set_place(g, u, tx, here, 0.02);
        break;
    case LG_KIND_IMPOSSIBLE_TRAVEL: /* a cloned card used far away */
        tx->channel = "pos";
        tx->entry_mode = s_unif(st) < 0.6 ? "magstripe" : "chip";
        m = (int) s_below(st, S_LOCAL_PER_CITY);
        s_set_merchant(tx, S_LOCAL, u->ep_city, m, g->local_cat[u->ep_city][m]);
        amount =
            u->median * s_cats[g->local_cat[u->ep_city][m]].mult * exp(u->sigma * s_normal(st));
        s_set_place(g, u, tx, u->ep_city, 0.05);
        break;
    case LG_KIND_ACCOUNT_TAKEOVER: /* new device, new country, high amount */
        tx->channel = s_unif(st) < 0.5 ? "app" : "ecom";
        tx->entry_mode = tx->channel;
        s_set_merchant(tx, S_ONLINE, u->ep_city, u->ep_merchant, g->online_cat[u->ep_merchant]);
        s_set_device(tx, u->ep_dev);
        s_set_ip(g, tx, u->ep_city, u->ep_ip);
        amount = u->median * s_logunif(st, 5, 30);
        s_set_place(g, u, tx, u->ep_city, 0.02);
        break;
    default: /* LG_KIND_NEW_DEVICE_HIGH: a new device at home spends big */
        tx->channel = s_unif(st) < 0.5 ? "app" : "ecom";
        tx->entry_mode = tx->channel;
        m = s_unif(st) < 0.6 ? u->online_m[s_zipf(st, u->n_online)]
                             : g->pricey[s_below(st, g->n_pricey)];
        s_set_merchant(tx, S_ONLINE, here, m, g->online_cat[m]);
        s_set_device(tx, u->ep_dev);
        s_set_ip(g, tx, here, here_ip);
        amount = u->median * s_logunif(st, 4, 20);
        s_set_place(g, u, tx, here, 0.02);
        break;
    }
    s_set_amount(g, u, tx, amount, false);
}

/* Starts an anomaly episode after the user's event at t0; returns its
 * first event time. */
static int64_t s_start_episode(lg_gen_t *g, s_user_t *u, int64_t t0)
{
    uint64_t *st = &u->rng;
    double r = s_unif(st);
    int k = 0;
    while (k < LG_ANOMALY_KINDS - 1 && r >= g->mix_cum[k]) k++;
    int here = u->trip_city != S_NONE ? u->trip_city : u->home;
    u->ep_kind = (uint8_t) (LG_KIND_FIRST_ANOMALY + k);
    u->ep_left = 1;
    u->ep_dev = (uint32_t) s_u64(st);
    u->ep_ip = (uint32_t) s_u64(st);
    switch (u->ep_kind) {
    case LG_KIND_VELOCITY:
        u->ep_left = (uint8_t) (6 + s_below(st, 10));
        u->ep_merchant = g->digital[s_below(st, g->n_digital)];
        break;
    case LG_KIND_IMPOSSIBLE_TRAVEL:
        /* >= 2500 km from the previous payment, 5-55 min later */
        u->ep_city = g->far[u->last_city][s_below(st, g->n_far[u->last_city])];
        return t0 + (int64_t) (s_range(st, 5, 55) * (double) S_MIN);
    case LG_KIND_ACCOUNT_TAKEOVER:
        u->ep_left = (uint8_t) (1 + s_below(st, 3));
        u->ep_merchant = g->pricey[s_below(st, g->n_pricey)];
        do u->ep_city = (uint8_t) s_below(st, S_NCITY);
        while (g->city_country[u->ep_city] == g->city_country[u->home] ||
               g->city_country[u->ep_city] == g->city_country[here]);
        break;
    default: break;
    }
    return s_next_normal(g, u, t0);
}

/* Decides the user's next event after the one at t0. */
static void s_schedule(lg_gen_t *g, s_user_t *u, int64_t t0)
{
    uint64_t *st = &u->rng;
    if (u->ep_left > 0) { /* inside an episode */
        double gap = u->ep_kind == LG_KIND_VELOCITY ? s_range(st, 3, 45) * 1000
                                                    : s_range(st, 1, 10) * (double) S_MIN;
        u->next_ts = t0 + (int64_t) gap;
        return;
    }
    if (g->q > 0 && s_unif(st) < g->q) {
        u->next_ts = s_start_episode(g, u, t0);
        return;
    }
    int64_t t1 = s_next_normal(g, u, t0);
    if (u->trip_city != S_NONE) {
        if (t1 >= u->trip_end) { /* fly home, not faster than a plane */
            t1 = VG_MAX(t1, t0 + (int64_t) s_travel_ms(u->trip_city, u->home));
            u->trip_city = S_NONE;
        }
    } else if (s_unif(st) < fmin(0.1, 1.0 / (u->rate_day * 90.0))) { /* a trip a quarter */
        int dest = g->near[u->home][s_below(st, g->n_near[u->home])];
        t1 = VG_MAX(t1, t0 + (int64_t) s_travel_ms(u->home, dest));
        u->trip_city = (uint8_t) dest;
        u->trip_ip = (uint32_t) s_u64(st);
        u->trip_end = t1 + (int64_t) (s_range(st, 2, 7) * (double) S_DAY);
    }
    u->next_ts = t1;
}

void lg_gen_next(lg_gen_t *g, lg_tx_t *tx)
{
    VG_ASSERT(g->n > 0);
    s_user_t *u = &g->users[g->heap[0].slot];
    int64_t t = u->next_ts;
    tx->device_id[0] = 0;
    tx->ip[0] = 0;
    if (u->ep_left > 0) {
        s_emit_anomaly(g, u, tx);
        u->ep_left--;
    } else {
        s_emit_normal(g, u, tx);
    }
    tx->anomaly = lg_kind_is_anomaly(tx->kind);
    tx->ts_ms = t;
    tx->user = u->idx;
    tx->seq = u->seq++;
    memcpy(tx->currency, s_currencies[g->city_cur[u->home]].code, 4);
    memcpy(tx->user_id, g->uprefix, g->uprefix_len);
    tx->user_id[g->uprefix_len + s_utoa(u->idx, tx->user_id + g->uprefix_len)] = 0;
    size_t n = g->tprefix_len;
    memcpy(tx->id, g->tprefix, n);
    n += s_utoa(u->idx, tx->id + n);
    tx->id[n++] = '-';
    n += s_utoa(tx->seq, tx->id + n);
    tx->id[n] = 0;
    u->last_ts = t;
    s_schedule(g, u, t);
    g->heap[0].ts = u->next_ts;
    s_sift_down(g, 0);
}

/* ---- JSON -------------------------------------------------------------- */

void lg_tx_to_json(const lg_tx_t *tx, vg_jw_t *w)
{
    char num[32], ts[25];
    vg_jw_obj_begin(w);
    vg_jw_kcstr(w, "id", tx->id);
    vg_jw_kcstr(w, "user_id", tx->user_id);
    vg_jw_key(w, "amount");
    vg_jw_raw(w, num, s_fixed(tx->amount_minor, tx->decimals, num));
    vg_jw_kcstr(w, "currency", tx->currency);
    vg_ts_format(tx->ts_ms, ts);
    vg_jw_kcstr(w, "timestamp", ts);
    vg_jw_kcstr(w, "merchant_id", tx->merchant_id);
    vg_jw_kcstr(w, "merchant_category", tx->category);
    vg_jw_kcstr(w, "country", tx->country);
    vg_jw_kcstr(w, "channel", tx->channel);
    if (tx->device_id[0]) vg_jw_kcstr(w, "device_id", tx->device_id);
    if (tx->ip[0]) vg_jw_kcstr(w, "ip", tx->ip);
    vg_jw_key(w, "lat");
    vg_jw_raw(w, num, s_fixed(llround(tx->lat * 1e4), 4, num));
    vg_jw_key(w, "lon");
    vg_jw_raw(w, num, s_fixed(llround(tx->lon * 1e4), 4, num));
    vg_jw_key(w, "attributes");
    vg_jw_obj_begin(w);
    vg_jw_kcstr(w, "entry_mode", tx->entry_mode);
    vg_jw_kint(w, "mcc", tx->mcc);
    vg_jw_obj_end(w);
    vg_jw_obj_end(w);
}
