/*
 * Smoke test (and micro-benchmark) of a Flipt engine library through its C ABI, loaded with
 * dlopen as the official SDKs load it. Every function and its *_ffi twin is called, with good
 * and bad input, and every string returned is freed, so that valgrind can check the library.
 *
 *   engine_smoke LIB URL SEED_FILE                      smoke test; ends "N passed, M failed"
 *   engine_smoke LIB URL SEED_FILE REQUESTS.jsonl N     also times N passes over the requests
 *
 * URL is the server the engine is told about (a refused port: it runs on the seed, under
 * the fallback strategy). Each line of REQUESTS.jsonl is a request object whose "type" is
 * "variant" or "boolean" (extra keys are ignored by the engine).
 */
#define _POSIX_C_SOURCE 200809L
#include <dlfcn.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "../../include/flipt_engine.h"

typedef void *(*init_fn)(const char *);
typedef void (*destroy_fn)(void *);
typedef void (*free_fn)(char *);
typedef const char *(*eval_fn)(void *, const char *);
typedef const char *(*get_fn)(void *);

/* The types used below are those the header declares (nothing is linked: typeof only). */
#define SAME(f, t) _Static_assert(__builtin_types_compatible_p(__typeof__(&f), t), #f)
SAME(initialize_engine, init_fn); SAME(initialize_engine_ffi, init_fn);
SAME(destroy_engine, destroy_fn); SAME(destroy_engine_ffi, destroy_fn);
SAME(destroy_string, free_fn); SAME(destroy_string_ffi, free_fn);
SAME(evaluate_variant, eval_fn); SAME(evaluate_variant_ffi, eval_fn);
SAME(evaluate_boolean, eval_fn); SAME(evaluate_boolean_ffi, eval_fn);
SAME(evaluate_batch, eval_fn); SAME(evaluate_batch_ffi, eval_fn);
SAME(update_authentication, eval_fn); SAME(update_authentication_ffi, eval_fn);
SAME(list_flags, get_fn); SAME(list_flags_ffi, get_fn);
SAME(get_snapshot, get_fn); SAME(get_snapshot_ffi, get_fn);
#undef SAME

struct api {
    init_fn initialize_engine;
    destroy_fn destroy_engine;
    free_fn destroy_string;
    eval_fn evaluate_variant, evaluate_boolean, evaluate_batch, update_authentication;
    get_fn list_flags, get_snapshot;
};

static int passed, failed;

static void check(int ok, const char *what, const char *detail) {
    if (ok) {
        passed++;
    } else {
        failed++;
        printf("FAIL %s: %.300s\n", what, detail ? detail : "(null)");
    }
}

static void *sym(void *lib, const char *name) {
    void *p = dlsym(lib, name);
    check(p != NULL, "symbol is exported", name);
    return p;
}

