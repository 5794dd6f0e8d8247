/* lg_report.c: merging per-worker results and printing the final report
 * (human text, or one JSON object through proto's JSON writer). */
#include "lg_report.h"

#include "vg_jw.h"
#include "vg_mem.h"

#include <math.h>
#include <string.h>

lg_report_t *lg_report_new(void)
{
    return VG_NEW(lg_report_t);
}

void lg_report_destroy(lg_report_t **self_p)
{
    if (!self_p || !*self_p) return;
    vg_free(*self_p);
    *self_p = NULL;
}

void lg_report_item_error(lg_report_t *r, const char *code, uint64_t n)
{
    for (int i = 0; i < LG_REPORT_CODES; i++) {
        if (r->items[i].code[0] == 0)
            snprintf(r->items[i].code, sizeof r->items[i].code, "%s", code);
        if (strcmp(r->items[i].code, code) == 0) {
            r->items[i].n += n;
            return;
        }
    }
    r->items_other += n;
}

void lg_report_merge(lg_report_t *dst, const lg_report_t *src)
{
    dst->wu_tx += src->wu_tx;
    dst->wu_req += src->wu_req;
    dst->wu_failed += src->wu_failed;
    dst->req += src->req;
    dst->req_ok += src->req_ok;
    dst->tx_sent += src->tx_sent;
    dst->tx_ok += src->tx_ok;
    dst->scored += src->scored;
    dst->duplicates += src->duplicates;
    dst->late += src->late;
    dst->id_mismatch += src->id_mismatch;
    dst->bad_responses += src->bad_responses;
    dst->transport_errors += src->transport_errors;
    dst->bytes += src->bytes;
    for (int i = 0; i < 600; i++) dst->http[i] += src->http[i];
    for (int i = 0; i < LG_REPORT_CODES && src->items[i].code[0]; i++)
        lg_report_item_error(dst, src->items[i].code, src->items[i].n);
    dst->items_other += src->items_other;
    if (!dst->first_error[0]) memcpy(dst->first_error, src->first_error, sizeof dst->first_error);
    lg_hist_merge(&dst->lat, &src->lat);
    lg_hist_merge(&dst->svc, &src->svc);
    lg_quality_merge(&dst->quality, &src->quality);
    for (int k = 0; k < LG_KIND_COUNT; k++) dst->generated[k] += src->generated[k];
}

/* ---- text -------------------------------------------------------------- */

static double s_per(double n, double secs)
{
    return secs > 0 ? n / secs : 0;
}

static double s_ms(uint64_t ns)
{
    return (double) ns / 1e6;
}

static void s_pct(FILE *f, double x)
{
    if (isnan(x))
        fprintf(f, "     n/a");
    else
        fprintf(f, " %6.2f%%", 100 * x);
}

static void s_text_latency(FILE *f, const char *name, const lg_hist_t *h)
{
    fprintf(f, "%-11s p50 %.3f  p90 %.3f  p99 %.3f  p99.9 %.3f  max %.3f  mean %.3f ms\n", name,
            s_ms(lg_hist_quantile(h, .5)), s_ms(lg_hist_quantile(h, .9)),
            s_ms(lg_hist_quantile(h, .99)), s_ms(lg_hist_quantile(h, .999)), s_ms(lg_hist_max(h)),
            lg_hist_mean(h) / 1e6);
}

static void s_text_confusion(FILE *f, const char *name, const lg_quality_t *q, bool by_decision)
{
    lg_confusion_t c = lg_quality_confusion(q, by_decision);
    lg_scores_t s;
    lg_confusion_scores(&c, &s);
    fprintf(f, "  %-16s tp %-7llu fp %-7llu fn %-7llu tn %-9llu precision", name,
            (unsigned long long) c.tp, (unsigned long long) c.fp, (unsigned long long) c.fn,
            (unsigned long long) c.tn);
    s_pct(f, s.precision);
    fprintf(f, "  recall");
    s_pct(f, s.recall);
    fprintf(f, "  F1");
    s_pct(f, s.f1);
    fprintf(f, "  FPR");
    s_pct(f, s.fpr);
    fputc('\n', f);
}

static double s_share(uint64_t a, uint64_t b)
{
    return b ? (double) a / (double) b : NAN;
}

static void s_text_kinds(FILE *f, const lg_quality_t *q)
{
    fprintf(f, "  %-18s %9s %10s %10s\n", "kind", "n", "anomaly", "!allow");
    for (int k = 0; k < LG_KIND_COUNT; k++) {
        if (!q->n[k]) continue;
        fprintf(f, "  %-18s %9llu", lg_kind_name(k), (unsigned long long) q->n[k]);
        fprintf(f, "  ");
        s_pct(f, s_share(q->anomaly[k], q->n[k]));
        fprintf(f, "  ");
        s_pct(f, s_share(q->flagged[k], q->n[k]));
        fprintf(f, "   %s\n", lg_kind_is_anomaly(k) ? "(recall)" : "(false-positive rate)");
    }
}

