/* vg_mlflow.h: optional MLflow experiment tracking over its REST API
 * (/api/2.0/mlflow/...), the only module that includes libcurl. Active
 * only when MLFLOW_TRACKING_URI is set (http or https); authentication
 * from MLFLOW_TRACKING_TOKEN (bearer) or MLFLOW_TRACKING_USERNAME /
 * MLFLOW_TRACKING_PASSWORD (basic). Blocking; for the offline trainer
 * only, never in a node. */
#ifndef VG_MLFLOW_H
#define VG_MLFLOW_H

#include <stdbool.h>
#include <stddef.h>

typedef struct vg_mlflow vg_mlflow_t;

/* When MLFLOW_TRACKING_URI is unset or empty: *out = NULL, returns 0 and
 * nothing happens. Otherwise finds or creates the experiment (name:
 * MLFLOW_EXPERIMENT_NAME, else `experiment`) and creates a run named
 * run_name. Returns 0 with *out the run, or VG_ERR_IO / VG_ERR_PROTO with
 * a message in errbuf (*out NULL). */
int vg_mlflow_start(const char *experiment, const char *run_name, vg_mlflow_t **out, char *errbuf,
                    size_t errlen);

/* Queue a parameter (value truncated to 500 bytes) or a finite metric;
 * both are sent by vg_mlflow_finish in one log-batch call. */
void vg_mlflow_param(vg_mlflow_t *run, const char *key, const char *value);
void vg_mlflow_metric(vg_mlflow_t *run, const char *key, double value);

/* The run's id ("" before it was created); valid as long as run. */
const char *vg_mlflow_run_id(const vg_mlflow_t *run);

/* Logs the queued params and metrics, sets the run FINISHED (ok) or
 * FAILED, frees it and clears *run_p (accepts NULL). Returns 0 or a
 * vg_err with a message in errbuf. */
int vg_mlflow_finish(vg_mlflow_t **run_p, bool ok, char *errbuf, size_t errlen);

#endif