/* Loads the nine functions, or their *_ffi twins. */
static int load(void *lib, struct api *a, const char *suffix) {
    char name[64];
#define LOAD(field)                                                  \
    snprintf(name, sizeof name, "%s%s", #field, suffix);              \
    *(void **)&a->field = sym(lib, name);                              \
    if (!a->field) return 0;
    LOAD(initialize_engine) LOAD(destroy_engine) LOAD(destroy_string) LOAD(evaluate_variant)
    LOAD(evaluate_boolean) LOAD(evaluate_batch) LOAD(update_authentication) LOAD(list_flags)
    LOAD(get_snapshot)
#undef LOAD
    return 1;
}

static char *read_file(const char *path) {
    FILE *f = fopen(path, "rb");
    if (!f) return NULL;
    fseek(f, 0, SEEK_END);
    long n = ftell(f);
    fseek(f, 0, SEEK_SET);
    char *buf = malloc((size_t)n + 1);
    if (buf && fread(buf, 1, (size_t)n, f) != (size_t)n) {
        free(buf);
        buf = NULL;
    }
    if (buf) {
        buf[n] = 0;
        while (n > 0 && (buf[n - 1] == '\n' || buf[n - 1] == '\r')) buf[--n] = 0;
    }
    fclose(f);
    return buf;
}

static double now_ns(void) {
    struct timespec t;
    clock_gettime(CLOCK_MONOTONIC, &t);
    return (double)t.tv_sec * 1e9 + (double)t.tv_nsec;
}

/* Calls f, checks the answer contains `want`, frees it. */
static void expect(const struct api *a, const char *answer, const char *want, const char *what) {
    check(answer != NULL && strstr(answer, want) != NULL, what, answer);
    if (answer) a->destroy_string((char *)answer);
}

static void smoke(const struct api *a, const char *options, const char *label) {
    char what[128];
#define W(s) (snprintf(what, sizeof what, "%s: %s", label, s), what)
    double t0 = now_ns();
    void *e = a->initialize_engine(options);
    printf("%s: initialize_engine took %.2f ms\n", label, (now_ns() - t0) / 1e6);
    check(e != NULL, W("initialize_engine"), "null");
    if (!e) return;
    expect(a, a->evaluate_variant(e, "{\"namespace_key\":\"default\",\"flag_key\":\"checkout-theme\","
                                     "\"entity_id\":\"user-1\",\"context\":{\"plan\":\"pro\",\"age\":\"30\"}}"),
           "\"variant_key\":\"blue\"", W("evaluate_variant"));
    expect(a, a->evaluate_boolean(e, "{\"namespace_key\":\"default\",\"flag_key\":\"new-search\","
                                     "\"entity_id\":\"user-5\",\"context\":{}}"),
           "\"status\":\"success\"", W("evaluate_boolean"));
    expect(a, a->evaluate_batch(e, "[{\"namespace_key\":\"default\",\"flag_key\":\"new-search\",\"entity_id\":\"u\",\"context\":{}},"
                                   "{\"namespace_key\":\"default\",\"flag_key\":\"nope\",\"entity_id\":\"u\",\"context\":{}}]"),
           "ERROR_EVALUATION_RESPONSE_TYPE", W("evaluate_batch"));
    expect(a, a->list_flags(e), "\"checkout-theme\"", W("list_flags"));
    expect(a, a->get_snapshot(e), "eyJ", W("get_snapshot"));
    expect(a, a->update_authentication(e, "{\"client_token\":\"secret\"}"), "\"status\":\"success\"",
           W("update_authentication"));
    expect(a, a->update_authentication(e, "\"none\""), "\"status\":\"success\"", W("update_authentication none"));
    expect(a, a->evaluate_boolean(e, "{\"namespace_key\":\"default\",\"flag_key\":\"nope\",\"entity_id\":\"u\",\"context\":{}}"),
           "failed to get flag information default/nope", W("a missing flag"));
    /* Bad input: failure envelopes, never a crash. */
    expect(a, a->evaluate_variant(e, NULL), "\"status\":\"failure\"", W("a null request"));
    expect(a, a->evaluate_variant(NULL, "{}"), "\"status\":\"failure\"", W("a null engine"));
    expect(a, a->evaluate_variant(e, "{not json"), "\"status\":\"failure\"", W("invalid JSON"));
    expect(a, a->evaluate_batch(e, "{}"), "\"status\":\"failure\"", W("a batch that is no array"));
    expect(a, a->evaluate_boolean(e, "{\"flag_key\":\"\xff\xfe\"}"), "\"status\":\"failure\"", W("invalid UTF-8"));
    expect(a, a->update_authentication(e, "{\"client_token\":1}"), "\"status\":\"failure\"", W("invalid auth"));
    expect(a, a->list_flags(NULL), "\"status\":\"failure\"", W("list_flags of null"));
    a->destroy_string(NULL);
    t0 = now_ns();
    a->destroy_engine(e);
    printf("%s: destroy_engine took %.2f ms\n", label, (now_ns() - t0) / 1e6);
    a->destroy_engine(NULL);

    /* Invalid options: an engine that answers failures naming the option. */
    e = a->initialize_engine("{\"fetch_mode\":\"sse\"}");
    check(e != NULL, W("initialize_engine with invalid options"), "null");
    if (e) {
        expect(a, a->list_flags(e), "fetch_mode", W("invalid options are reported"));
        a->destroy_engine(e);
    }
    e = a->initialize_engine(NULL);
    check(e != NULL, W("initialize_engine(NULL)"), "null");
    if (e) {
        expect(a, a->get_snapshot(e), "\"status\":\"failure\"", W("an engine without options"));
        a->destroy_engine(e);
    }
#undef W
}

/* Times `passes` passes over the requests; prints ns per call of each kind. */
static void bench(const struct api *a, const char *options, const char *path, int passes) {
    char *text = read_file(path);
    if (!text) {
        check(0, "read the requests", path);
        return;
    }
    size_t count = 0, cap = 1024;
    char **lines = malloc(cap * sizeof *lines);
    /* The official engine requires namespace_key: put it first in every request. */
    static const char head[] = "{\"namespace_key\":\"default\",";
    for (char *line = strtok(text, "\n"); line; line = strtok(NULL, "\n")) {
        if (line[0] != '{') continue;
        if (count == cap) lines = realloc(lines, (cap *= 2) * sizeof *lines);
        char *full = malloc(strlen(line) + sizeof head);
        strcpy(full, head);
        strcat(full, line + 1);
        lines[count++] = full;
    }
    double t0 = now_ns();
    void *e = a->initialize_engine(options);
    printf("bench: initialize_engine with the seed took %.2f ms\n", (now_ns() - t0) / 1e6);
    double ns[2] = {0, 0};
    long calls[2] = {0, 0}, failures = 0;
    for (int p = 0; p < passes; p++) {
        for (size_t i = 0; i < count; i++) {
            int boolean = strstr(lines[i], "\"type\": \"boolean\"") || strstr(lines[i], "\"type\":\"boolean\"");
            double s = now_ns();
            const char *answer = boolean ? a->evaluate_boolean(e, lines[i]) : a->evaluate_variant(e, lines[i]);
            ns[boolean] += now_ns() - s;
            calls[boolean]++;
            static const char ok[] = "{\"status\":\"success\"";
            if (!answer || strncmp(answer, ok, sizeof ok - 1) != 0) failures++;
            a->destroy_string((char *)answer);
        }
    }
    printf("bench: variant %.0f ns/call, boolean %.0f ns/call (answer freed; %ld calls, %ld failures)\n",
           calls[0] ? ns[0] / calls[0] : 0, calls[1] ? ns[1] / calls[1] : 0, calls[0] + calls[1], failures);
    check(failures == 0, "every benchmark request succeeds", NULL);
    a->destroy_engine(e);
    for (size_t i = 0; i < count; i++) free(lines[i]);
    free(lines);
    free(text);
}

int main(int argc, char **argv) {
    if (argc != 4 && argc != 6) {
        fprintf(stderr, "usage: engine_smoke LIB URL SEED_FILE [REQUESTS.jsonl PASSES]\n");
        return 2;
    }
    void *lib = dlopen(argv[1], RTLD_NOW | RTLD_LOCAL);
    if (!lib) {
        fprintf(stderr, "dlopen: %s\n", dlerror());
        return 2;
    }
    char *seed = read_file(argv[3]);
    if (!seed) {
        fprintf(stderr, "cannot read %s\n", argv[3]);
        return 2;
    }
    size_t n = strlen(seed) + strlen(argv[2]) + 128;
    char *options = malloc(n);
    snprintf(options, n, "{\"url\":\"%s\",\"error_strategy\":\"fallback\",\"snapshot\":\"%s\"}", argv[2], seed);

    struct api plain, twin;
    if (load(lib, &plain, "") && load(lib, &twin, "_ffi")) {
        if (argc == 6) {
            bench(&plain, options, argv[4], atoi(argv[5]));
        } else {
            smoke(&plain, options, "plain");
            smoke(&twin, options, "_ffi");
        }
    }
    free(options);
    free(seed);
    printf("%d passed, %d failed\n", passed, failed);
    return failed ? 1 : 0;
}