static void s_text_dry(const lg_report_t *r, FILE *f)
{
    uint64_t measured = 0, anomalies = 0;
    for (int k = 0; k < LG_KIND_COUNT; k++) {
        measured += r->generated[k];
        if (lg_kind_is_anomaly(k)) anomalies += r->generated[k];
    }
    uint64_t total = measured + r->wu_tx;
    fprintf(f,
            "vigil-loadgen --dry-run: %llu transactions (%llu warm-up, %llu measured) in %.3f s"
            " = %.0f tx/s, %.1f MB/s%s\n",
            (unsigned long long) total, (unsigned long long) r->wu_tx,
            (unsigned long long) measured, r->secs, s_per((double) total, r->secs),
            s_per((double) r->bytes / 1e6, r->secs), r->interrupted ? " (interrupted)" : "");
    fprintf(f, "measured: %llu anomalies (%.2f%%):", (unsigned long long) anomalies,
            measured ? 100.0 * (double) anomalies / (double) measured : 0.0);
    for (int k = 0; k < LG_KIND_COUNT; k++)
        if (r->generated[k])
            fprintf(f, " %s %llu", lg_kind_name(k), (unsigned long long) r->generated[k]);
    fputc('\n', f);
}

void lg_report_text(const lg_report_t *r, FILE *f)
{
    const lg_opts_t *o = r->opts;
    if (o->dry_run) {
        s_text_dry(r, f);
        return;
    }
    fprintf(f, "vigil-loadgen: %s  seed %llu  tag %s  users %u  batch %u  concurrency %u  rate %s",
            o->target, (unsigned long long) o->seed, r->tag, o->users, o->batch, o->concurrency,
            o->rate > 0 ? "" : "max");
    if (o->rate > 0) fprintf(f, "%g tx/s", o->rate);
    if (o->realtime) fprintf(f, "  realtime x%.3g", r->speedup);
    fprintf(f, "%s\n", r->interrupted ? "  (interrupted)" : "");
    if (r->fatal[0]) fprintf(f, "FAILED: %s\n", r->fatal);
    if (r->wu_tx)
        fprintf(f,
                "warm-up    %llu tx in %llu requests, %.3f s (%.0f tx/s), %llu failed requests"
                " (%g days of history)\n",
                (unsigned long long) r->wu_tx, (unsigned long long) r->wu_req, r->wu_secs,
                s_per((double) r->wu_tx, r->wu_secs), (unsigned long long) r->wu_failed,
                o->history_days);
    fprintf(f,
            "measured   %.3f s: %llu requests (%llu ok), %llu tx sent, %llu in ok answers, "
            "%llu scored\n",
            r->secs, (unsigned long long) r->req, (unsigned long long) r->req_ok,
            (unsigned long long) r->tx_sent, (unsigned long long) r->tx_ok,
            (unsigned long long) r->scored);
    fprintf(f, "throughput %.0f tx/s  %.1f req/s  (%.1f MB/s sent)\n",
            s_per((double) r->tx_ok, r->secs), s_per((double) r->req, r->secs),
            s_per((double) r->bytes / 1e6, r->secs));
    uint64_t herr = 0;
    for (int s = 0; s < 600; s++)
        if (s < 200 || s >= 300) herr += r->http[s];
    if (herr || r->transport_errors || r->bad_responses || r->items[0].code[0] || r->id_mismatch) {
        fprintf(f, "errors    ");
        for (int s = 0; s < 600; s++)
            if ((s < 200 || s >= 300) && r->http[s])
                fprintf(f, " http %d: %llu", s, (unsigned long long) r->http[s]);
        if (r->transport_errors)
            fprintf(f, " transport: %llu", (unsigned long long) r->transport_errors);
        if (r->bad_responses)
            fprintf(f, " bad response: %llu", (unsigned long long) r->bad_responses);
        for (int i = 0; i < LG_REPORT_CODES && r->items[i].code[0]; i++)
            fprintf(f, " item %s: %llu", r->items[i].code, (unsigned long long) r->items[i].n);
        if (r->items_other) fprintf(f, " item other: %llu", (unsigned long long) r->items_other);
        if (r->id_mismatch) fprintf(f, " id mismatch: %llu", (unsigned long long) r->id_mismatch);
        fputc('\n', f);
        if (r->first_error[0]) fprintf(f, "first error: %s\n", r->first_error);
    } else {
        fprintf(f, "errors     none\n");
    }
    if (r->duplicates)
        fprintf(f, "duplicates %llu (ids already known to the server)\n",
                (unsigned long long) r->duplicates);
    if (r->late)
        fprintf(f, "late       %llu (event time older than the user's state on the server)\n",
                (unsigned long long) r->late);
    if (lg_hist_count(&r->lat)) {
        fprintf(f, "latency of %llu requests, from the scheduled send time (open loop):\n",
                (unsigned long long) lg_hist_count(&r->lat));
        s_text_latency(f, "  latency", &r->lat);
        s_text_latency(f, "  service", &r->svc);
    }
    uint64_t n = lg_quality_total(&r->quality);
    if (n) {
        lg_confusion_t c = lg_quality_confusion(&r->quality, false);
        fprintf(f,
                "quality of %llu scored measured transactions, %llu labelled anomalous (%.2f%%):\n",
                (unsigned long long) n, (unsigned long long) (c.tp + c.fn),
                100.0 * (double) (c.tp + c.fn) / (double) n);
        s_text_confusion(f, "anomaly flag", &r->quality, false);
        s_text_confusion(f, "decision!=allow", &r->quality, true);
        s_text_kinds(f, &r->quality);
    }
}

