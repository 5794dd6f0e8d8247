/* vt_pg.h: a throw-away PostgreSQL server for tests and benchmarks, driven
 * through tests/pg/pg_server.sh (initdb in a temp dir, a free loopback
 * port, stop/start keeping the port, psql for checks), and fresh databases
 * on it. Header-only; the script's path comes from VT_PG_SERVER_SH. */
#ifndef VT_PG_H
#define VT_PG_H

#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#ifndef VT_PG_SERVER_SH
#define VT_PG_SERVER_SH "tests/pg/pg_server.sh"
#endif

typedef struct {
    char dir[64];   /* the server's temp dir */
    char dsn[256];  /* of database postgres */
    bool fast;      /* fsync off (tests) */
    char opts[256]; /* extra postgres -c options (PG_SERVER_OPTS) */
} vt_pg_t;

/* Runs the script with cmd, dir and up to two args (NULL ends them); its
 * stdout (trailing newlines removed) into out. Returns the exit status
 * (-1: not run). */
static inline int vt_pg_script2(const vt_pg_t *s, const char *cmd, const char *arg,
                                const char *arg2, char *out, size_t cap)
{
    int fds[2];
    if (pipe(fds)) return -1;
    pid_t pid = fork();
    if (pid < 0) return -1;
    if (pid == 0) {
        dup2(fds[1], 1);
        close(fds[0]);
        close(fds[1]);
        if (s->fast) setenv("PG_SERVER_FAST", "1", 1);
        if (s->opts[0]) setenv("PG_SERVER_OPTS", s->opts, 1);
        const char *sh = getenv("VT_PG_SERVER_SH") ? getenv("VT_PG_SERVER_SH") : VT_PG_SERVER_SH;
        execl("/bin/bash", "bash", sh, cmd, s->dir, arg, arg ? arg2 : NULL, (char *) NULL);
        _exit(127);
    }
    close(fds[1]);
    size_t len = 0;
    char tmp[4096];
    ssize_t n;
    while ((n = read(fds[0], tmp, sizeof tmp)) > 0)
        for (ssize_t i = 0; i < n; i++)
            if (out && len + 1 < cap) out[len++] = tmp[i];
    close(fds[0]);
    if (out && cap) {
        while (len && out[len - 1] == '\n') len--;
        out[len] = 0;
    }
    int status;
    if (waitpid(pid, &status, 0) != pid) return -1;
    return WIFEXITED(status) ? WEXITSTATUS(status) : -1;
}

static inline int vt_pg_script(const vt_pg_t *s, const char *cmd, const char *arg, char *out,
                               size_t cap)
{
    return vt_pg_script2(s, cmd, arg, NULL, out, cap);
}

/* initdb + start in a new temp dir; 0 or -1. */
static inline int vt_pg_start(vt_pg_t *s, bool fast)
{
    strcpy(s->dir, "/tmp/vg_pg.XXXXXX");
    if (!mkdtemp(s->dir)) return -1;
    s->fast = fast;
    return vt_pg_script(s, "start", NULL, s->dsn, sizeof s->dsn) == 0 && s->dsn[0] ? 0 : -1;
}

/* Stop (data kept) / start again on the same port. */
static inline int vt_pg_stop(vt_pg_t *s)
{
    return vt_pg_script(s, "stop", NULL, NULL, 0);
}

static inline int vt_pg_restart(vt_pg_t *s)
{
    char dsn[256];
    return vt_pg_script(s, "start", NULL, dsn, sizeof dsn);
}

static inline void vt_pg_destroy(vt_pg_t *s)
{
    if (s->dir[0]) vt_pg_script(s, "destroy", NULL, NULL, 0);
    s->dir[0] = 0;
}

/* psql -c sql on database db (NULL = postgres); unaligned tuples into out
 * (may be NULL). Returns psql's exit status. */
static inline int vt_pg_sql(const vt_pg_t *s, const char *db, const char *sql, char *out,
                            size_t cap)
{
    return vt_pg_script2(s, "sql", sql, db, out, cap);
}

/* CREATE DATABASE name; its DSN into dsn (256 bytes). 0 or -1. */
static inline int vt_pg_createdb(const vt_pg_t *s, const char *name, char *dsn)
{
    char sql[160];
    snprintf(sql, sizeof sql, "DROP DATABASE IF EXISTS %s", name);
    if (vt_pg_sql(s, NULL, sql, NULL, 0)) return -1;
    snprintf(sql, sizeof sql, "CREATE DATABASE %s", name);
    if (vt_pg_sql(s, NULL, sql, NULL, 0)) return -1;
    snprintf(dsn, 256, "%s dbname=%s", s->dsn, name); /* the last dbname wins */
    return 0;
}

#endif
