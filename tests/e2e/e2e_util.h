/* e2e_util.h: helpers for end-to-end tests: start/stop a real vigil-node
 * on a free loopback port and temp data dir, and a small HTTP client
 * (libcurl) returning status + parsed JSON (jansson). */
#ifndef E2E_UTIL_H
#define E2E_UTIL_H

#include <curl/curl.h>
#include <jansson.h>
#include <netinet/in.h>
#include <signal.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/prctl.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

typedef struct {
    pid_t pid;
    int port;
    char dir[256];
    char url[64];
    char log[300];
} e2e_node_t;

typedef struct {
    long status;
    char *body;
    size_t len;
    json_t *json; /* NULL if the body is not JSON */
} e2e_resp_t;

/* True if a loopback TCP port can be bound now. */
static inline bool e2e_port_free(int port)
{
    int fd = socket(AF_INET, SOCK_STREAM, 0);
    struct sockaddr_in a = {.sin_family = AF_INET,
                            .sin_port = htons((uint16_t) port),
                            .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
    bool ok = fd >= 0 && bind(fd, (struct sockaddr *) &a, sizeof a) == 0;
    if (fd >= 0) close(fd);
    return ok;
}

/* A free loopback port BELOW the kernel's ephemeral range: servers in the
 * tests are stopped and restarted on the same port, and a port in that
 * range can meanwhile become a client's local port (or a reconnecting
 * client's connection to itself), failing the restart. Falls back to a
 * port the kernel picks. */
static inline int e2e_free_port(void)
{
    static unsigned state;
    if (!state) state = (unsigned) getpid() * 2654435761u ^ (unsigned) time(NULL);
    int lo = 32768;
    FILE *f = fopen("/proc/sys/net/ipv4/ip_local_port_range", "r");
    if (f) {
        if (fscanf(f, "%d", &lo) != 1) lo = 32768;
        fclose(f);
    }
    for (int i = 0; lo > 22000 && i < 200; i++) {
        state = state * 1103515245u + 12345u;
        int port = 20000 + (int) ((state >> 8) % (unsigned) (lo - 20000));
        if (e2e_port_free(port)) return port;
    }
    int fd = socket(AF_INET, SOCK_STREAM, 0);
    struct sockaddr_in a = {.sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
    socklen_t len = sizeof a;
    if (bind(fd, (struct sockaddr *) &a, sizeof a) || getsockname(fd, (struct sockaddr *) &a, &len))
        abort();
    int port = ntohs(a.sin_port);
    close(fd);
    return port;
}

/* A cluster listen port p for vigil-node: p and p + 1000 (its default
 * raft port) both free. */
static inline int e2e_free_listen_port(void)
{
    for (int i = 0; i < 200; i++) {
        int p = e2e_free_port();
        if (p < 64000 && e2e_port_free(p + 1000)) return p;
    }
    abort();
}

static size_t e2e_write_cb(char *p, size_t s, size_t n, void *arg)
{
    e2e_resp_t *r = arg;
    r->body = realloc(r->body, r->len + s * n + 1);
    memcpy(r->body + r->len, p, s * n);
    r->len += s * n;
    r->body[r->len] = 0;
    return s * n;
}

static inline void e2e_resp_free(e2e_resp_t *r)
{
    free(r->body);
    if (r->json) json_decref(r->json);
    memset(r, 0, sizeof *r);
}

/* method "GET"/"POST"/...; body may be NULL. */
static inline e2e_resp_t e2e_http(const e2e_node_t *n, const char *method, const char *path,
                                  const char *body, size_t len, const char *content_type)
{
    e2e_resp_t r = {0};
    CURL *c = curl_easy_init();
    char url[20480]; /* long enough for merged cursors */
    snprintf(url, sizeof url, "%s%s", n->url, path);
    curl_easy_setopt(c, CURLOPT_URL, url);
    curl_easy_setopt(c, CURLOPT_CUSTOMREQUEST, method);
    curl_easy_setopt(c, CURLOPT_WRITEFUNCTION, e2e_write_cb);
    curl_easy_setopt(c, CURLOPT_WRITEDATA, &r);
    curl_easy_setopt(c, CURLOPT_TIMEOUT, 30L);
    struct curl_slist *h = NULL;
    if (body) {
        curl_easy_setopt(c, CURLOPT_POSTFIELDS, body);
        curl_easy_setopt(c, CURLOPT_POSTFIELDSIZE_LARGE, (curl_off_t) len);
        char ct[128];
        snprintf(ct, sizeof ct, "Content-Type: %s",
                 content_type ? content_type : "application/json");
        h = curl_slist_append(h, ct);
        curl_easy_setopt(c, CURLOPT_HTTPHEADER, h);
    }
    if (curl_easy_perform(c) != CURLE_OK)
        r.status = -1;
    else
        curl_easy_getinfo(c, CURLINFO_RESPONSE_CODE, &r.status);
    curl_slist_free_all(h);
    curl_easy_cleanup(c);
    if (r.body) r.json = json_loads(r.body, 0, NULL);
    return r;
}

static inline e2e_resp_t e2e_post(const e2e_node_t *n, const char *path, const char *body)
{
    return e2e_http(n, "POST", path, body, strlen(body), NULL);
}

static inline e2e_resp_t e2e_get(const e2e_node_t *n, const char *path)
{
    return e2e_http(n, "GET", path, NULL, 0, NULL);
}

/* In a forked child: SIGKILL when the test process (the forking thread:
 * spawn from the test's main thread only) ends, so a failed assertion
 * never leaves servers behind holding ctest's output pipe open. */
static inline void e2e_die_with_parent(pid_t parent)
{
    prctl(PR_SET_PDEATHSIG, SIGKILL);
    if (getppid() != parent) _exit(127); /* the parent is already gone */
}

static inline const char *e2e_bin(void)
{
    static char path[512];
    const char *b = getenv("VG_BINARY_DIR");
    snprintf(path, sizeof path, "%s/bin/vigil-node", b ? b : "build");
    return path;
}

/* Starts vigil-node --gateway with extra args (NULL-terminated list);
 * waits until /readyz answers 200. Keeps n->dir (reused on restart). */
static inline int e2e_start(e2e_node_t *n, const char *const *extra)
{
    if (!n->dir[0]) {
        snprintf(n->dir, sizeof n->dir, "/tmp/vigil-e2e-XXXXXX");
        if (!mkdtemp(n->dir)) return -1;
    }
    n->port = e2e_free_port();
    snprintf(n->url, sizeof n->url, "http://127.0.0.1:%d", n->port);
    snprintf(n->log, sizeof n->log, "%s/node.log", n->dir);
    char listen[64], data[300];
    snprintf(listen, sizeof listen, "127.0.0.1:%d", n->port);
    snprintf(data, sizeof data, "%s/data", n->dir);
    const char *argv[32] = {e2e_bin(), "--gateway", "--http", listen,           "--data-dir",
                            data,      "--workers", "2",      "--http-threads", "8"};
    int argc = 10;
    for (int i = 0; extra && extra[i] && argc < 31; i++) argv[argc++] = extra[i];
    argv[argc] = NULL;
    pid_t parent = getpid();
    n->pid = fork();
    if (n->pid == 0) {
        e2e_die_with_parent(parent);
        FILE *f = freopen(n->log, "a", stderr);
        (void) f;
        execv(argv[0], (char *const *) argv);
        _exit(127);
    }
    for (int i = 0; i < 300; i++) { /* up to 15 s (sanitizer builds start slowly) */
        e2e_resp_t r = e2e_get(n, "/readyz");
        long st = r.status;
        e2e_resp_free(&r);
        if (st == 200) return 0;
        int status;
        if (waitpid(n->pid, &status, WNOHANG) == n->pid) return -1;
        usleep(50000);
    }
    return -1;
}

/* Sends sig and waits; returns the exit status (or 128+signal). */
static inline int e2e_stop(e2e_node_t *n, int sig)
{
    if (n->pid <= 0) return -1;
    kill(n->pid, sig);
    int status = 0;
    waitpid(n->pid, &status, 0);
    n->pid = 0;
    return WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status);
}

/* Kills the node and removes its dir (VG_E2E_KEEP=1 keeps it, and says
 * where, for a look at the node's log after a failure). */
static inline void e2e_cleanup(e2e_node_t *n)
{
    if (n->pid > 0) e2e_stop(n, SIGKILL);
    if (getenv("VG_E2E_KEEP") && n->dir[0]) {
        fprintf(stderr, "e2e: kept %s\n", n->dir);
        return;
    }
    char cmd[400];
    snprintf(cmd, sizeof cmd, "rm -rf '%s'", n->dir);
    if (n->dir[0] && strncmp(n->dir, "/tmp/vigil-e2e-", 15) == 0) {
        int rc = system(cmd);
        (void) rc;
    }
}

/* Starts argv (argv[0] a path) with its stderr appended to log; the pid. */
static inline pid_t e2e_spawn(const char *const *argv, const char *log)
{
    pid_t parent = getpid();
    pid_t pid = fork();
    if (pid == 0) {
        e2e_die_with_parent(parent);
        FILE *f = freopen(log, "a", stderr);
        (void) f;
        execv(argv[0], (char *const *) argv);
        _exit(127);
    }
    return pid;
}

/* Runs bin/NAME of the build with args (NULL-terminated) to completion,
 * stdout and stderr into log (truncated first); its exit code, -1 if it
 * did not exit normally. If out is given, the output is copied there. */
static inline int e2e_run(const char *name, const char *const *args, const char *log, char *out,
                          size_t cap)
{
    char bin[512];
    snprintf(bin, sizeof bin, "%s/bin/%s",
             getenv("VG_BINARY_DIR") ? getenv("VG_BINARY_DIR") : "build", name);
    const char *argv[32] = {bin};
    size_t n = 1;
    for (size_t k = 0; args[k] && n < 31; k++) argv[n++] = args[k];
    argv[n] = NULL;
    pid_t pid = fork();
    if (pid == 0) {
        FILE *f = freopen(log, "w", stdout);
        (void) f;
        dup2(1, 2);
        execv(argv[0], (char *const *) argv);
        _exit(127);
    }
    int status = 0;
    waitpid(pid, &status, 0);
    if (out && cap) {
        FILE *f = fopen(log, "r");
        size_t got = f ? fread(out, 1, cap - 1, f) : 0;
        out[got] = 0;
        if (f) fclose(f);
    }
    return WIFEXITED(status) ? WEXITSTATUS(status) : -1;
}

#endif