/* ---- JSON -------------------------------------------------------------- */

static void s_json_latency(vg_jw_t *w, const char *key, const lg_hist_t *h)
{
    vg_jw_key(w, key);
    vg_jw_obj_begin(w);
    vg_jw_kint(w, "count", (int64_t) lg_hist_count(h));
    vg_jw_knum(w, "p50", s_ms(lg_hist_quantile(h, .5)));
    vg_jw_knum(w, "p90", s_ms(lg_hist_quantile(h, .9)));
    vg_jw_knum(w, "p99", s_ms(lg_hist_quantile(h, .99)));
    vg_jw_knum(w, "p999", s_ms(lg_hist_quantile(h, .999)));
    vg_jw_knum(w, "max", s_ms(lg_hist_max(h)));
    vg_jw_knum(w, "mean", lg_hist_mean(h) / 1e6);
    vg_jw_obj_end(w);
}

static void s_json_confusion(vg_jw_t *w, const char *key, const lg_quality_t *q, bool by_decision)
{
    lg_confusion_t c = lg_quality_confusion(q, by_decision);
    lg_scores_t s;
    lg_confusion_scores(&c, &s);
    vg_jw_key(w, key);
    vg_jw_obj_begin(w);
    vg_jw_kint(w, "tp", (int64_t) c.tp);
    vg_jw_kint(w, "fp", (int64_t) c.fp);
    vg_jw_kint(w, "fn", (int64_t) c.fn);
    vg_jw_kint(w, "tn", (int64_t) c.tn);
    vg_jw_knum(w, "precision", s.precision); /* null when undefined */
    vg_jw_knum(w, "recall", s.recall);
    vg_jw_knum(w, "f1", s.f1);
    vg_jw_knum(w, "fpr", s.fpr);
    vg_jw_obj_end(w);
}

static void s_json_config(vg_jw_t *w, const lg_report_t *r)
{
    const lg_opts_t *o = r->opts;
    vg_jw_key(w, "config");
    vg_jw_obj_begin(w);
    vg_jw_kcstr(w, "target", o->dry_run ? NULL : o->target);
    vg_jw_kint(w, "seed", (int64_t) o->seed);
    vg_jw_kcstr(w, "tag", r->tag);
    vg_jw_kint(w, "users", o->users);
    vg_jw_knum(w, "anomaly_rate", o->anomaly_rate);
    vg_jw_knum(w, "rate", o->rate);
    vg_jw_kint(w, "batch", o->batch);
    vg_jw_kint(w, "concurrency", o->concurrency);
    vg_jw_knum(w, "history_days", o->history_days);
    vg_jw_key(w, "start");
    vg_jw_ts(w, r->start_ms);
    vg_jw_kbool(w, "realtime", o->realtime);
    vg_jw_kbool(w, "dry_run", o->dry_run);
    if (o->realtime) vg_jw_knum(w, "speedup", r->speedup);
    vg_jw_knum(w, "population_tx_per_s", r->natural_rate);
    vg_jw_obj_end(w);
}

void lg_report_json(const lg_report_t *r, FILE *f)
{
    vg_jw_t w;
    vg_jw_init(&w);
    vg_jw_obj_begin(&w);
    s_json_config(&w, r);
    vg_jw_kbool(&w, "interrupted", r->interrupted);
    vg_jw_kcstr(&w, "fatal", r->fatal[0] ? r->fatal : NULL);
    vg_jw_key(&w, "warmup");
    vg_jw_obj_begin(&w);
    vg_jw_kint(&w, "transactions", (int64_t) r->wu_tx);
    vg_jw_kint(&w, "requests", (int64_t) r->wu_req);
    vg_jw_kint(&w, "failed_requests", (int64_t) r->wu_failed);
    vg_jw_knum(&w, "seconds", r->wu_secs);
    vg_jw_obj_end(&w);
    vg_jw_key(&w, "measured");
    vg_jw_obj_begin(&w);
    vg_jw_knum(&w, "seconds", r->secs);
    vg_jw_kint(&w, "requests", (int64_t) r->req);
    vg_jw_kint(&w, "requests_ok", (int64_t) r->req_ok);
    vg_jw_kint(&w, "tx_sent", (int64_t) r->tx_sent);
    vg_jw_kint(&w, "tx_ok", (int64_t) r->tx_ok);
    vg_jw_kint(&w, "scored", (int64_t) r->scored);
    vg_jw_kint(&w, "duplicates", (int64_t) r->duplicates);
    vg_jw_kint(&w, "late", (int64_t) r->late);
    vg_jw_knum(&w, "tx_per_s", s_per((double) (r->opts->dry_run ? r->tx_sent : r->tx_ok), r->secs));
    vg_jw_knum(&w, "req_per_s", s_per((double) r->req, r->secs));
    vg_jw_kint(&w, "bytes", (int64_t) r->bytes);
    vg_jw_key(&w, "generated");
    vg_jw_obj_begin(&w);
    for (int k = 0; k < LG_KIND_COUNT; k++)
        vg_jw_kint(&w, lg_kind_name(k), (int64_t) r->generated[k]);
    vg_jw_obj_end(&w);
    vg_jw_obj_end(&w);
    vg_jw_key(&w, "errors");
    vg_jw_obj_begin(&w);
    vg_jw_key(&w, "http");
    vg_jw_obj_begin(&w);
    for (int s = 0; s < 600; s++) {
        if (!r->http[s] || (s >= 200 && s < 300)) continue;
        char k[8];
        snprintf(k, sizeof k, "%d", s);
        vg_jw_kint(&w, k, (int64_t) r->http[s]);
    }
    vg_jw_obj_end(&w);
    vg_jw_kint(&w, "transport", (int64_t) r->transport_errors);
    vg_jw_kint(&w, "bad_response", (int64_t) r->bad_responses);
    vg_jw_kint(&w, "id_mismatch", (int64_t) r->id_mismatch);
    vg_jw_key(&w, "items");
    vg_jw_obj_begin(&w);
    for (int i = 0; i < LG_REPORT_CODES && r->items[i].code[0]; i++)
        vg_jw_kint(&w, r->items[i].code, (int64_t) r->items[i].n);
    if (r->items_other) vg_jw_kint(&w, "other", (int64_t) r->items_other);
    vg_jw_obj_end(&w);
    vg_jw_kcstr(&w, "first", r->first_error[0] ? r->first_error : NULL);
    vg_jw_obj_end(&w);
    s_json_latency(&w, "latency_ms", &r->lat);
    s_json_latency(&w, "service_ms", &r->svc);
    vg_jw_key(&w, "quality");
    vg_jw_obj_begin(&w);
    vg_jw_kint(&w, "scored", (int64_t) lg_quality_total(&r->quality));
    s_json_confusion(&w, "anomaly", &r->quality, false);
    s_json_confusion(&w, "not_allow", &r->quality, true);
    vg_jw_key(&w, "kinds");
    vg_jw_obj_begin(&w);
    for (int k = 0; k < LG_KIND_COUNT; k++) {
        const lg_quality_t *q = &r->quality;
        vg_jw_key(&w, lg_kind_name(k));
        vg_jw_obj_begin(&w);
        vg_jw_kbool(&w, "anomaly", lg_kind_is_anomaly(k));
        vg_jw_kint(&w, "n", (int64_t) q->n[k]);
        vg_jw_knum(&w, "anomaly_rate", s_share(q->anomaly[k], q->n[k]));
        vg_jw_knum(&w, "not_allow_rate", s_share(q->flagged[k], q->n[k]));
        vg_jw_obj_end(&w);
    }
    vg_jw_obj_end(&w);
    vg_jw_obj_end(&w);
    vg_jw_obj_end(&w);
    fwrite(w.buf, 1, w.len, f);
    fputc('\n', f);
    vg_jw_fini(&w);
}
