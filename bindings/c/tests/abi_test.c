/* The C ABI of GraveyardDB (bindings/c/include/graveyard.h) exercised from C against the real
 * library: every export, on embedded stores in a temporary directory, and once against a real
 * node when its binary is given. Built and run by scripts/test-c.sh under AddressSanitizer,
 * LeakSanitizer and UBSan, so besides the results it checks that the library never reads or
 * writes out of bounds of what C hands it and that everything it hands out is freed by the
 * frees the header documents: this program frees every buffer, error and handle it receives.
 *
 *   abi_test [TEST...]     runs the named tests (all by default); `abi_test --list` names them.
 *
 * Environment: GY_SERVER_BIN, the node binary for the `node` test (skipped when unset or
 * missing).
 *
 * Every check names the test, the line and what was expected; any failure exits non-zero at
 * once (with _exit, so that LeakSanitizer does not pile reports about what the failed test
 * could not free onto the real failure). After the tests, every handle issued must have been
 * freed (check_no_live_handles: LeakSanitizer cannot see handles). */

#define _GNU_SOURCE /* memmem, mkdtemp, nftw, environ, prctl */

#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <ftw.h>
#include <inttypes.h>
#include <netinet/in.h>
#include <pthread.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "graveyard.h"

extern char **environ;

/* The error codes of docs/boundary.md: the header has only the C ABI's own outcomes. */
enum {
    WRONG_EXPECTED_VERSION = 1,
    STREAM_DELETED = 2,
    SCHEMA_VIOLATION = 3,
    INVALID_SCHEMA = 4,
    INVALID_ARGUMENT = 5,
    NOT_FOUND = 6,
    ENCRYPTION = 7,
    UNAVAILABLE = 10,
    CLOSED = 11,
    INTERNAL = 15,
    UNSUPPORTED = 16,
};

/* ---- failing ------------------------------------------------------------------------------- */

static const char *current_test = "setup";
static char tmp_root[256];
static volatile pid_t node_pid; /* the node of the `node` test, killed on any exit */

static void node_kill(void);
static int rm_entry(const char *path, const struct stat *st, int flag, struct FTW *ftw);

static _Noreturn void fail_exit(void) {
    node_kill();
    fprintf(stderr, "abi_test: FAILED in test '%s' (temporary files kept in %s)\n", current_test, tmp_root);
    fflush(stdout);
    fflush(stderr);
    _exit(1);
}

#define FAIL(...)                                                                   \
    do {                                                                            \
        fprintf(stderr, "FAIL [%s] %s:%d: ", current_test, __FILE__, __LINE__);     \
        fprintf(stderr, __VA_ARGS__);                                               \
        fputc('\n', stderr);                                                        \
        fail_exit();                                                                \
    } while (0)

#define CHECK(cond, ...)                                                            \
    do {                                                                            \
        if (!(cond)) {                                                              \
            fprintf(stderr, "FAIL [%s] %s:%d: (%s) ", current_test, __FILE__,       \
                    __LINE__, #cond);                                               \
            fprintf(stderr, __VA_ARGS__);                                           \
            fputc('\n', stderr);                                                    \
            fail_exit();                                                            \
        }                                                                           \
    } while (0)

/* A bug this test found in the library, since fixed: the check holds the fix. */
#define REGRESSION(cond, ...)                                                       \
    do {                                                                            \
        if (!(cond)) {                                                              \
            fprintf(stderr, "REGRESSION [%s] %s:%d: ", current_test, __FILE__,      \
                    __LINE__);                                                      \
            fprintf(stderr, __VA_ARGS__);                                           \
            fputc('\n', stderr);                                                    \
            fail_exit();                                                            \
        }                                                                           \
    } while (0)

/* Checks a call's status. On an error code (> 0) the error must be filled with the same code
 * and a message; on success and on the C ABI's own outcomes (<= 0) it must be left alone
 * (this file keeps every gy_error zeroed between calls, so "alone" is "still zeroed"). The
 * error is released afterwards unless `keep`. */
static void expect_status(int32_t got, int32_t want, gy_error *err, bool keep, const char *call,
                          const char *file, int line) {
    if (got != want) {
        fprintf(stderr, "FAIL [%s] %s:%d: %s\n    returned %d, expected %d; error: code %d, %s%s%s\n",
                current_test, file, line, call, got, want, err ? err->code : 0,
                err && err->message ? err->message : "(no message)", err && err->details ? ", details " : "",
                err && err->details ? err->details : "");
        fail_exit();
    }
    if (err) {
        if (got > 0) {
            if (err->code != got || !err->message || !err->message[0]) {
                fprintf(stderr, "FAIL [%s] %s:%d: %s\n    returned %d but the error says code %d, message %s\n",
                        current_test, file, line, call, got, err->code, err->message ? err->message : "(null)");
                fail_exit();
            }
        } else if (err->code != 0 || err->message || err->details) {
            fprintf(stderr, "FAIL [%s] %s:%d: %s\n    returned %d but filled the error (code %d)\n",
                    current_test, file, line, call, got, err->code);
            fail_exit();
        }
        if (!keep) gy_error_free(err);
    }
}

/* EXPECT(call, status): uses and releases the test's `err`. EXPECT_KEEP leaves it filled for
 * the caller to inspect (and free). */
#define EXPECT(call, want) expect_status((call), (want), &err, false, #call, __FILE__, __LINE__)
#define EXPECT_KEEP(call, want) expect_status((call), (want), &err, true, #call, __FILE__, __LINE__)
#define OK(call) EXPECT(call, GY_OK)

/* A string argument: pointer and length (the ABI never reads a NUL terminator). */
#define S(s) (const uint8_t *)(s), strlen(s)

static void begin(const char *name) {
    current_test = name;
    printf("--- %s\n", name);
    fflush(stdout);
    /* A call that never returns (a `next` that misses its wake-up) fails the run instead of
     * hanging it. */
    alarm(120);
}

static void on_alarm(int sig) {
    (void)sig;
    static const char msg[] = "FAIL: abi_test: a test took longer than 120 s (a call hangs)\n";
    if (write(2, msg, sizeof msg - 1) < 0) {
        /* nothing more can be said */
    }
    if (node_pid > 0) kill(node_pid, SIGKILL);
    _exit(1);
}

static void sleep_ms(long ms) {
    struct timespec t = {ms / 1000, (ms % 1000) * 1000000L};
    while (nanosleep(&t, &t) != 0 && errno == EINTR) {
    }
}

static int64_t now_micros(void) {
    struct timespec t;
    clock_gettime(CLOCK_REALTIME, &t);
    return (int64_t)t.tv_sec * 1000000 + t.tv_nsec / 1000;
}

static void *xmalloc(size_t n) {
    void *p = malloc(n ? n : 1);
    if (!p) FAIL("out of memory");
    return p;
}

/* ---- packing events (docs/boundary.md, "Events to append") ---------------------------------- */

typedef struct {
    uint8_t *p;
    size_t len, cap;
} bytes_t;

static void bb_put(bytes_t *b, const void *src, size_t n) {
    if (b->len + n > b->cap) {
        size_t cap = b->cap ? b->cap * 2 : 64;
        while (cap < b->len + n) cap *= 2;
        uint8_t *p = realloc(b->p, cap);
        if (!p) FAIL("out of memory");
        b->p = p;
        b->cap = cap;
    }
    if (n) memcpy(b->p + b->len, src, n);
    b->len += n;
}

static void bb_u8(bytes_t *b, uint8_t v) { bb_put(b, &v, 1); }

static void bb_u32(bytes_t *b, uint32_t v) {
    uint8_t le[4];
    for (int i = 0; i < 4; i++) le[i] = (uint8_t)(v >> (8 * i));
    bb_put(b, le, 4);
}

static void bb_field(bytes_t *b, const void *data, size_t n) {
    bb_u32(b, (uint32_t)n);
    bb_put(b, data, n);
}

static void bb_free(bytes_t *b) {
    free(b->p);
    *b = (bytes_t){0};
}

/* One event to append; `data`/`metadata` are text unless their lengths are given. */
typedef struct {
    const uint8_t *id; /* 16 bytes, or NULL for one the store generates (UUIDv7) */
    const char *type, *content_type;
    const void *data;
    size_t data_len;
    const void *metadata;
    size_t metadata_len;
} ev_t;

static bytes_t pack_events(const ev_t *evs, size_t n) {
    bytes_t b = {0};
    bb_u32(&b, (uint32_t)n);
    for (size_t i = 0; i < n; i++) {
        const ev_t *e = &evs[i];
        bb_u8(&b, e->id ? 1 : 0);
        if (e->id) bb_put(&b, e->id, 16);
        bb_field(&b, e->type, strlen(e->type));
        bb_field(&b, e->content_type, strlen(e->content_type));
        bb_field(&b, e->data, e->data ? (e->data_len ? e->data_len : strlen(e->data)) : 0);
        bb_field(&b, e->metadata, e->metadata ? (e->metadata_len ? e->metadata_len : strlen(e->metadata)) : 0);
    }
    return b;
}

/* ---- reading what the library hands out (docs/boundary.md, "A read event", "Other results") - */

typedef struct {
    const uint8_t *p;
    uint32_t len;
} slice_t;

typedef struct {
    slice_t stream;
    uint64_t revision, position;
    int64_t timestamp;
    uint8_t id[16];
    slice_t type, content_type, data, metadata;
    uint8_t flags;
    uint32_t schema_version;
} rec_t;

/* A bounds-checked cursor: a layout that does not match what docs/boundary.md says fails the
 * test (never a read past the buffer). */
typedef struct {
    const uint8_t *p;
    size_t len, at;
    const char *what;
} rd_t;

static const uint8_t *rd_take(rd_t *r, size_t n) {
    if (n > r->len - r->at) FAIL("%s: %zu bytes wanted at byte %zu of %zu", r->what, n, r->at, r->len);
    const uint8_t *p = r->p + r->at;
    r->at += n;
    return p;
}

static uint8_t rd_u8(rd_t *r) { return *rd_take(r, 1); }

static uint64_t rd_le(rd_t *r, int n) {
    const uint8_t *p = rd_take(r, (size_t)n);
    uint64_t v = 0;
    for (int i = n - 1; i >= 0; i--) v = (v << 8) | p[i];
    return v;
}

static slice_t rd_field(rd_t *r) {
    uint32_t n = (uint32_t)rd_le(r, 4);
    slice_t s = {rd_take(r, n), n};
    return s;
}

static void rd_end(rd_t *r) {
    if (r->at != r->len) FAIL("%s: %zu trailing bytes", r->what, r->len - r->at);
}

static void rd_event(rd_t *r, rec_t *e) {
    e->stream = rd_field(r);
    e->revision = rd_le(r, 8);
    e->position = rd_le(r, 8);
    e->timestamp = (int64_t)rd_le(r, 8);
    memcpy(e->id, rd_take(r, 16), 16);
    e->type = rd_field(r);
    e->content_type = rd_field(r);
    e->data = rd_field(r);
    e->metadata = rd_field(r);
    e->flags = rd_u8(r);
    e->schema_version = (uint32_t)rd_le(r, 4);
}

static bool slice_is(slice_t s, const char *text) {
    return s.len == strlen(text) && memcmp(s.p, text, s.len) == 0;
}

#define SLICE_IS(s, text) CHECK(slice_is((s), (text)), "expected \"%s\", got \"%.*s\"", (text), (int)(s).len, (const char *)(s).p)

/* A page: the buffer it was read from stays alive (and owned) until page_free. */
typedef struct {
    gy_buf buf;
    uint32_t count;
    rec_t *ev;
} page_t;

static page_t decode_page(gy_buf buf) {
    page_t page = {.buf = buf};
    CHECK(buf.len >= 4 && buf.data, "a page has at least its count (got %zu bytes)", buf.len);
    rd_t r = {buf.data, buf.len, 0, "a page"};
    page.count = (uint32_t)rd_le(&r, 4);
    page.ev = xmalloc(sizeof(rec_t) * (page.count ? page.count : 1));
    for (uint32_t i = 0; i < page.count; i++) rd_event(&r, &page.ev[i]);
    rd_end(&r);
    return page;
}

static void page_free(page_t *page) {
    gy_buf_free(&page->buf);
    CHECK(page->buf.data == NULL && page->buf.len == 0, "gy_buf_free empties the buffer");
    free(page->ev);
    page->ev = NULL;
}

static page_t read_stream_ok(gy_handle s, const char *stream, int32_t dir, int64_t from, int64_t limit) {
    gy_error err = {0};
    gy_buf buf = {0};
    OK(gy_read_stream(s, S(stream), dir, from, limit, 0, &buf, &err));
    return decode_page(buf);
}

static page_t read_all_ok(gy_handle s, int32_t dir, int64_t from, int64_t limit, const char *filter) {
    gy_error err = {0};
    gy_buf buf = {0};
    OK(gy_read_all(s, dir, from, limit, (const uint8_t *)filter, filter ? strlen(filter) : 0, 0, &buf, &err));
    return decode_page(buf);
}

/* A subscription message: its tag, and the event when it is one. */
static uint8_t decode_message(const gy_buf *buf, rec_t *event) {
    rd_t r = {buf->data, buf->len, 0, "a subscription message"};
    uint8_t tag = rd_u8(&r);
    CHECK(tag == 0 || tag == 1, "unknown message tag %u", tag);
    if (tag == 1) rd_event(&r, event);
    rd_end(&r);
    return tag;
}

typedef struct {
    uint64_t id;
    uint32_t attempt;
    int64_t parked_revision;
    rec_t event;
} delivery_t;

static delivery_t decode_delivery(const gy_buf *buf) {
    delivery_t d;
    rd_t r = {buf->data, buf->len, 0, "a delivery"};
    d.id = rd_le(&r, 8);
    d.attempt = (uint32_t)rd_le(&r, 4);
    d.parked_revision = (int64_t)rd_le(&r, 8);
    rd_event(&r, &d.event);
    rd_end(&r);
    return d;
}

/* Whether a JSON buffer (not NUL-terminated) holds `needle`: serde writes compact JSON, so the
 * fields this file looks for have one spelling. */
static bool buf_has(const gy_buf *buf, const char *needle) {
    return buf->data && memmem(buf->data, buf->len, needle, strlen(needle)) != NULL;
}

#define JSON_HAS(buf, needle) \
    CHECK(buf_has(&(buf), (needle)), "expected %s in %.*s", (needle), (int)(buf).len, (const char *)(buf).data)
#define JSON_LACKS(buf, needle) \
    CHECK(!buf_has(&(buf), (needle)), "did not expect %s in %.*s", (needle), (int)(buf).len, (const char *)(buf).data)

/* ---- stores and threads ------------------------------------------------------------------- */

static void path_of(char *out, size_t n, const char *name) {
    int w = snprintf(out, n, "%s/%s", tmp_root, name);
    CHECK(w > 0 && (size_t)w < n, "path too long");
}

static gy_handle open_store(const char *name, int32_t durability, const uint8_t *key) {
    gy_error err = {0};
    char path[512];
    path_of(path, sizeof path, name);
    gy_handle h = 0;
    OK(gy_open(S(path), durability, 0, 0, 0, 0, key, key ? 32 : 0, &h, &err));
    CHECK(h != 0, "0 is never a handle");
    return h;
}

/* Appends single-text-event batches quickly; returns the append result. */
static void append_one(gy_handle s, const char *stream, const char *type, const char *data, uint64_t out[4]) {
    gy_error err = {0};
    ev_t e = {.type = type, .content_type = "application/json", .data = data};
    bytes_t b = pack_events(&e, 1);
    uint64_t res[4] = {0};
    OK(gy_append(s, S(stream), 0, 0, b.p, b.len, 0, &res, &err));
    bb_free(&b);
    if (out) memcpy(out, res, sizeof res);
}

static pthread_t spawn(void *(*fn)(void *), void *arg) {
    pthread_t t;
    int rc = pthread_create(&t, NULL, fn, arg);
    CHECK(rc == 0, "pthread_create: %s", strerror(rc));
    return t;
}

static void join(pthread_t t) {
    int rc = pthread_join(t, NULL);
    CHECK(rc == 0, "pthread_join: %s", strerror(rc));
}

/* The page size the tests subscribe with: 0, the store's default (a bug refused it once). */
static uint32_t PAGE = 0;

static void probe_default_page_size(gy_handle s, const char *what) {
    gy_error err = {0};
    gy_handle sub = 0;
    int32_t st = gy_subscribe_to_all(s, 1, 0, NULL, 0, 0, 0, &sub, &err);
    REGRESSION(st == GY_OK, "subscribing with page size 0 (the default) on %s: %d (%s)", what, st,
               err.message ? err.message : "");
    gy_subscription_free(sub);
}

/* ==== 1. versions ============================================================================ */

static void test_versions(void) {
    begin("versions");
    CHECK(gy_abi_version() == GY_ABI_VERSION, "library ABI %u, header ABI %u", gy_abi_version(), GY_ABI_VERSION);
    const char *v = gy_version();
    CHECK(v && v[0], "gy_version is non-empty");
    CHECK(strchr(v, '.') != NULL, "gy_version looks like a version: %s", v);
    printf("    GraveyardDB %s, ABI %u\n", v, gy_abi_version());
}

/* ==== 2. the store's operations ============================================================== */

static const uint8_t ID_A[16] = {0x01, 0x8f, 0x2b, 0x3c, 0x4d, 0x5e, 0x4f, 0x60, 0x81, 0x92, 0xa3, 0xb4, 0xc5, 0xd6, 0xe7, 0xf8};
static const uint8_t ID_C[16] = {0xfe, 0xdc, 0xba, 0x98, 0x76, 0x54, 0x43, 0x21, 0x9f, 0xed, 0xcb, 0xa9, 0x87, 0x65, 0x43, 0x21};

static void check_event(const rec_t *e, const char *stream, uint64_t revision, uint64_t position, const char *type,
                        const char *content_type, const char *data, const char *metadata) {
    SLICE_IS(e->stream, stream);
    CHECK(e->revision == revision, "revision %" PRIu64 ", expected %" PRIu64, e->revision, revision);
    CHECK(e->position == position, "position %" PRIu64 ", expected %" PRIu64, e->position, position);
    int64_t now = now_micros();
    CHECK(e->timestamp > now - 3600 * 1000000LL && e->timestamp <= now + 60 * 1000000LL,
          "timestamp %" PRId64 " is unix microseconds of about now (%" PRId64 ")", e->timestamp, now);
    SLICE_IS(e->type, type);
    SLICE_IS(e->content_type, content_type);
    SLICE_IS(e->data, data);
    SLICE_IS(e->metadata, metadata);
    CHECK(e->flags == 0, "flags %u of an event that was not shredded", e->flags);
    CHECK(e->schema_version == 0, "schema version %u without a schema", e->schema_version);
}

static void test_store(void) {
    begin("store");
    gy_error err = {0};
    /* The one store on fsync durability: the default path must work too. */
    gy_handle s = open_store("store", 0, NULL);

    /* A batch with an id, without one (the store generates a UUIDv7), with one; binary
     * metadata with a NUL inside, to prove lengths, not terminators, delimit fields. */
    static const uint8_t bin_meta[] = {0x00, 0xff, 0x10, 0x00};
    ev_t evs[3] = {
        {.id = ID_A, .type = "order-placed", .content_type = "application/json", .data = "{\"n\":1}", .metadata = "m1"},
        {.type = "order-paid", .content_type = "application/octet-stream", .data = "\x01\x02\x03",
         .metadata = bin_meta, .metadata_len = sizeof bin_meta},
        {.id = ID_C, .type = "order-shipped", .content_type = "application/json", .data = NULL, .metadata = NULL},
    };
    bytes_t batch = pack_events(evs, 3);
    uint64_t res[4] = {9, 9, 9, 9};
    OK(gy_append(s, S("orders-1"), 1, 0, batch.p, batch.len, 0, &res, &err));
    bb_free(&batch);
    CHECK(res[0] == 0 && res[1] == 2 && res[2] == 0 && res[3] == 2,
          "append result %" PRIu64 " %" PRIu64 " %" PRIu64 " %" PRIu64, res[0], res[1], res[2], res[3]);

    uint64_t r2[4];
    append_one(s, "payments-1", "paid", "{\"amount\":5}", r2);
    CHECK(r2[0] == 0 && r2[2] == 3, "second stream starts at revision 0, position 3");

    /* Forwards, everything: every field decoded and checked. */
    page_t p = read_stream_ok(s, "orders-1", 0, -1, -1);
    CHECK(p.count == 3, "3 events, got %u", p.count);
    check_event(&p.ev[0], "orders-1", 0, 0, "order-placed", "application/json", "{\"n\":1}", "m1");
    CHECK(memcmp(p.ev[0].id, ID_A, 16) == 0, "the id given is the id stored");
    SLICE_IS(p.ev[1].stream, "orders-1");
    CHECK(p.ev[1].revision == 1 && p.ev[1].position == 1, "second event at 1/1");
    SLICE_IS(p.ev[1].type, "order-paid");
    SLICE_IS(p.ev[1].content_type, "application/octet-stream");
    CHECK(p.ev[1].data.len == 3 && memcmp(p.ev[1].data.p, "\x01\x02\x03", 3) == 0, "binary data round-trips");
    CHECK(p.ev[1].metadata.len == sizeof bin_meta && memcmp(p.ev[1].metadata.p, bin_meta, sizeof bin_meta) == 0,
          "binary metadata with NULs round-trips");
    CHECK((p.ev[1].id[6] >> 4) == 7 && (p.ev[1].id[8] >> 6) == 2, "a generated id is a UUIDv7 (RFC 4122 variant)");
    check_event(&p.ev[2], "orders-1", 2, 2, "order-shipped", "application/json", "", "");
    CHECK(memcmp(p.ev[2].id, ID_C, 16) == 0, "the id given is the id stored");
    CHECK(p.ev[0].timestamp <= p.ev[1].timestamp && p.ev[1].timestamp <= p.ev[2].timestamp,
          "timestamps never decrease along the log");
    page_free(&p);

    /* from / limit, both directions. */
    p = read_stream_ok(s, "orders-1", 0, 1, 1);
    CHECK(p.count == 1 && p.ev[0].revision == 1, "forwards from 1, limit 1");
    page_free(&p);
    p = read_stream_ok(s, "orders-1", 1, -1, 2);
    CHECK(p.count == 2 && p.ev[0].revision == 2 && p.ev[1].revision == 1, "backwards from the end, limit 2");
    page_free(&p);
    p = read_stream_ok(s, "orders-1", 1, 1, -1);
    CHECK(p.count == 2 && p.ev[0].revision == 1 && p.ev[1].revision == 0, "backwards from 1");
    page_free(&p);
    p = read_stream_ok(s, "orders-1", 0, 10, -1);
    CHECK(p.count == 0 && p.buf.len == 4, "forwards past the end: an empty page (its count only)");
    page_free(&p);
    p = read_stream_ok(s, "orders-1", 0, 0, 0);
    CHECK(p.count == 0, "limit 0: nothing");
    page_free(&p);
    gy_buf buf = {0};
    EXPECT(gy_read_stream(s, S("no-such-stream"), 0, -1, -1, 0, &buf, &err), NOT_FOUND);
    CHECK(buf.data == NULL && buf.len == 0, "out is written only on success");

    /* $all, filtered by prefix and by type, and backwards. */
    p = read_all_ok(s, 0, -1, -1, NULL);
    CHECK(p.count == 4, "$all holds 4 events, got %u", p.count);
    for (uint32_t i = 0; i < p.count; i++) CHECK(p.ev[i].position == i, "$all is gapless from 0");
    page_free(&p);
    p = read_all_ok(s, 0, -1, -1, "{\"stream_prefixes\":[\"orders-\"]}");
    CHECK(p.count == 3, "prefix filter: 3 events, got %u", p.count);
    for (uint32_t i = 0; i < p.count; i++) SLICE_IS(p.ev[i].stream, "orders-1");
    page_free(&p);
    p = read_all_ok(s, 0, -1, -1, "{\"event_types\":[\"paid\",\"order-paid\"]}");
    CHECK(p.count == 2 && p.ev[0].position == 1 && p.ev[1].position == 3, "type filter: positions 1 and 3");
    page_free(&p);
    p = read_all_ok(s, 0, -1, -1, "{\"stream_prefixes\":[\"orders-\"],\"event_types\":[\"paid\"]}");
    CHECK(p.count == 0, "prefixes AND types");
    page_free(&p);
    p = read_all_ok(s, 1, -1, 1, NULL);
    CHECK(p.count == 1 && p.ev[0].position == 3, "backwards from the head, limit 1");
    SLICE_IS(p.ev[0].stream, "payments-1");
    page_free(&p);
    p = read_all_ok(s, 0, 2, 10, "{}");
    CHECK(p.count == 2 && p.ev[0].position == 2, "$all forwards from position 2");
    page_free(&p);

    uint64_t head = 0;
    OK(gy_head_position(s, 0, &head, &err));
    CHECK(head == 4, "head position %" PRIu64 ", expected 4 (the next event's)", head);

    /* Stream info and metadata. */
    OK(gy_stream_info(s, S("orders-1"), 0, &buf, &err));
    JSON_HAS(buf, "\"current\":2");
    JSON_HAS(buf, "\"next_revision\":3");
    JSON_HAS(buf, "\"deleted\":false");
    JSON_HAS(buf, "\"shredded\":false");
    JSON_HAS(buf, "\"metadata\":{");
    gy_buf_free(&buf);
    EXPECT(gy_stream_info(s, S("never-written"), 0, &buf, &err), NOT_FOUND);
    /* A stream with metadata and no events exists, with no revision yet. */
    OK(gy_set_stream_metadata(s, S("meta-only"), S("{\"max_count\":2}"), 0, &err));
    OK(gy_stream_info(s, S("meta-only"), 0, &buf, &err));
    JSON_HAS(buf, "\"current\":\"no_stream\"");
    JSON_HAS(buf, "\"next_revision\":0");
    gy_buf_free(&buf);
    OK(gy_get_stream_metadata(s, S("meta-only"), 0, &buf, &err));
    JSON_HAS(buf, "\"max_count\":2");
    JSON_HAS(buf, "\"max_age_ms\":null");
    gy_buf_free(&buf);
    EXPECT(gy_get_stream_metadata(s, S("never-written"), 0, &buf, &err), NOT_FOUND);
    /* Metadata applies to reads: only the last 2 revisions stay visible. */
    OK(gy_set_stream_metadata(s, S("orders-1"), S("{\"max_count\":2,\"max_age_ms\":null,\"truncate_before\":null}"), 0, &err));
    p = read_stream_ok(s, "orders-1", 0, -1, -1);
    CHECK(p.count == 2 && p.ev[0].revision == 1, "max_count 2 hides revision 0");
    page_free(&p);
    OK(gy_set_stream_metadata(s, S("orders-1"), S("{}"), 0, &err));
    p = read_stream_ok(s, "orders-1", 0, -1, -1);
    CHECK(p.count == 3, "metadata replaced: everything visible again");
    page_free(&p);

    /* Snapshots: none yet is the empty buffer (not an error), then the packed snapshot. */
    buf = (gy_buf){0};
    OK(gy_get_snapshot(s, S("orders-1"), 0, &buf, &err));
    CHECK(buf.data == NULL && buf.len == 0, "no snapshot: an empty buffer");
    gy_buf_free(&buf); /* harmless on the empty one */
    OK(gy_get_snapshot(s, S("never-written"), 0, &buf, &err));
    CHECK(buf.len == 0, "no stream, no snapshot");
    OK(gy_save_snapshot(s, S("orders-1"), 1, (const uint8_t *)"state\0at1", 9, 0, &err));
    OK(gy_get_snapshot(s, S("orders-1"), 0, &buf, &err));
    {
        rd_t r = {buf.data, buf.len, 0, "a snapshot"};
        SLICE_IS(rd_field(&r), "orders-1");
        CHECK(rd_le(&r, 8) == 1, "snapshot revision 1");
        int64_t ts = (int64_t)rd_le(&r, 8);
        CHECK(ts > now_micros() - 3600 * 1000000LL, "snapshot timestamp is about now");
        slice_t data = rd_field(&r);
        CHECK(data.len == 9 && memcmp(data.p, "state\0at1", 9) == 0, "snapshot data round-trips");
        rd_end(&r);
    }
    gy_buf_free(&buf);
    EXPECT(gy_save_snapshot(s, S("orders-1"), 99, (const uint8_t *)"x", 1, 0, &err), NOT_FOUND);
    OK(gy_save_snapshot(s, S("orders-1"), 2, NULL, 0, 0, &err)); /* empty data is data */

    /* Soft delete: reads NOT_FOUND, info says deleted, the snapshot goes, revisions go on. */
    EXPECT_KEEP(gy_delete_stream(s, S("orders-1"), 3, 1, false, 0, &err), WRONG_EXPECTED_VERSION);
    gy_error_free(&err);
    OK(gy_delete_stream(s, S("orders-1"), 3, 2, false, 0, &err));
    EXPECT(gy_read_stream(s, S("orders-1"), 0, -1, -1, 0, &buf, &err), NOT_FOUND);
    OK(gy_stream_info(s, S("orders-1"), 0, &buf, &err));
    JSON_HAS(buf, "\"deleted\":true");
    JSON_HAS(buf, "\"current\":\"no_stream\"");
    gy_buf_free(&buf);
    OK(gy_get_snapshot(s, S("orders-1"), 0, &buf, &err));
    CHECK(buf.len == 0, "a soft delete removes the snapshot");
    append_one(s, "orders-1", "order-placed", "{}", res);
    CHECK(res[0] == 3, "revisions continue after a soft delete: got %" PRIu64, res[0]);
    EXPECT(gy_delete_stream(s, S("never-written"), 0, 0, false, 0, &err), NOT_FOUND);

    /* Tombstone: every later operation on the name is STREAM_DELETED, with its details. */
    OK(gy_delete_stream(s, S("payments-1"), 0, 0, true, 0, &err));
    {
        ev_t e = {.type = "paid", .content_type = "application/json", .data = "{}"};
        bytes_t b = pack_events(&e, 1);
        EXPECT_KEEP(gy_append(s, S("payments-1"), 0, 0, b.p, b.len, 0, &res, &err), STREAM_DELETED);
        CHECK(err.details && strstr(err.details, "\"stream\":\"payments-1\""), "details name the stream: %s",
              err.details ? err.details : "(null)");
        gy_error_free(&err);
        bb_free(&b);
    }
    EXPECT(gy_read_stream(s, S("payments-1"), 0, -1, -1, 0, &buf, &err), STREAM_DELETED);
    EXPECT(gy_stream_info(s, S("payments-1"), 0, &buf, &err), STREAM_DELETED);
    EXPECT(gy_get_snapshot(s, S("payments-1"), 0, &buf, &err), STREAM_DELETED);
    OK(gy_delete_stream(s, S("never-written-2"), 1, 0, true, 0, &err)); /* a tombstone blocks a fresh name */
    p = read_all_ok(s, 0, -1, -1, "{\"stream_prefixes\":[\"payments-\"]}");
    CHECK(p.count == 1, "a tombstoned stream's events stay in $all");
    page_free(&p);

    /* Encryption: this store has none, so shredding is refused. */
    bool enc = true;
    OK(gy_is_encrypted(s, &enc, &err));
    CHECK(!enc, "a store opened without a key does not encrypt");
    EXPECT(gy_shred_stream(s, S("orders-1"), 0, &err), INVALID_ARGUMENT);
    uint8_t key1[32], key2[32];
    for (int i = 0; i < 32; i++) {
        key1[i] = (uint8_t)(i * 7 + 1);
        key2[i] = (uint8_t)(255 - i);
    }
    EXPECT(gy_rotate_master_key(s, key2, 32, 0, &err), INVALID_ARGUMENT);
    gy_store_close(s);

    /* A second store, encrypted at rest: shred, rotate, reopen with each key. */
    gy_handle e = open_store("encrypted", 1, key1);
    OK(gy_is_encrypted(e, &enc, &err));
    CHECK(enc, "a store opened with a key encrypts");
    ev_t secret[2] = {
        {.type = "pii", .content_type = "application/json", .data = "{\"name\":\"Ada\"}", .metadata = "who"},
        {.type = "pii", .content_type = "text/plain", .data = "secret"},
    };
    batch = pack_events(secret, 2);
    OK(gy_append(e, S("person-1"), 1, 0, batch.p, batch.len, 0, &res, &err));
    bb_free(&batch);
    append_one(e, "person-2", "pii", "{\"name\":\"Grace\"}", NULL);
    OK(gy_save_snapshot(e, S("person-1"), 1, (const uint8_t *)"snap", 4, 0, &err));
    p = read_stream_ok(e, "person-1", 0, -1, -1);
    CHECK(p.count == 2 && slice_is(p.ev[0].data, "{\"name\":\"Ada\"}") && slice_is(p.ev[0].metadata, "who"),
          "an encrypted store reads back its data");
    page_free(&p);
    OK(gy_shred_stream(e, S("person-1"), 0, &err));
    OK(gy_shred_stream(e, S("person-1"), 0, &err)); /* shredding twice is not an error */
    EXPECT(gy_shred_stream(e, S("never-written"), 0, &err), NOT_FOUND);
    p = read_stream_ok(e, "person-1", 0, -1, -1);
    CHECK(p.count == 2, "a shredded stream's events stay");
    for (uint32_t i = 0; i < p.count; i++) {
        CHECK(p.ev[i].flags == 1, "flag bit 0: shredded");
        CHECK(p.ev[i].data.len == 0 && p.ev[i].metadata.len == 0, "shredded events read empty");
        SLICE_IS(p.ev[i].type, "pii");
    }
    page_free(&p);
    OK(gy_stream_info(e, S("person-1"), 0, &buf, &err));
    JSON_HAS(buf, "\"shredded\":true");
    gy_buf_free(&buf);
    OK(gy_get_snapshot(e, S("person-1"), 0, &buf, &err));
    CHECK(buf.len == 0, "shredding deletes the snapshot");
    {
        ev_t ev = {.type = "pii", .content_type = "application/json", .data = "{}"};
        bytes_t b = pack_events(&ev, 1);
        EXPECT(gy_append(e, S("person-1"), 0, 0, b.p, b.len, 0, &res, &err), STREAM_DELETED);
        bb_free(&b);
    }
    EXPECT(gy_rotate_master_key(e, key2, 31, 0, &err), INVALID_ARGUMENT);
    OK(gy_rotate_master_key(e, key2, 32, 0, &err));
    p = read_stream_ok(e, "person-2", 0, -1, -1);
    CHECK(p.count == 1 && slice_is(p.ev[0].data, "{\"name\":\"Grace\"}"), "data reads back after a rotation");
    page_free(&p);
    gy_store_close(e);

    char path[512];
    path_of(path, sizeof path, "encrypted");
    gy_handle again = 0;
    EXPECT(gy_open(S(path), 1, 0, 0, 0, 0, key1, 32, &again, &err), ENCRYPTION); /* the old key */
    EXPECT(gy_open(S(path), 1, 0, 0, 0, 0, NULL, 0, &again, &err), ENCRYPTION);  /* no key */
    CHECK(again == 0, "out is written only on success");
    OK(gy_open(S(path), 1, 0, 0, 0, 0, key2, 32, &again, &err));
    p = read_stream_ok(again, "person-2", 0, -1, -1);
    CHECK(p.count == 1 && slice_is(p.ev[0].data, "{\"name\":\"Grace\"}"), "the new key opens the store");
    page_free(&p);
    p = read_stream_ok(again, "person-1", 0, -1, -1);
    CHECK(p.count == 2 && p.ev[0].flags == 1, "shredded for good");
    page_free(&p);
    gy_store_close(again);
    /* A key for a store created without one. */
    path_of(path, sizeof path, "store");
    EXPECT(gy_open(S(path), 1, 0, 0, 0, 0, key1, 32, &again, &err), INVALID_ARGUMENT);
}

/* ==== 3. optimistic concurrency ============================================================== */

static void test_concurrency(void) {
    begin("concurrency");
    gy_error err = {0};
    gy_handle s = open_store("occ", 1, NULL);
    ev_t evs[2] = {{.type = "t", .content_type = "text/plain", .data = "a"},
                   {.type = "t", .content_type = "text/plain", .data = "b"}};
    bytes_t b = pack_events(evs, 2);
    uint64_t res[4] = {0};
    EXPECT_KEEP(gy_append(s, S("occ"), 2, 0, b.p, b.len, 0, &res, &err), WRONG_EXPECTED_VERSION);
    CHECK(err.details && strstr(err.details, "\"expected\":\"stream_exists\"") &&
              strstr(err.details, "\"actual\":\"no_stream\""),
          "details of stream_exists on a new stream: %s", err.details ? err.details : "(null)");
    gy_error_free(&err);
    OK(gy_append(s, S("occ"), 1, 0, b.p, b.len, 0, &res, &err));
    CHECK(res[1] == 1, "last revision 1");

    uint64_t untouched[4] = {7, 7, 7, 7};
    EXPECT_KEEP(gy_append(s, S("occ"), 3, 5, b.p, b.len, 0, &untouched, &err), WRONG_EXPECTED_VERSION);
    CHECK(err.code == WRONG_EXPECTED_VERSION, "err.code 1");
    CHECK(err.message && strlen(err.message) > 0, "a message");
    CHECK(err.details != NULL, "WRONG_EXPECTED_VERSION has details");
    CHECK(strstr(err.details, "\"expected\"") && strstr(err.details, "\"actual\""), "details: %s", err.details);
    CHECK(strstr(err.details, "\"expected\":{\"exact\":5}"), "the expected version in its JSON form: %s", err.details);
    CHECK(strstr(err.details, "\"actual\":1"), "the current revision: %s", err.details);
    CHECK(strstr(err.details, "\"stream\":\"occ\""), "the stream: %s", err.details);
    CHECK(untouched[0] == 7 && untouched[3] == 7, "out is written only on success");
    gy_error_free(&err);
    CHECK(err.message == NULL && err.details == NULL && err.code == 0, "gy_error_free clears the error");
    gy_error_free(&err); /* twice on the same struct: harmless */

    EXPECT(gy_append(s, S("occ"), 1, 0, b.p, b.len, 0, &res, &err), WRONG_EXPECTED_VERSION);
    OK(gy_append(s, S("occ"), 3, 1, b.p, b.len, 0, &res, &err));
    CHECK(res[0] == 2 && res[1] == 3, "exact 1: revisions 2..3");
    OK(gy_append(s, S("occ"), 2, 0, b.p, b.len, 0, &res, &err));
    /* A null err: the status still says what happened. */
    CHECK(gy_append(s, S("occ"), 3, 0, b.p, b.len, 0, &res, NULL) == WRONG_EXPECTED_VERSION, "status without err");
    bb_free(&b);

    /* An idempotent retry: the same ids again return the original result and write nothing. */
    ev_t with_id = {.id = ID_A, .type = "t", .content_type = "text/plain", .data = "once"};
    b = pack_events(&with_id, 1);
    uint64_t first[4], retry[4];
    OK(gy_append(s, S("idem"), 1, 0, b.p, b.len, 0, &first, &err));
    OK(gy_append(s, S("idem"), 1, 0, b.p, b.len, 0, &retry, &err));
    CHECK(memcmp(first, retry, sizeof first) == 0, "an idempotent retry returns the original result");
    EXPECT(gy_append(s, S("other"), 0, 0, b.p, b.len, 0, &retry, &err), INVALID_ARGUMENT); /* id stored elsewhere */
    bb_free(&b);
    gy_store_close(s);
}

/* ==== 4. schemas ============================================================================= */

static void test_schemas(void) {
    begin("schemas");
    gy_error err = {0};
    gy_buf buf = {0};
    gy_handle s = open_store("schemas", 1, NULL);
    const char *schema =
        "{\"name\":\"order-placed\",\"fields\":[{\"name\":\"amount\",\"type\":\"integer\",\"required\":true,\"min\":0},"
        "{\"name\":\"note\",\"type\":\"string\",\"max_length\":5}]}";
    OK(gy_upsert_schema(s, S(schema), 0, &buf, &err));
    JSON_HAS(buf, "\"name\":\"order-placed\"");
    JSON_HAS(buf, "\"version\":1");
    JSON_HAS(buf, "\"changed\":true");
    gy_buf_free(&buf);
    OK(gy_upsert_schema(s, S(schema), 0, &buf, &err));
    JSON_HAS(buf, "\"changed\":false");
    JSON_HAS(buf, "\"version\":1");
    gy_buf_free(&buf);

    /* Violations: the whole append is refused, naming the event and every violation. */
    ev_t evs[2] = {{.type = "order-placed", .content_type = "application/json", .data = "{\"amount\":3}"},
                   {.type = "order-placed", .content_type = "application/json", .data = "{\"amount\":-1,\"note\":\"toolong\"}"}};
    bytes_t b = pack_events(evs, 2);
    uint64_t res[4];
    EXPECT_KEEP(gy_append(s, S("o-1"), 0, 0, b.p, b.len, 0, &res, &err), SCHEMA_VIOLATION);
    CHECK(err.details, "SCHEMA_VIOLATION has details");
    CHECK(strstr(err.details, "\"schema\":\"order-placed\"") && strstr(err.details, "\"version\":1") &&
              strstr(err.details, "\"event\":1") && strstr(err.details, "\"violations\":["),
          "details: %s", err.details);
    CHECK(strstr(err.details, "\"rule\":\"min\"") && strstr(err.details, "\"rule\":\"max_length\"") &&
              strstr(err.details, "\"path\":\"amount\""),
          "both violations listed: %s", err.details);
    gy_error_free(&err);
    bb_free(&b);
    EXPECT(gy_read_stream(s, S("o-1"), 0, -1, -1, 0, &buf, &err), NOT_FOUND); /* nothing written */
    ev_t missing = {.type = "order-placed", .content_type = "application/json", .data = "{}"};
    b = pack_events(&missing, 1);
    EXPECT_KEEP(gy_append(s, S("o-1"), 0, 0, b.p, b.len, 0, &res, &err), SCHEMA_VIOLATION);
    CHECK(strstr(err.details, "\"rule\":\"required\"") && strstr(err.details, "\"value\":null"), "details: %s",
          err.details);
    gy_error_free(&err);
    bb_free(&b);
    ev_t text = {.type = "order-placed", .content_type = "text/plain", .data = "{\"amount\":1}"};
    b = pack_events(&text, 1);
    EXPECT_KEEP(gy_append(s, S("o-1"), 0, 0, b.p, b.len, 0, &res, &err), SCHEMA_VIOLATION);
    CHECK(strstr(err.details, "\"rule\":\"content_type\""), "details: %s", err.details);
    gy_error_free(&err);
    bb_free(&b);

    b = pack_events(evs, 1);
    OK(gy_append(s, S("o-1"), 0, 0, b.p, b.len, 0, &res, &err));
    bb_free(&b);
    page_t p = read_stream_ok(s, "o-1", 0, -1, -1);
    CHECK(p.count == 1 && p.ev[0].schema_version == 1, "an event records the schema version it met");
    page_free(&p);

    OK(gy_get_schema(s, S("order-placed"), -1, 0, &buf, &err));
    JSON_HAS(buf, "\"name\":\"order-placed\"");
    JSON_HAS(buf, "\"version\":1");
    JSON_HAS(buf, "\"schema\":{");
    JSON_HAS(buf, "\"amount\"");
    gy_buf_free(&buf);
    OK(gy_get_schema(s, S("order-placed"), 1, 0, &buf, &err));
    JSON_HAS(buf, "\"version\":1");
    gy_buf_free(&buf);
    EXPECT(gy_get_schema(s, S("order-placed"), 2, 0, &buf, &err), NOT_FOUND);
    EXPECT(gy_get_schema(s, S("no-such-schema"), -1, 0, &buf, &err), NOT_FOUND);
    EXPECT(gy_get_schema(s, S("order-placed"), -2, 0, &buf, &err), INVALID_ARGUMENT);
    EXPECT(gy_get_schema(s, S("order-placed"), (int64_t)UINT32_MAX + 1, 0, &buf, &err), INVALID_ARGUMENT);

    /* A second version (backward compatible: an optional field) and a second schema. */
    OK(gy_upsert_schema(s,
                        S("{\"name\":\"order-placed\",\"fields\":[{\"name\":\"amount\",\"type\":\"integer\",\"required\":true,\"min\":0},"
                          "{\"name\":\"note\",\"type\":\"string\",\"max_length\":5},{\"name\":\"tag\",\"type\":\"string\"}]}"),
                        0, &buf, &err));
    JSON_HAS(buf, "\"version\":2");
    gy_buf_free(&buf);
    OK(gy_upsert_schema(s, S("{\"name\":\"user\",\"fields\":[]}"), 0, &buf, &err));
    gy_buf_free(&buf);
    OK(gy_list_schemas(s, 0, &buf, &err));
    CHECK(buf.len > 0 && buf.data[0] == '[', "a JSON array");
    JSON_HAS(buf, "\"name\":\"order-placed\"");
    JSON_HAS(buf, "\"name\":\"user\"");
    JSON_HAS(buf, "\"version\":2");
    gy_buf_free(&buf);

    /* Invalid definitions: INVALID_SCHEMA with the problems. */
    EXPECT_KEEP(gy_upsert_schema(s, S("{\"name\":\"bad\",\"fields\":[{\"name\":\"n\",\"type\":\"integer\",\"min\":5,\"max\":1}]}"),
                                 0, &buf, &err),
                INVALID_SCHEMA);
    CHECK(err.details && strstr(err.details, "\"problems\":[") && strstr(err.details, "\"schema\":\"bad\""),
          "details: %s", err.details ? err.details : "(null)");
    gy_error_free(&err);
    EXPECT(gy_upsert_schema(s, S("{\"name\":\"bad\",\"fields\":[],\"bogus\":1}"), 0, &buf, &err), INVALID_SCHEMA);
    EXPECT(gy_upsert_schema(s, S("{\"name\":"), 0, &buf, &err), INVALID_SCHEMA);
    EXPECT(gy_upsert_schema(s, S("{\"name\":\"$sys\",\"fields\":[]}"), 0, &buf, &err), INVALID_SCHEMA);
    /* A breaking change under the default (backward) compatibility. */
    EXPECT(gy_upsert_schema(s, S("{\"name\":\"user\",\"fields\":[{\"name\":\"id\",\"type\":\"string\",\"required\":true}]}"),
                            0, &buf, &err),
           INVALID_SCHEMA);
    CHECK(buf.data == NULL, "out is written only on success");
    gy_store_close(s);
}

/* ==== 5. subscriptions ======================================================================= */

typedef struct {
    gy_handle store, sub, member, cancel;
    const char *stream;
    long delay_ms;
    int32_t status; /* what the thread's own call returned */
} bg_t;

static void *bg_append(void *arg) {
    bg_t *a = arg;
    sleep_ms(a->delay_ms);
    append_one(a->store, a->stream, "live", "{\"live\":true}", NULL);
    return NULL;
}

static void *bg_sub_cancel(void *arg) {
    bg_t *a = arg;
    sleep_ms(a->delay_ms);
    gy_error err = {0};
    a->status = gy_subscription_cancel(a->sub, &err);
    gy_error_free(&err);
    return NULL;
}

static void *bg_cancel_pull(void *arg) {
    bg_t *a = arg;
    sleep_ms(a->delay_ms);
    gy_error err = {0};
    a->status = gy_cancel_pull(a->cancel, &err);
    gy_error_free(&err);
    return NULL;
}

static void *bg_member_cancel(void *arg) {
    bg_t *a = arg;
    sleep_ms(a->delay_ms);
    gy_error err = {0};
    a->status = gy_member_cancel(a->member, &err);
    gy_error_free(&err);
    return NULL;
}

/* The next message of a subscription: its tag, the event copied out (revision and stream). */
static uint8_t sub_next(gy_handle sub, int64_t timeout_ms, uint64_t *revision, uint64_t *position, char *stream,
                        size_t stream_cap) {
    gy_error err = {0};
    gy_buf buf = {0};
    OK(gy_subscription_next(sub, timeout_ms, 0, &buf, &err));
    rec_t e;
    uint8_t tag = decode_message(&buf, &e);
    CHECK(tag != 0 || buf.len == 1, "a caught-up marker is its tag alone");
    if (tag == 1) {
        if (revision) *revision = e.revision;
        if (position) *position = e.position;
        if (stream) snprintf(stream, stream_cap, "%.*s", (int)e.stream.len, (const char *)e.stream.p);
    }
    gy_buf_free(&buf);
    return tag;
}

static void test_subscriptions(void) {
    begin("subscriptions");
    gy_error err = {0};
    gy_buf buf = {0};
    gy_handle s = open_store("subs", 1, NULL);
    probe_default_page_size(s, "embedded");
    for (int i = 0; i < 3; i++) append_one(s, "sub-1", "e", "{}", NULL);
    append_one(s, "other-1", "e", "{}", NULL);

    gy_handle sub = 0;
    OK(gy_subscribe_to_stream(s, S("sub-1"), 0, 0, PAGE, 0, &sub, &err));
    uint64_t rev = 99;
    for (uint64_t i = 0; i < 3; i++) {
        CHECK(sub_next(sub, 5000, &rev, NULL, NULL, 0) == 1 && rev == i, "history event %" PRIu64, i);
    }
    CHECK(sub_next(sub, 5000, NULL, NULL, NULL, 0) == 0, "the caught-up marker after the history");

    /* A live event, appended by another thread while this one waits. */
    bg_t a = {.store = s, .stream = "sub-1", .delay_ms = 100};
    pthread_t t = spawn(bg_append, &a);
    CHECK(sub_next(sub, 10000, &rev, NULL, NULL, 0) == 1 && rev == 3, "the live event, revision 3");
    join(t);

    buf = (gy_buf){0};
    EXPECT(gy_subscription_next(sub, 50, 0, &buf, &err), GY_TIMEOUT);
    CHECK(buf.data == NULL && buf.len == 0, "a timeout hands out nothing");
    EXPECT(gy_subscription_next(sub, 0, 0, &buf, &err), GY_TIMEOUT); /* 0: a poll */

    /* Cancelled from another thread while a `next` waits with no timeout. */
    a = (bg_t){.sub = sub, .delay_ms = 100};
    t = spawn(bg_sub_cancel, &a);
    EXPECT(gy_subscription_next(sub, -1, 0, &buf, &err), GY_ENDED);
    join(t);
    CHECK(a.status == GY_OK, "gy_subscription_cancel returned %d", a.status);
    EXPECT(gy_subscription_next(sub, -1, 0, &buf, &err), GY_ENDED);
    EXPECT(gy_subscription_next(sub, 10, 0, &buf, &err), GY_ENDED);
    OK(gy_subscription_cancel(sub, &err)); /* cancelling again is harmless */
    gy_subscription_free(sub);

    /* Starts: after a revision, and at the end (only live events). */
    OK(gy_subscribe_to_stream(s, S("sub-1"), 2, 1, 1, 0, &sub, &err));
    CHECK(sub_next(sub, 5000, &rev, NULL, NULL, 0) == 1 && rev == 2, "after 1: revision 2 first");
    gy_subscription_free(sub);
    OK(gy_subscribe_to_stream(s, S("sub-1"), 1, 0, PAGE, 0, &sub, &err));
    append_one(s, "sub-1", "e", "{}", NULL);
    uint8_t tag;
    while ((tag = sub_next(sub, 5000, &rev, NULL, NULL, 0)) == 0) {
    }
    CHECK(rev == 4, "from the end: only the live event, revision 4, got %" PRIu64, rev);
    gy_subscription_free(sub);
    /* A subscription to a stream that does not exist yet waits for it. */
    OK(gy_subscribe_to_stream(s, S("sub-later"), 0, 0, 1, 0, &sub, &err));
    append_one(s, "sub-later", "e", "{}", NULL);
    while ((tag = sub_next(sub, 5000, &rev, NULL, NULL, 0)) == 0) {
    }
    CHECK(rev == 0, "a later stream's first event");
    gy_subscription_free(sub);

    /* $all, filtered: only sub-* events, positions increasing, the page size honoured. */
    OK(gy_subscribe_to_all(s, 0, 0, S("{\"stream_prefixes\":[\"sub-\"]}"), 2, 0, &sub, &err));
    int events = 0;
    uint64_t pos = 0, last_pos = 0;
    char stream[64];
    while ((tag = sub_next(sub, 5000, NULL, &pos, stream, sizeof stream)) == 1) {
        CHECK(strncmp(stream, "sub-", 4) == 0, "the filter holds: %s", stream);
        CHECK(events == 0 || pos > last_pos, "positions increase");
        last_pos = pos;
        events++;
    }
    CHECK(events == 6, "6 sub-* events in $all, got %d", events);
    append_one(s, "other-1", "e", "{}", NULL);
    append_one(s, "sub-2", "e", "{}", NULL);
    CHECK(sub_next(sub, 5000, NULL, NULL, stream, sizeof stream) == 1 && strcmp(stream, "sub-2") == 0,
          "live: the filtered event only, got %s", stream);
    gy_subscription_free(sub);
    OK(gy_subscribe_to_all(s, 2, 3, S("{\"event_types\":[\"live\"]}"), PAGE, 0, &sub, &err));
    CHECK(sub_next(sub, 5000, NULL, &pos, NULL, 0) == 1 && pos > 3, "after position 3, type filter");
    gy_subscription_free(sub);
    /* No filter at all (a null pointer). */
    OK(gy_subscribe_to_all(s, 0, 0, NULL, 0, PAGE, 0, &sub, &err));
    CHECK(sub_next(sub, 5000, NULL, &pos, NULL, 0) == 1 && pos == 0, "unfiltered $all from the start");
    gy_subscription_free(sub);

    /* A subscription to a stream tombstoned under it: its error comes once, then GY_ENDED. */
    OK(gy_subscribe_to_stream(s, S("sub-doomed"), 0, 0, PAGE, 0, &sub, &err));
    append_one(s, "sub-doomed", "e", "{}", NULL);
    OK(gy_delete_stream(s, S("sub-doomed"), 0, 0, true, 0, &err));
    int32_t st;
    int seen = 0;
    for (;;) {
        buf = (gy_buf){0};
        st = gy_subscription_next(sub, 500, 0, &buf, &err);
        gy_buf_free(&buf);
        if (st != GY_OK || ++seen > 10) break;
    }
    if (st > 0) {
        printf("    a tombstone under a stream subscription ends it with error %d (%s)\n", st, err.message);
        gy_error_free(&err);
        EXPECT(gy_subscription_next(sub, 500, 0, &buf, &err), GY_ENDED);
    } else {
        printf("    a tombstone under a stream subscription: next returns %d\n", st);
        gy_error_free(&err);
    }
    gy_subscription_free(sub);
    gy_store_close(s);
}

/* ==== 6. consumer groups ===================================================================== */

static delivery_t member_next_ok(gy_handle m, int64_t timeout_ms, gy_buf *keep) {
    gy_error err = {0};
    OK(gy_member_next(m, timeout_ms, 0, keep, &err));
    return decode_delivery(keep);
}

static void test_groups(void) {
    begin("groups");
    gy_error err = {0};
    gy_buf buf = {0}, dbuf = {0};
    gy_handle s = open_store("groups", 1, NULL);
    for (int i = 0; i < 4; i++) append_one(s, "orders", "order", "{}", NULL);
    append_one(s, "elsewhere", "order", "{}", NULL); /* not in the group's target */

    OK(gy_create_group(s, S("g1"), S("{\"stream\":\"orders\"}"), 0, 0, S("{}"), 0, &buf, &err));
    JSON_HAS(buf, "\"name\":\"g1\"");
    JSON_HAS(buf, "\"target\":{\"stream\":\"orders\"}");
    JSON_HAS(buf, "\"max_retries\":10");
    JSON_HAS(buf, "\"ack_timeout_ms\":30000");
    JSON_HAS(buf, "\"lag\":4");
    gy_buf_free(&buf);
    EXPECT(gy_create_group(s, S("g1"), S("{\"stream\":\"orders\"}"), 0, 0, S("{}"), 0, &buf, &err), INVALID_ARGUMENT);
    EXPECT(gy_create_group(s, S("g0"), S("{\"stream\":\"orders\"}"), 0, 0, S("{\"max_in_flight\":0}"), 0, &buf, &err),
           INVALID_ARGUMENT);

    gy_handle m = 0;
    OK(gy_join_group(s, S("g1"), S("m1"), 0, &m, &err));
    EXPECT(gy_join_group(s, S("no-such-group"), S("m1"), 0, &m, &err), NOT_FOUND);

    /* ack */
    delivery_t d = member_next_ok(m, 5000, &dbuf);
    CHECK(d.event.revision == 0 && d.attempt == 1 && d.parked_revision == -1, "first delivery: revision 0, attempt 1");
    SLICE_IS(d.event.stream, "orders");
    CHECK(d.id == d.event.position, "an id is the event's position");
    uint64_t id0 = d.id;
    gy_buf_free(&dbuf);
    OK(gy_member_ack(m, &id0, 1, 0, &err));
    OK(gy_member_ack(m, &id0, 1, 0, &err)); /* settled already: passed over */

    /* nack retry: the same id again, attempt 2 */
    d = member_next_ok(m, 5000, &dbuf);
    CHECK(d.event.revision == 1 && d.attempt == 1, "revision 1");
    uint64_t id1 = d.id;
    gy_buf_free(&dbuf);
    OK(gy_member_nack(m, 1, &id1, 1, 0, &err));
    d = member_next_ok(m, 5000, &dbuf);
    CHECK(d.id == id1 && d.attempt == 2 && d.event.revision == 1, "redelivered: same id %" PRIu64 ", attempt %u",
          d.id, d.attempt);
    gy_buf_free(&dbuf);
    OK(gy_member_ack(m, &id1, 1, 0, &err));

    /* park, and skip */
    d = member_next_ok(m, 5000, &dbuf);
    CHECK(d.event.revision == 2, "revision 2");
    uint64_t id2 = d.id;
    gy_buf_free(&dbuf);
    OK(gy_member_nack(m, 2, &id2, 1, 0, &err));
    d = member_next_ok(m, 5000, &dbuf);
    CHECK(d.event.revision == 3, "revision 3");
    uint64_t id3 = d.id;
    gy_buf_free(&dbuf);
    OK(gy_member_nack(m, 3, &id3, 1, 0, &err));
    EXPECT(gy_member_next(m, 50, 0, &dbuf, &err), GY_TIMEOUT);

    OK(gy_group_info(s, S("g1"), 0, &buf, &err));
    JSON_HAS(buf, "\"parked\":1");
    JSON_HAS(buf, "\"lag\":0");
    JSON_HAS(buf, "\"parked_stream\":\"$parked-g1\"");
    gy_buf_free(&buf);
    page_t p = read_stream_ok(s, "$parked-g1", 0, -1, -1); /* users read parked streams */
    CHECK(p.count == 1, "one parked copy");
    CHECK(buf_has(&(gy_buf){(uint8_t *)p.ev[0].metadata.p, p.ev[0].metadata.len}, "\"parked_from\""),
          "a parked copy's metadata says where it came from");
    page_free(&p);

    /* replay: the parked event comes back with its own id and its copy's revision */
    OK(gy_replay_parked(s, S("g1"), -1, 0, &buf, &err));
    JSON_HAS(buf, "\"from\":0");
    JSON_HAS(buf, "\"to\":1");
    gy_buf_free(&buf);
    d = member_next_ok(m, 5000, &dbuf);
    CHECK(d.parked_revision == 0 && d.attempt == 1, "a replayed delivery: parked revision 0, attempt 1");
    CHECK(d.id == ((UINT64_C(1) << 63) | 0), "a replayed id has the top bit set: %" PRIx64, d.id);
    CHECK(d.event.revision == 2 && d.event.position == id2, "delivered as the original event");
    SLICE_IS(d.event.stream, "orders");
    uint64_t rid = d.id;
    gy_buf_free(&dbuf);
    /* Several ids in one call; one of them settled already. */
    uint64_t both[2] = {rid, id0};
    OK(gy_member_ack(m, both, 2, 0, &err));
    OK(gy_member_ack(m, NULL, 0, 0, &err)); /* an empty list commits nothing */
    uint64_t never = 123456;
    EXPECT(gy_member_ack(m, &never, 1, 0, &err), INVALID_ARGUMENT);
    EXPECT(gy_replay_parked(s, S("g1"), 0, 0, &buf, &err), INVALID_ARGUMENT); /* a limit of 0 */
    OK(gy_replay_parked(s, S("g1"), 5, 0, &buf, &err)); /* nothing parked: an empty range */
    gy_buf_free(&buf);
    EXPECT(gy_replay_parked(s, S("no-such-group"), -1, 0, &buf, &err), NOT_FOUND);

    OK(gy_group_info(s, S("g1"), 0, &buf, &err));
    JSON_HAS(buf, "\"parked\":0");
    JSON_HAS(buf, "\"replaying\":0");
    gy_buf_free(&buf);

    /* A second group, on $all, starting at the end; list and update. */
    OK(gy_create_group(s, S("g2"), S("{\"all\":{\"stream_prefixes\":[\"orders\"]}}"), 1, 0,
                       S("{\"max_retries\":1,\"ack_timeout_ms\":1000,\"max_in_flight\":4,\"strategy\":\"pinned_by_stream\"}"),
                       0, &buf, &err));
    JSON_HAS(buf, "\"strategy\":\"pinned_by_stream\"");
    gy_buf_free(&buf);
    OK(gy_create_group(s, S("g3"), S("{\"stream\":\"orders\"}"), 2, 2, S("{}"), 0, &buf, &err));
    JSON_HAS(buf, "\"lag\":1"); /* after revision 2: revision 3 left */
    gy_buf_free(&buf);
    OK(gy_list_groups(s, 0, &buf, &err));
    CHECK(buf.len > 0 && buf.data[0] == '[', "a JSON array");
    JSON_HAS(buf, "\"g1\"");
    JSON_HAS(buf, "\"g2\"");
    JSON_HAS(buf, "\"g3\"");
    gy_buf_free(&buf);
    OK(gy_update_group(s, S("g1"), S("{\"max_retries\":3}"), 0, &buf, &err));
    JSON_HAS(buf, "\"max_retries\":3");
    JSON_HAS(buf, "\"ack_timeout_ms\":30000"); /* fields left out take their defaults */
    gy_buf_free(&buf);
    EXPECT(gy_update_group(s, S("no-such-group"), S("{}"), 0, &buf, &err), NOT_FOUND);
    OK(gy_group_info(s, S("g1"), 0, &buf, &err));
    JSON_HAS(buf, "\"max_retries\":3");
    gy_buf_free(&buf);

    /* A second member settles what the first was handed (same group, same store). */
    append_one(s, "orders", "order", "{}", NULL);
    gy_handle m2 = 0;
    OK(gy_join_group(s, S("g1"), S("m2"), 0, &m2, &err));
    d = member_next_ok(m, 5000, &dbuf);
    uint64_t id4 = d.id;
    gy_buf_free(&dbuf);
    OK(gy_member_ack(m2, &id4, 1, 0, &err));
    OK(gy_member_cancel(m2, &err));
    EXPECT(gy_member_next(m2, -1, 0, &dbuf, &err), GY_ENDED);
    gy_member_free(m2);

    /* Delete: the member's next fails with NOT_FOUND, once; then the session is over. */
    OK(gy_delete_group(s, S("g1"), 0, &err));
    EXPECT(gy_group_info(s, S("g1"), 0, &buf, &err), NOT_FOUND);
    EXPECT(gy_delete_group(s, S("g1"), 0, &err), NOT_FOUND);
    EXPECT(gy_member_next(m, 1000, 0, &dbuf, &err), NOT_FOUND);
    int32_t again = gy_member_next(m, 100, 0, &dbuf, &err);
    gy_error_free(&err);
    gy_buf_free(&dbuf);
    /* A member's errors last (header): NOT_FOUND again, never a silent end. */
    CHECK(again == NOT_FOUND, "gy_member_next after the group was deleted: NOT_FOUND on every call, got %d", again);
    gy_member_free(m);
    OK(gy_list_groups(s, 0, &buf, &err));
    JSON_LACKS(buf, "\"g1\"");
    gy_buf_free(&buf);
    OK(gy_delete_group(s, S("g2"), 0, &err));
    OK(gy_delete_group(s, S("g3"), 0, &err));
    gy_store_close(s);
}

/* ==== 7. cancel tokens ======================================================================= */

static void test_cancel(void) {
    begin("cancel");
    gy_error err = {0};
    gy_buf buf = {0};
    gy_handle s = open_store("cancel", 1, NULL);
    probe_default_page_size(s, "embedded");
    gy_buf info = {0};
    OK(gy_create_group(s, S("cg"), S("{\"stream\":\"cstream\"}"), 0, 0, S("{}"), 0, &info, &err));
    gy_buf_free(&info);
    gy_handle m = 0;
    OK(gy_join_group(s, S("cg"), S("m"), 0, &m, &err));

    /* A member_next waiting for good, ended by its token pulled from another thread. */
    gy_handle tok = 0;
    OK(gy_cancel_new(&tok, &err));
    CHECK(tok != 0, "a token is a handle");
    bg_t a = {.cancel = tok, .delay_ms = 100};
    pthread_t t = spawn(bg_cancel_pull, &a);
    EXPECT(gy_member_next(m, -1, tok, &buf, &err), GY_CANCELLED);
    join(t);
    CHECK(a.status == GY_OK, "gy_cancel_pull returned %d", a.status);
    /* The member goes on: a cancelled call is not a cancelled session. */
    int32_t st = gy_member_next(m, 50, 0, &buf, &err);
    CHECK(st == GY_TIMEOUT, "after a cancelled call the member still works (a timeout), got %d", st);
    append_one(s, "cstream", "e", "{}", NULL);
    delivery_t d = member_next_ok(m, 5000, &buf);
    CHECK(d.event.revision == 0 && d.attempt == 1, "and gets deliveries");
    uint64_t id = d.id;
    gy_buf_free(&buf);

    /* A pulled token stays pulled: every later call given it returns GY_CANCELLED. */
    EXPECT(gy_member_next(m, 1000, tok, &buf, &err), GY_CANCELLED);
    EXPECT(gy_member_ack(m, &id, 1, tok, &err), GY_CANCELLED);
    EXPECT(gy_read_stream(s, S("cstream"), 0, -1, -1, tok, &buf, &err), GY_CANCELLED);
    EXPECT(gy_head_position(s, tok, &(uint64_t){0}, &err), GY_CANCELLED);
    {
        ev_t e = {.type = "e", .content_type = "application/json", .data = "{}"};
        bytes_t b = pack_events(&e, 1);
        uint64_t res[4];
        EXPECT(gy_append(s, S("cstream"), 0, 0, b.p, b.len, tok, &res, &err), GY_CANCELLED);
        bb_free(&b);
    }
    OK(gy_cancel_pull(tok, &err)); /* pulling again: harmless */
    OK(gy_member_ack(m, &id, 1, 0, &err));

    /* A token that is never pulled changes nothing: calls given it finish. */
    gy_handle idle = 0;
    OK(gy_cancel_new(&idle, &err));
    page_t p;
    OK(gy_read_stream(s, S("cstream"), 0, -1, -1, idle, &buf, &err));
    p = decode_page(buf);
    CHECK(p.count >= 1, "a read with a live token");
    page_free(&p);
    uint64_t res[4];
    {
        ev_t e = {.type = "e", .content_type = "application/json", .data = "{}"};
        bytes_t b = pack_events(&e, 1);
        OK(gy_append(s, S("cstream"), 0, 0, b.p, b.len, idle, &res, &err));
        bb_free(&b);
    }
    d = member_next_ok(m, 5000, &buf);
    id = d.id;
    gy_buf_free(&buf);
    OK(gy_member_ack(m, &id, 1, idle, &err));
    EXPECT(gy_member_next(m, 20, idle, &buf, &err), GY_TIMEOUT);

    /* A subscription's next, cancelled through a token: the subscription goes on. */
    gy_handle sub = 0;
    OK(gy_subscribe_to_stream(s, S("cstream"), 1, 0, PAGE, idle, &sub, &err));
    gy_handle tok2 = 0;
    OK(gy_cancel_new(&tok2, &err));
    a = (bg_t){.cancel = tok2, .delay_ms = 100};
    t = spawn(bg_cancel_pull, &a);
    /* The caught-up marker may come first; wait past it. */
    for (;;) {
        st = gy_subscription_next(sub, -1, tok2, &buf, &err);
        if (st != GY_OK) break;
        rec_t e;
        CHECK(decode_message(&buf, &e) == 0, "only the caught-up marker before the cancel");
        gy_buf_free(&buf);
    }
    expect_status(st, GY_CANCELLED, &err, false, "gy_subscription_next(sub, -1, tok2, ...)", __FILE__, __LINE__);
    join(t);
    append_one(s, "cstream", "e", "{}", NULL);
    uint64_t rev = 0;
    CHECK(sub_next(sub, 5000, &rev, NULL, NULL, 0) == 1, "the subscription still delivers after a cancelled next");
    gy_subscription_free(sub);

    /* A member's next cancelled through gy_member_cancel, from another thread: GY_ENDED. The
     * event appended for the subscription above is settled first, so the member has to wait. */
    while ((st = gy_member_next(m, 200, 0, &buf, &err)) == GY_OK) {
        d = decode_delivery(&buf);
        id = d.id;
        gy_buf_free(&buf);
        OK(gy_member_ack(m, &id, 1, 0, &err));
    }
    expect_status(st, GY_TIMEOUT, &err, false, "gy_member_next(m, 200, ...) once drained", __FILE__, __LINE__);
    a = (bg_t){.member = m, .delay_ms = 100};
    t = spawn(bg_member_cancel, &a);
    EXPECT(gy_member_next(m, -1, 0, &buf, &err), GY_ENDED);
    join(t);
    CHECK(a.status == GY_OK, "gy_member_cancel returned %d", a.status);
    EXPECT(gy_member_next(m, 10, 0, &buf, &err), GY_ENDED);
    gy_member_free(m);

    /* Frees: twice is harmless; a freed token is CLOSED wherever it is given. */
    gy_cancel_free(tok);
    gy_cancel_free(tok);
    EXPECT(gy_read_stream(s, S("cstream"), 0, -1, -1, tok, &buf, &err), CLOSED);
    EXPECT(gy_cancel_pull(tok, &err), CLOSED);
    EXPECT(gy_head_position(s, tok, &(uint64_t){0}, &err), CLOSED);
    EXPECT(gy_cancel_pull(0, &err), INVALID_ARGUMENT);
    EXPECT(gy_cancel_pull(s, &err), INVALID_ARGUMENT); /* a store is not a token */
    gy_cancel_free(idle);
    gy_cancel_free(tok2);
    gy_cancel_free(0);
    gy_store_close(s);
}

/* ==== 8. many threads ======================================================================== */

enum { WRITERS = 8, APPENDS = 200, READERS = 3 };

typedef struct {
    gy_handle store;
    int index;
    atomic_bool *done;
    long reads;
} worker_t;

static void *writer(void *arg) {
    worker_t *w = arg;
    gy_error err = {0};
    char own[32], data[64];
    snprintf(own, sizeof own, "own-%d", w->index);
    for (int i = 0; i < APPENDS; i++) {
        snprintf(data, sizeof data, "{\"w\":%d,\"i\":%d}", w->index, i);
        ev_t e = {.type = "w", .content_type = "application/json", .data = data};
        bytes_t b = pack_events(&e, 1);
        uint64_t res[4];
        /* Its own stream: exact expected revisions (no one else writes there). */
        OK(gy_append(w->store, S(own), i == 0 ? 1 : 3, (uint64_t)(i - 1), b.p, b.len, 0, &res, &err));
        CHECK(res[0] == (uint64_t)i && res[1] == (uint64_t)i, "own stream revision %d", i);
        /* The shared stream: any. */
        OK(gy_append(w->store, S("shared"), 0, 0, b.p, b.len, 0, &res, &err));
        CHECK(res[2] == res[3], "one event, one position");
        bb_free(&b);
    }
    return NULL;
}

static void *reader(void *arg) {
    worker_t *w = arg;
    gy_error err = {0};
    gy_buf buf = {0};
    uint64_t last_head = 0;
    while (!atomic_load(w->done)) {
        uint64_t head = 0;
        OK(gy_head_position(w->store, 0, &head, &err));
        CHECK(head >= last_head, "the head never goes back");
        last_head = head;
        page_t p = read_all_ok(w->store, 1, -1, 20, NULL);
        for (uint32_t i = 1; i < p.count; i++) CHECK(p.ev[i].position + 1 == p.ev[i - 1].position, "gapless, backwards");
        page_free(&p);
        int32_t st = gy_read_stream(w->store, S("shared"), 0, -1, 50, 0, &buf, &err);
        if (st == GY_OK) {
            p = decode_page(buf);
            for (uint32_t i = 0; i < p.count; i++) CHECK(p.ev[i].revision == i, "shared stream revisions from 0");
            page_free(&p);
        } else {
            expect_status(st, NOT_FOUND, &err, false, "gy_read_stream(shared) before its first event", __FILE__, __LINE__);
        }
        w->reads++;
    }
    return NULL;
}

static void test_threads(void) {
    begin("threads");
    gy_error err = {0};
    gy_handle s = open_store("threads", 1, NULL);
    atomic_bool done = false;
    worker_t ws[WRITERS], rs[READERS];
    pthread_t wt[WRITERS], rt[READERS];
    for (int i = 0; i < READERS; i++) {
        rs[i] = (worker_t){.store = s, .index = i, .done = &done};
        rt[i] = spawn(reader, &rs[i]);
    }
    struct timespec t0, t1;
    clock_gettime(CLOCK_MONOTONIC, &t0);
    for (int i = 0; i < WRITERS; i++) {
        ws[i] = (worker_t){.store = s, .index = i, .done = &done};
        wt[i] = spawn(writer, &ws[i]);
    }
    for (int i = 0; i < WRITERS; i++) join(wt[i]);
    clock_gettime(CLOCK_MONOTONIC, &t1);
    atomic_store(&done, true);
    long reads = 0;
    for (int i = 0; i < READERS; i++) {
        join(rt[i]);
        reads += rs[i].reads;
    }

    const uint64_t total = 2 * WRITERS * APPENDS;
    uint64_t head = 0;
    OK(gy_head_position(s, 0, &head, &err));
    CHECK(head == total, "head %" PRIu64 ", expected %" PRIu64, head, total);
    page_t p = read_all_ok(s, 0, -1, -1, NULL);
    CHECK(p.count == total, "$all holds %u events, expected %" PRIu64, p.count, total);
    for (uint32_t i = 0; i < p.count; i++) CHECK(p.ev[i].position == i, "$all gapless at %u", i);
    page_free(&p);
    for (int w = 0; w < WRITERS; w++) {
        char own[32];
        snprintf(own, sizeof own, "own-%d", w);
        p = read_stream_ok(s, own, 0, -1, -1);
        CHECK(p.count == APPENDS, "%s holds %u events", own, p.count);
        for (uint32_t i = 0; i < p.count; i++) CHECK(p.ev[i].revision == i, "%s revisions", own);
        page_free(&p);
    }
    /* The shared stream: every writer's events, each writer's in its own order. */
    p = read_stream_ok(s, "shared", 0, -1, -1);
    CHECK(p.count == WRITERS * APPENDS, "shared holds %u events", p.count);
    int next[WRITERS] = {0};
    for (uint32_t i = 0; i < p.count; i++) {
        CHECK(p.ev[i].revision == i, "shared revisions gapless");
        int w = -1, n = -1;
        char data[64];
        snprintf(data, sizeof data, "%.*s", (int)p.ev[i].data.len, (const char *)p.ev[i].data.p);
        CHECK(sscanf(data, "{\"w\":%d,\"i\":%d}", &w, &n) == 2 && w >= 0 && w < WRITERS, "data %s", data);
        CHECK(n == next[w], "writer %d's events in order: %d, expected %d", w, n, next[w]);
        next[w]++;
    }
    page_free(&p);
    double secs = (double)(t1.tv_sec - t0.tv_sec) + (double)(t1.tv_nsec - t0.tv_nsec) / 1e9;
    printf("    %d writers x %d x 2 appends in %.2f s, %ld reads alongside\n", WRITERS, APPENDS, secs, reads);
    gy_store_close(s);
}

/* ==== 9. bad input =========================================================================== */

/* BAD(call): INVALID_ARGUMENT, the error filled and released. */
#define BAD(call) EXPECT(call, INVALID_ARGUMENT)

static void test_bad_input(void) {
    begin("bad_input");
    gy_error err = {0};
    gy_handle s = open_store("bad", 1, NULL);
    probe_default_page_size(s, "embedded");
    gy_buf buf = {0};
    uint64_t res[4];
    ev_t good_ev = {.id = ID_A, .type = "t", .content_type = "application/json", .data = "{}", .metadata = "m"};
    bytes_t good = pack_events(&good_ev, 1);
    const uint8_t *ev = good.p;
    const size_t evn = good.len;

    /* Null pointers with a non-zero length, and lengths no buffer has. */
    BAD(gy_append(s, NULL, 3, 0, 0, ev, evn, 0, &res, &err));
    BAD(gy_append(s, S("x"), 0, 0, NULL, 10, 0, &res, &err));
    BAD(gy_append(s, (const uint8_t *)"x", SIZE_MAX, 0, 0, ev, evn, 0, &res, &err));
    BAD(gy_append(s, S("x"), 0, 0, ev, SIZE_MAX, 0, &res, &err));
    BAD(gy_append(s, (const uint8_t *)"x", (size_t)PTRDIFF_MAX + 1, 0, 0, ev, evn, 0, &res, &err));
    BAD(gy_read_stream(s, NULL, 1, 0, -1, -1, 0, &buf, &err));
    BAD(gy_read_all(s, 0, -1, -1, NULL, 5, 0, &buf, &err));
    BAD(gy_set_stream_metadata(s, S("x"), NULL, 2, 0, &err));
    BAD(gy_save_snapshot(s, S("x"), 0, NULL, 4, 0, &err));
    BAD(gy_rotate_master_key(s, NULL, 32, 0, &err));
    uint64_t one_id = 1;
    gy_handle m = 0;
    OK(gy_create_group(s, S("bg"), S("{\"stream\":\"x\"}"), 0, 0, S("{}"), 0, &buf, &err));
    gy_buf_free(&buf);
    OK(gy_join_group(s, S("bg"), S("m"), 0, &m, &err));
    BAD(gy_member_ack(m, NULL, 2, 0, &err));
    BAD(gy_member_ack(m, &one_id, SIZE_MAX, 0, &err));
    BAD(gy_member_nack(m, 1, NULL, 1, 0, &err));
    BAD(gy_member_nack(m, 1, &one_id, SIZE_MAX / 8 + 1, 0, &err));
    BAD(gy_join_group(s, NULL, 2, S("m"), 0, &m, &err));
    BAD(gy_join_group(s, S("bg"), NULL, 2, 0, &m, &err));

    /* Text that is not UTF-8, names the store refuses. */
    BAD(gy_append(s, (const uint8_t *)"\xff\xfe", 2, 0, 0, ev, evn, 0, &res, &err));
    BAD(gy_append(s, (const uint8_t *)"a\xc3", 2, 0, 0, ev, evn, 0, &res, &err)); /* cut mid-character */
    BAD(gy_read_stream(s, (const uint8_t *)"\xc0\x80", 2, 0, -1, -1, 0, &buf, &err)); /* overlong NUL */
    BAD(gy_append(s, (const uint8_t *)"", 0, 0, 0, ev, evn, 0, &res, &err));
    BAD(gy_append(s, NULL, 0, 0, 0, ev, evn, 0, &res, &err));
    BAD(gy_append(s, (const uint8_t *)"a\0b", 3, 0, 0, ev, evn, 0, &res, &err));
    BAD(gy_append(s, S("$all"), 0, 0, ev, evn, 0, &res, &err));
    BAD(gy_set_stream_metadata(s, S("$reserved"), S("{}"), 0, &err));
    {
        char longname[258];
        memset(longname, 'n', 257);
        longname[257] = 0;
        BAD(gy_append(s, S(longname), 0, 0, ev, evn, 0, &res, &err));
    }
    BAD(gy_create_group(s, (const uint8_t *)"\xff", 1, S("{\"stream\":\"x\"}"), 0, 0, S("{}"), 0, &buf, &err));

    /* Unknown enum codes. */
    BAD(gy_append(s, S("x"), 9, 0, ev, evn, 0, &res, &err));
    BAD(gy_append(s, S("x"), -1, 0, ev, evn, 0, &res, &err));
    BAD(gy_delete_stream(s, S("x"), 4, 0, false, 0, &err));
    BAD(gy_read_stream(s, S("x"), 5, -1, -1, 0, &buf, &err));
    BAD(gy_read_all(s, 5, -1, -1, NULL, 0, 0, &buf, &err));
    BAD(gy_read_all(s, -1, -1, -1, NULL, 0, 0, &buf, &err));
    gy_handle sub = 0;
    BAD(gy_subscribe_to_stream(s, S("x"), 7, 0, 0, 0, &sub, &err));
    BAD(gy_subscribe_to_all(s, 7, 0, NULL, 0, 0, 0, &sub, &err));
    BAD(gy_create_group(s, S("g"), S("{\"stream\":\"x\"}"), 7, 0, S("{}"), 0, &buf, &err));
    BAD(gy_member_nack(m, 0, &one_id, 1, 0, &err));
    BAD(gy_member_nack(m, 4, &one_id, 1, 0, &err));
    {
        char path[512];
        path_of(path, sizeof path, "never-opened");
        gy_handle h = 42;
        BAD(gy_open(S(path), 3, 0, 0, 0, 0, NULL, 0, &h, &err));
        BAD(gy_open(S(path), -1, 0, 0, 0, 0, NULL, 0, &h, &err));
        BAD(gy_open(NULL, 4, 1, 0, 0, 0, 0, NULL, 0, &h, &err));
        BAD(gy_open((const uint8_t *)"/tmp/\xff", 6, 1, 0, 0, 0, 0, NULL, 0, &h, &err));
        uint8_t key[32] = {1};
        BAD(gy_open(S(path), 1, 0, 0, 0, 0, key, 16, &h, &err)); /* a key is 32 bytes */
        /* A null key with a key's length: a caller who meant to encrypt and passed a null
         * pointer by mistake must hear about it, not get a store that stores in the clear. */
        int32_t opened = gy_open(S(path), 1, 0, 0, 0, 0, NULL, 32, &h, &err);
        gy_error_free(&err);
        if (opened == GY_OK) {
            bool enc = true;
            OK(gy_is_encrypted(h, &enc, &err));
            gy_store_close(h);
            nftw(path, rm_entry, 16, FTW_DEPTH | FTW_PHYS);
            REGRESSION(false,
                      "gy_open(master_key NULL, master_key_len 32) opens a store %s: lib.rs gy_open checks "
                      "`!master_key.is_null()` and ignores the length, where every other null pointer with a "
                      "length is INVALID_ARGUMENT",
                      enc ? "(encrypted?)" : "WITHOUT encryption");
            h = 42;
        } else {
            expect_status(opened, INVALID_ARGUMENT, NULL, false, "gy_open(NULL key, 32)", __FILE__, __LINE__);
        }
        CHECK(h == 42, "out is written only on success");
        struct stat st;
        CHECK(stat(path, &st) != 0, "a refused open creates nothing");
        /* A path that is a file. */
        char file[512];
        path_of(file, sizeof file, "a-file");
        FILE *f = fopen(file, "w");
        CHECK(f != NULL, "create %s", file);
        fclose(f);
        BAD(gy_open(S(file), 1, 0, 0, 0, 0, NULL, 0, &h, &err));
    }

    /* Negative numbers the ABI spells -1 only. */
    BAD(gy_read_stream(s, S("x"), 0, -2, -1, 0, &buf, &err));
    BAD(gy_read_stream(s, S("x"), 0, -1, -5, 0, &buf, &err));
    BAD(gy_read_all(s, 0, INT64_MIN, -1, NULL, 0, 0, &buf, &err));
    BAD(gy_member_next(m, -2, 0, &buf, &err));
    BAD(gy_replay_parked(s, S("bg"), -3, 0, &buf, &err));

    /* Damaged packed events: each refused, never read out of bounds (ASan watches). */
    {
        /* Exact-size heap copies, so a read one byte past the end is an ASan report. */
        uint8_t *trunc = xmalloc(evn - 1);
        memcpy(trunc, ev, evn - 1);
        BAD(gy_append(s, S("x"), 0, 0, trunc, evn - 1, 0, &res, &err));
        for (size_t cut = 0; cut < evn - 1; cut++) BAD(gy_append(s, S("x"), 0, 0, trunc, cut, 0, &res, &err));
        free(trunc);

        uint8_t *trailing = xmalloc(evn + 1);
        memcpy(trailing, ev, evn);
        trailing[evn] = 0;
        BAD(gy_append(s, S("x"), 0, 0, trailing, evn + 1, 0, &res, &err));
        free(trailing);

        uint8_t *flags = xmalloc(evn);
        memcpy(flags, ev, evn);
        flags[4] = 0x03; /* bit 1 is not defined */
        BAD(gy_append(s, S("x"), 0, 0, flags, evn, 0, &res, &err));
        flags[4] = 0x80;
        BAD(gy_append(s, S("x"), 0, 0, flags, evn, 0, &res, &err));
        free(flags);

        uint8_t *count = xmalloc(evn);
        memcpy(count, ev, evn);
        count[0] = count[1] = count[2] = count[3] = 0xff; /* 4 billion events in a few bytes */
        BAD(gy_append(s, S("x"), 0, 0, count, evn, 0, &res, &err));
        count[0] = 2;
        count[1] = count[2] = count[3] = 0; /* two events, one present */
        BAD(gy_append(s, S("x"), 0, 0, count, evn, 0, &res, &err));
        free(count);

        /* A field length that runs past the buffer (the type's length, after flags and id). */
        uint8_t *field = xmalloc(evn);
        memcpy(field, ev, evn);
        field[4 + 1 + 16] = 0xff;
        field[4 + 1 + 16 + 3] = 0x7f;
        BAD(gy_append(s, S("x"), 0, 0, field, evn, 0, &res, &err));
        free(field);

        uint8_t zero[4] = {0, 0, 0, 0}; /* no events */
        BAD(gy_append(s, S("x"), 0, 0, zero, 4, 0, &res, &err));
        BAD(gy_append(s, S("x"), 0, 0, NULL, 0, 0, &res, &err));
        BAD(gy_append(s, S("x"), 0, 0, zero, 3, 0, &res, &err));

        ev_t bad_type = {.type = "\xff", .content_type = "text/plain", .data = "x"};
        bytes_t b = pack_events(&bad_type, 1);
        BAD(gy_append(s, S("x"), 0, 0, b.p, b.len, 0, &res, &err));
        bb_free(&b);
        static const uint8_t nil[16] = {0};
        ev_t nil_id = {.id = nil, .type = "t", .content_type = "text/plain", .data = "x"};
        b = pack_events(&nil_id, 1);
        BAD(gy_append(s, S("x"), 0, 0, b.p, b.len, 0, &res, &err));
        bb_free(&b);
        ev_t twice[2] = {good_ev, good_ev};
        b = pack_events(twice, 2);
        BAD(gy_append(s, S("x"), 0, 0, b.p, b.len, 0, &res, &err)); /* one id twice in one append */
        bb_free(&b);
        ev_t bad_json = {.type = "t", .content_type = "application/json", .data = "{\"a\":1,}"};
        b = pack_events(&bad_json, 1);
        BAD(gy_append(s, S("x"), 0, 0, b.p, b.len, 0, &res, &err));
        bb_free(&b);
        ev_t no_type = {.type = "", .content_type = "text/plain", .data = "x"};
        b = pack_events(&no_type, 1);
        BAD(gy_append(s, S("x"), 0, 0, b.p, b.len, 0, &res, &err));
        bb_free(&b);
    }
    EXPECT(gy_read_stream(s, S("x"), 0, -1, -1, 0, &buf, &err), NOT_FOUND); /* nothing above was written */

    /* Malformed JSON, top-level arrays, unknown fields, wrong types. */
    static const char *bad_json[] = {"{", "", "[]", "[1]", "null", "42", "{\"bogus\":1}", "\"x\"", "{}{}", "\xff"};
    for (size_t i = 0; i < sizeof bad_json / sizeof *bad_json; i++) {
        const char *j = bad_json[i];
        BAD(gy_set_stream_metadata(s, S("x"), S(j), 0, &err));
        BAD(gy_create_group(s, S("g"), S(j), 0, 0, S("{}"), 0, &buf, &err));                   /* target */
        BAD(gy_create_group(s, S("g"), S("{\"stream\":\"x\"}"), 0, 0, S(j), 0, &buf, &err)); /* settings */
        BAD(gy_update_group(s, S("bg"), S(j), 0, &buf, &err));
        BAD(gy_read_all(s, 0, -1, -1, S(j), 0, &buf, &err));
        BAD(gy_subscribe_to_all(s, 0, 0, S(j), PAGE, 0, &sub, &err));
    }
    BAD(gy_set_stream_metadata(s, S("x"), S("{\"max_count\":\"2\"}"), 0, &err));
    BAD(gy_set_stream_metadata(s, S("x"), S("{\"max_count\":-1}"), 0, &err));
    BAD(gy_create_group(s, S("g"), S("{\"stream\":\"x\",\"all\":{}}"), 0, 0, S("{}"), 0, &buf, &err));
    BAD(gy_create_group(s, S("g"), S("{\"all\":{\"prefixes\":[]}}"), 0, 0, S("{}"), 0, &buf, &err));
    BAD(gy_create_group(s, S("g"), S("{\"stream\":\"x\"}"), 0, 0, S("{\"strategy\":\"random\"}"), 0, &buf, &err));
    BAD(gy_create_group(s, S("g"), S("{\"stream\":\"x\"}"), 0, 0, S("{\"max_retries\":-1}"), 0, &buf, &err));
    BAD(gy_create_group(s, S("g"), S("{\"stream\":\"x\"}"), 0, 0, NULL, 0, 0, &buf, &err)); /* settings required */
    BAD(gy_create_group(s, S("g"), NULL, 0, 0, 0, S("{}"), 0, &buf, &err));                 /* target required */
    BAD(gy_read_all(s, 0, -1, -1, S("{\"stream_prefixes\":\"orders\"}"), 0, &buf, &err));
    BAD(gy_read_all(s, 0, -1, -1, S("{\"event_types\":[1]}"), 0, &buf, &err));

    /* Null out-pointers: refused before any work is done. */
    gy_handle h = 0;
    BAD(gy_open(S("/tmp/unused"), 1, 0, 0, 0, 0, NULL, 0, NULL, &err));
    BAD(gy_connect(S("http://127.0.0.1:1"), NULL, 0, NULL, 0, -1, -1, -1, -1, NULL, &err));
    BAD(gy_store_on_node(s, S("node-1"), NULL, &err));
    BAD(gy_is_encrypted(s, NULL, &err));
    BAD(gy_append(s, S("x"), 0, 0, ev, evn, 0, NULL, &err));
    BAD(gy_read_stream(s, S("x"), 0, -1, -1, 0, NULL, &err));
    BAD(gy_read_all(s, 0, -1, -1, NULL, 0, 0, NULL, &err));
    BAD(gy_head_position(s, 0, NULL, &err));
    BAD(gy_stream_info(s, S("x"), 0, NULL, &err));
    BAD(gy_get_stream_metadata(s, S("x"), 0, NULL, &err));
    BAD(gy_get_snapshot(s, S("x"), 0, NULL, &err));
    BAD(gy_upsert_schema(s, S("{\"name\":\"n\",\"fields\":[]}"), 0, NULL, &err));
    BAD(gy_get_schema(s, S("n"), -1, 0, NULL, &err));
    BAD(gy_list_schemas(s, 0, NULL, &err));
    BAD(gy_create_group(s, S("g"), S("{\"stream\":\"x\"}"), 0, 0, S("{}"), 0, NULL, &err));
    BAD(gy_update_group(s, S("bg"), S("{}"), 0, NULL, &err));
    BAD(gy_group_info(s, S("bg"), 0, NULL, &err));
    BAD(gy_list_groups(s, 0, NULL, &err));
    BAD(gy_replay_parked(s, S("bg"), -1, 0, NULL, &err));
    BAD(gy_subscribe_to_stream(s, S("x"), 0, 0, 0, 0, NULL, &err));
    BAD(gy_subscribe_to_all(s, 0, 0, NULL, 0, 0, 0, NULL, &err));
    BAD(gy_join_group(s, S("bg"), S("m"), 0, NULL, &err));
    BAD(gy_member_next(m, 0, 0, NULL, &err));
    /* Nothing was done for the calls refused above: no group g, no schema n, no stream x. */
    EXPECT(gy_group_info(s, S("g"), 0, &buf, &err), NOT_FOUND);
    EXPECT(gy_get_schema(s, S("n"), -1, 0, &buf, &err), NOT_FOUND);
    EXPECT(gy_stream_info(s, S("x"), 0, &buf, &err), NOT_FOUND);

    /* gy_cancel_new with a null out: refused, and (the contract of every other export) nothing
     * made. Handles are numbered in order, so the one it would have registered is the one
     * between two tokens made around it. */
    gy_handle before = 0, after = 0;
    OK(gy_cancel_new(&before, &err));
    BAD(gy_cancel_new(NULL, &err));
    OK(gy_cancel_new(&after, &err));
    if (after == before + 2) {
        int32_t st = gy_cancel_pull(before + 1, &err);
        gy_error_free(&err);
        REGRESSION(st != GY_OK,
                  "gy_cancel_new(NULL, err) returns INVALID_ARGUMENT but registered a cancel token first: handle "
                  "%" PRIu64 " is live and can never be freed by the caller (lib.rs gy_cancel_new: register before put)",
                  before + 1);
        gy_cancel_free(before + 1); /* the test's own clean-up of what the library leaked */
    }
    gy_cancel_free(before);
    gy_cancel_free(after);

    /* A null err: allowed; the status alone says what happened. */
    CHECK(gy_append(s, S("x"), 9, 0, ev, evn, 0, &res, NULL) == INVALID_ARGUMENT, "status without err");
    CHECK(gy_read_stream(s, S("x"), 0, -1, -1, 0, &buf, NULL) == NOT_FOUND, "status without err");
    CHECK(gy_open(NULL, 1, 1, 0, 0, 0, 0, NULL, 0, &h, NULL) == INVALID_ARGUMENT, "status without err");
    CHECK(gy_self_test_panic(NULL) == INTERNAL, "a panic without err");
    CHECK(gy_subscription_next(999999999, 0, 0, &buf, NULL) == INVALID_ARGUMENT, "status without err");

    /* Handles: 0, one never issued, one of another kind. */
    BAD(gy_append(0, S("x"), 0, 0, ev, evn, 0, &res, &err));
    BAD(gy_append(999999999, S("x"), 0, 0, ev, evn, 0, &res, &err));
    BAD(gy_append(UINT64_MAX, S("x"), 0, 0, ev, evn, 0, &res, &err));
    BAD(gy_head_position(0, 0, &res[0], &err));
    BAD(gy_is_encrypted(999999999, &(bool){false}, &err));
    BAD(gy_subscription_next(0, 0, 0, &buf, &err));
    BAD(gy_subscription_cancel(999999999, &err));
    BAD(gy_member_next(0, 0, 0, &buf, &err));
    BAD(gy_member_ack(999999999, &one_id, 1, 0, &err));
    BAD(gy_member_cancel(0, &err));
    BAD(gy_cancel_pull(999999999, &err));
    BAD(gy_read_stream(s, S("x"), 0, -1, -1, 999999999, &buf, &err)); /* a cancel token never issued */
    OK(gy_subscribe_to_stream(s, S("x"), 0, 0, PAGE, 0, &sub, &err));
    BAD(gy_append(sub, S("x"), 0, 0, ev, evn, 0, &res, &err)); /* a subscription as a store */
    BAD(gy_head_position(m, 0, &res[0], &err));               /* a member as a store */
    BAD(gy_subscription_next(s, 0, 0, &buf, &err));            /* a store as a subscription */
    BAD(gy_subscription_next(m, 0, 0, &buf, &err));            /* a member as a subscription */
    BAD(gy_subscription_cancel(m, &err));
    BAD(gy_member_next(sub, 0, 0, &buf, &err));                /* a subscription as a member */
    BAD(gy_member_ack(s, &one_id, 1, 0, &err));
    BAD(gy_member_cancel(sub, &err));
    BAD(gy_read_stream(s, S("x"), 0, -1, -1, sub, &buf, &err)); /* a subscription as a cancel token */
    BAD(gy_read_stream(s, S("x"), 0, -1, -1, s, &buf, &err));   /* a store as a cancel token */
    BAD(gy_store_on_node(sub, S("n"), &h, &err));
    /* ...and they all still work (the subscription first says it caught up: "x" is empty). */
    CHECK(sub_next(sub, 5000, NULL, NULL, NULL, 0) == 0, "the caught-up marker");
    EXPECT(gy_subscription_next(sub, 0, 0, &buf, &err), GY_TIMEOUT);
    EXPECT(gy_member_next(m, 0, 0, &buf, &err), GY_TIMEOUT);
    gy_subscription_free(sub);
    gy_member_free(m);

    /* An embedded store has no nodes to choose. */
    EXPECT(gy_store_on_node(s, S("node-1"), &h, &err), UNSUPPORTED);

    /* Connecting: bad arguments, and nothing listening. */
    BAD(gy_connect(NULL, 3, NULL, 0, NULL, 0, -1, -1, -1, -1, &h, &err));
    BAD(gy_connect(S("http://127.0.0.1:1"), NULL, 0, NULL, 0, -2, -1, -1, -1, &h, &err));
    BAD(gy_connect(S("http://127.0.0.1:1"), NULL, 0, NULL, 0, -1, -7, -1, -1, &h, &err));
    BAD(gy_connect(S("http://127.0.0.1:1"), NULL, 0, NULL, 0, -1, -1, -2, -1, &h, &err));
    BAD(gy_connect(S("http://127.0.0.1:1"), NULL, 0, NULL, 0, -1, -1, -1, -3, &h, &err));
    BAD(gy_connect(S("http://127.0.0.1:1"), (const uint8_t *)"\xff", 1, NULL, 0, -1, -1, -1, -1, &h, &err));
    BAD(gy_connect(S("http://127.0.0.1:1"), NULL, 5, NULL, 0, -1, -1, -1, -1, &h, &err));
    /* A null CA with a length: every other pointer of the ABI is refused so (a null pointer is
     * an empty input only with length 0); this one is taken for "no CA" and the call goes on. */
    int32_t st = gy_connect(S("http://127.0.0.1:1"), NULL, 0, NULL, 9, 500, 500, 0, -1, &h, &err);
    gy_error_free(&err);
    if (st == GY_OK) gy_store_close(h);
    REGRESSION(st == INVALID_ARGUMENT,
              "gy_connect(ca_pem NULL, ca_pem_len 9) is not INVALID_ARGUMENT (got %d): lib.rs gy_connect checks "
              "`!ca_pem.is_null()` and ignores the length, unlike every other pointer and length of the ABI",
              st);
    h = 0;
    st = gy_connect(S("http://127.0.0.1:1"), NULL, 0, NULL, 0, 500, 500, 0, -1, &h, &err);
    CHECK(st == UNAVAILABLE, "connecting to nothing: UNAVAILABLE, got %d (%s)", st, err.message ? err.message : "");
    expect_status(st, UNAVAILABLE, &err, false, "gy_connect(nothing listening)", __FILE__, __LINE__);
    CHECK(h == 0, "out is written only on success");

    /* The frees accept anything. */
    gy_buf_free(NULL);
    gy_error_free(NULL);
    gy_store_close(0);
    gy_store_free(999999999);
    gy_subscription_free(0);
    gy_member_free(999999999);
    gy_cancel_free(UINT64_MAX);

    bb_free(&good);
    gy_store_close(s);
}

/* ==== 10. use after close and free ========================================================== */

typedef struct {
    gy_handle sub, member;
    int32_t sub_status, member_status;
} waiters_t;

static void *wait_sub(void *arg) {
    waiters_t *w = arg;
    gy_error err = {0};
    gy_buf buf = {0};
    /* Past the caught-up marker, then waiting for good. */
    for (;;) {
        w->sub_status = gy_subscription_next(w->sub, -1, 0, &buf, &err);
        gy_buf_free(&buf);
        if (w->sub_status != GY_OK) break;
    }
    gy_error_free(&err);
    return NULL;
}

static void *wait_member(void *arg) {
    waiters_t *w = arg;
    gy_error err = {0};
    gy_buf buf = {0};
    w->member_status = gy_member_next(w->member, -1, 0, &buf, &err);
    gy_buf_free(&buf);
    gy_error_free(&err);
    return NULL;
}

static void test_closed(void) {
    begin("closed");
    gy_error err = {0};
    gy_buf buf = {0};
    uint64_t res[4];
    ev_t e = {.type = "t", .content_type = "application/json", .data = "{}"};
    bytes_t b = pack_events(&e, 1);
    uint8_t key[32] = {7};
    uint64_t one = 0;
    gy_handle h = 0;

    gy_handle s = open_store("closed", 1, NULL);
    probe_default_page_size(s, "embedded");
    OK(gy_append(s, S("c"), 0, 0, b.p, b.len, 0, &res, &err));
    OK(gy_create_group(s, S("cg"), S("{\"stream\":\"c\"}"), 0, 0, S("{}"), 0, &buf, &err));
    gy_buf_free(&buf);
    gy_handle sub = 0, sub2 = 0, m = 0, m2 = 0;
    OK(gy_subscribe_to_stream(s, S("c"), 0, 0, PAGE, 0, &sub, &err));
    OK(gy_subscribe_to_all(s, 0, 0, NULL, 0, PAGE, 0, &sub2, &err));
    OK(gy_join_group(s, S("cg"), S("m"), 0, &m, &err));
    OK(gy_join_group(s, S("cg"), S("m2"), 0, &m2, &err));
    /* m2 takes the only event, so m waits. */
    delivery_t d = member_next_ok(m2, 5000, &buf);
    one = d.id;
    gy_buf_free(&buf);

    /* Two threads blocked for good in `next`; closing the store wakes both. */
    waiters_t w = {.sub = sub2, .member = m};
    pthread_t ts = spawn(wait_sub, &w), tm = spawn(wait_member, &w);
    sleep_ms(200);
    gy_store_close(s);
    join(ts);
    join(tm);
    printf("    blocked nexts after their store closed: subscription %d, member %d\n", w.sub_status, w.member_status);
    CHECK(w.sub_status == CLOSED || w.sub_status == GY_ENDED, "a waiting subscription ends: %d", w.sub_status);
    CHECK(w.member_status == CLOSED || w.member_status == GY_ENDED, "a waiting member ends: %d", w.member_status);

    /* Every call on the closed store: CLOSED. */
    EXPECT(gy_append(s, S("c"), 0, 0, b.p, b.len, 0, &res, &err), CLOSED);
    EXPECT(gy_read_stream(s, S("c"), 0, -1, -1, 0, &buf, &err), CLOSED);
    EXPECT(gy_read_all(s, 0, -1, -1, NULL, 0, 0, &buf, &err), CLOSED);
    EXPECT(gy_head_position(s, 0, &res[0], &err), CLOSED);
    EXPECT(gy_stream_info(s, S("c"), 0, &buf, &err), CLOSED);
    EXPECT(gy_set_stream_metadata(s, S("c"), S("{}"), 0, &err), CLOSED);
    EXPECT(gy_get_stream_metadata(s, S("c"), 0, &buf, &err), CLOSED);
    EXPECT(gy_delete_stream(s, S("c"), 0, 0, false, 0, &err), CLOSED);
    EXPECT(gy_delete_stream(s, S("c"), 0, 0, true, 0, &err), CLOSED);
    EXPECT(gy_shred_stream(s, S("c"), 0, &err), CLOSED);
    EXPECT(gy_rotate_master_key(s, key, 32, 0, &err), CLOSED);
    EXPECT(gy_save_snapshot(s, S("c"), 0, NULL, 0, 0, &err), CLOSED);
    EXPECT(gy_get_snapshot(s, S("c"), 0, &buf, &err), CLOSED);
    EXPECT(gy_upsert_schema(s, S("{\"name\":\"n\",\"fields\":[]}"), 0, &buf, &err), CLOSED);
    EXPECT(gy_get_schema(s, S("n"), -1, 0, &buf, &err), CLOSED);
    EXPECT(gy_list_schemas(s, 0, &buf, &err), CLOSED);
    EXPECT(gy_create_group(s, S("g"), S("{\"stream\":\"c\"}"), 0, 0, S("{}"), 0, &buf, &err), CLOSED);
    EXPECT(gy_update_group(s, S("cg"), S("{}"), 0, &buf, &err), CLOSED);
    EXPECT(gy_delete_group(s, S("cg"), 0, &err), CLOSED);
    EXPECT(gy_group_info(s, S("cg"), 0, &buf, &err), CLOSED);
    EXPECT(gy_list_groups(s, 0, &buf, &err), CLOSED);
    EXPECT(gy_replay_parked(s, S("cg"), -1, 0, &buf, &err), CLOSED);
    EXPECT(gy_subscribe_to_stream(s, S("c"), 0, 0, 0, 0, &h, &err), CLOSED);
    EXPECT(gy_subscribe_to_all(s, 0, 0, NULL, 0, 0, 0, &h, &err), CLOSED);
    EXPECT(gy_join_group(s, S("cg"), S("m3"), 0, &h, &err), CLOSED);
    EXPECT(gy_is_encrypted(s, &(bool){false}, &err), CLOSED);
    EXPECT(gy_store_on_node(s, S("node-1"), &h, &err), CLOSED);
    /* The checks of the arguments come after the handle's: a closed store says CLOSED even to
     * calls that are wrong in other ways (what matters is that it is an error, never a crash). */
    int32_t st = gy_append(s, S("c"), 9, 0, b.p, b.len, 0, &res, &err);
    CHECK(st == CLOSED || st == INVALID_ARGUMENT, "a bad call on a closed store: %d", st);
    gy_error_free(&err);

    /* The sessions of the closed store: per the code (core/src/store/session.rs, while_open),
     * every `next` of a session of a closed store is CLOSED, every time: never GY_ENDED. */
    int32_t first = gy_subscription_next(sub, 100, 0, &buf, &err);
    gy_buf_free(&buf);
    gy_error_free(&err);
    int32_t later = gy_subscription_next(sub, 100, 0, &buf, &err);
    gy_error_free(&err);
    printf("    a subscription of a closed store: next %d, then %d\n", first, later);
    CHECK(first == CLOSED || first == GY_ENDED, "a subscription of a closed store ends: %d", first);
    CHECK(first == CLOSED && later == CLOSED, "a closed store's subscription: CLOSED on every call, got %d then %d",
          first, later);
    first = gy_member_next(m2, 100, 0, &buf, &err);
    gy_error_free(&err);
    later = gy_member_next(m2, 100, 0, &buf, &err);
    gy_error_free(&err);
    printf("    a member of a closed store: next %d, then %d\n", first, later);
    CHECK(first == CLOSED || first == GY_ENDED, "a member of a closed store ends: %d", first);
    CHECK(first == CLOSED && later == CLOSED, "a closed store's member: CLOSED on every call, got %d then %d", first,
          later);
    EXPECT(gy_member_ack(m2, &one, 1, 0, &err), CLOSED);
    EXPECT(gy_member_nack(m2, 1, &one, 1, 0, &err), CLOSED);
    OK(gy_subscription_cancel(sub, &err)); /* the handle is live: cancelling it is fine */
    OK(gy_member_cancel(m2, &err));

    /* Close and free: twice, and in either order, harmless. */
    gy_store_close(s);
    gy_store_free(s);
    gy_store_close(s);

    /* Sessions freed, then used: CLOSED; freed again: harmless. */
    gy_subscription_free(sub);
    gy_subscription_free(sub);
    EXPECT(gy_subscription_next(sub, 0, 0, &buf, &err), CLOSED);
    EXPECT(gy_subscription_cancel(sub, &err), CLOSED);
    gy_subscription_free(sub2);
    gy_member_free(m);
    gy_member_free(m);
    gy_member_free(m2);
    EXPECT(gy_member_next(m, 0, 0, &buf, &err), CLOSED);
    EXPECT(gy_member_ack(m, &one, 1, 0, &err), CLOSED);
    EXPECT(gy_member_nack(m, 3, &one, 1, 0, &err), CLOSED);
    EXPECT(gy_member_cancel(m, &err), CLOSED);

    /* Sessions freed while another thread waits in their `next`: the free ends the wait
     * (GY_ENDED), and the call in flight keeps what it uses alive (ASan would see a use after
     * free otherwise). */
    gy_handle s5 = open_store("free-while-waiting", 1, NULL);
    OK(gy_create_group(s5, S("wg"), S("{\"stream\":\"w\"}"), 0, 0, S("{}"), 0, &buf, &err));
    gy_buf_free(&buf);
    w = (waiters_t){0};
    OK(gy_subscribe_to_stream(s5, S("w"), 0, 0, PAGE, 0, &w.sub, &err));
    OK(gy_join_group(s5, S("wg"), S("m"), 0, &w.member, &err));
    ts = spawn(wait_sub, &w);
    tm = spawn(wait_member, &w);
    sleep_ms(200);
    gy_subscription_free(w.sub);
    gy_member_free(w.member);
    join(ts);
    join(tm);
    CHECK(w.sub_status == GY_ENDED, "a subscription freed under a waiting next: %d", w.sub_status);
    CHECK(w.member_status == GY_ENDED, "a member freed under a waiting next: %d", w.member_status);
    gy_store_close(s5);

    /* A store freed (not closed) is CLOSED through that handle too. */
    gy_handle s2 = open_store("freed", 1, NULL);
    gy_store_free(s2);
    EXPECT(gy_head_position(s2, 0, &res[0], &err), CLOSED);
    gy_store_close(s2);
    /* Freeing the last handle without closing released the store: it opens again. */
    gy_handle s3 = open_store("freed", 1, NULL);

    /* A store's sessions live on after its handle is freed (only close ends them), and are
     * freed on their own. */
    gy_handle live = 0;
    OK(gy_append(s3, S("f"), 0, 0, b.p, b.len, 0, &res, &err));
    OK(gy_subscribe_to_stream(s3, S("f"), 0, 0, PAGE, 0, &live, &err));

    /* Frees given another kind's handle do nothing: each handle keeps working. */
    gy_handle tok = 0, m4 = 0;
    OK(gy_cancel_new(&tok, &err));
    OK(gy_create_group(s3, S("fg"), S("{\"stream\":\"f\"}"), 0, 0, S("{}"), 0, &buf, &err));
    gy_buf_free(&buf);
    OK(gy_join_group(s3, S("fg"), S("m"), 0, &m4, &err));
    gy_subscription_free(s3);
    gy_member_free(s3);
    gy_cancel_free(s3);
    gy_store_free(live);
    gy_store_close(live);
    gy_member_free(live);
    gy_cancel_free(live);
    gy_store_free(m4);
    gy_store_close(m4);
    gy_subscription_free(m4);
    gy_cancel_free(m4);
    gy_store_free(tok);
    gy_store_close(tok);
    gy_subscription_free(tok);
    gy_member_free(tok);
    OK(gy_head_position(s3, 0, &res[0], &err));
    CHECK(sub_next(live, 5000, NULL, NULL, NULL, 0) == 1, "the subscription survived the other frees");
    d = member_next_ok(m4, 5000, &buf);
    one = d.id;
    gy_buf_free(&buf);
    OK(gy_member_ack(m4, &one, 1, 0, &err));
    OK(gy_read_stream(s3, S("f"), 0, -1, -1, tok, &buf, &err));
    gy_buf_free(&buf);
    gy_cancel_free(tok);
    gy_member_free(m4);
    gy_store_free(s3); /* the store's handle goes; its subscription stays */
    st = gy_subscription_next(live, 100, 0, &buf, &err);
    gy_buf_free(&buf);
    gy_error_free(&err);
    printf("    a subscription after its store's only handle was freed: next %d\n", st);
    gy_subscription_free(live);

    /* Buffers and errors: freed twice on the same struct, harmless. */
    gy_handle s4 = open_store("frees", 1, NULL);
    OK(gy_list_groups(s4, 0, &buf, &err));
    CHECK(buf.data && buf.len == 2, "[] is 2 bytes");
    gy_buf_free(&buf);
    gy_buf_free(&buf);
    CHECK(buf.data == NULL && buf.len == 0, "emptied");
    gy_buf zeroed = {0};
    gy_buf_free(&zeroed);
    EXPECT_KEEP(gy_head_position(0, 0, &res[0], &err), INVALID_ARGUMENT);
    gy_error_free(&err);
    gy_error_free(&err);
    CHECK(err.code == 0 && !err.message && !err.details, "cleared");
    gy_store_close(s4);
    bb_free(&b);
}

/* ==== 11. panics ============================================================================= */

static void test_panic(void) {
    begin("panic");
    gy_error err = {0};
    EXPECT_KEEP(gy_self_test_panic(&err), INTERNAL);
    CHECK(strstr(err.message, "panic") != NULL, "the message says it panicked: %s", err.message);
    CHECK(err.details == NULL, "INTERNAL has no details");
    gy_error_free(&err);
    for (int i = 0; i < 3; i++) EXPECT(gy_self_test_panic(&err), INTERNAL);
    /* The library keeps working: its locks are not poisoned for good. */
    gy_handle s = open_store("after-panic", 1, NULL);
    append_one(s, "p", "t", "{}", NULL);
    page_t p = read_stream_ok(s, "p", 0, -1, -1);
    CHECK(p.count == 1, "works after a panic");
    page_free(&p);
    gy_handle tok = 0;
    OK(gy_cancel_new(&tok, &err));
    gy_cancel_free(tok);
    gy_store_close(s);
}

/* ==== 12. a real node ======================================================================== */

static void node_kill(void) {
    pid_t pid = node_pid;
    if (pid <= 0) return;
    node_pid = 0;
    kill(pid, SIGTERM);
    /* SIGTERM is a clean shutdown; a node that does not stop in 10 s is killed. */
    for (int i = 0; i < 200; i++) {
        if (waitpid(pid, NULL, WNOHANG) == pid) return;
        sleep_ms(50);
    }
    kill(pid, SIGKILL);
    waitpid(pid, NULL, 0);
}

static int free_port(void) {
    int fd = socket(AF_INET, SOCK_STREAM, 0);
    CHECK(fd >= 0, "socket: %s", strerror(errno));
    struct sockaddr_in a = {.sin_family = AF_INET, .sin_port = 0};
    a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    CHECK(bind(fd, (struct sockaddr *)&a, sizeof a) == 0, "bind: %s", strerror(errno));
    socklen_t n = sizeof a;
    CHECK(getsockname(fd, (struct sockaddr *)&a, &n) == 0, "getsockname: %s", strerror(errno));
    close(fd);
    return ntohs(a.sin_port);
}

static void print_log_tail(const char *log) {
    FILE *f = fopen(log, "r");
    if (!f) return;
    char line[512];
    fprintf(stderr, "---- %s\n", log);
    while (fgets(line, sizeof line, f)) fputs(line, stderr);
    fclose(f);
}

static void test_node(void) {
    begin("node");
    const char *bin = getenv("GY_SERVER_BIN");
    if (!bin || !*bin || access(bin, X_OK) != 0) {
        printf("    SKIP: no node binary (GY_SERVER_BIN=%s)\n", bin ? bin : "(unset)");
        return;
    }
    gy_error err = {0};
    gy_buf buf = {0};
    char dir[512], data[600], log[600], listen[64], endpoint[96];
    path_of(dir, sizeof dir, "node");
    CHECK(mkdir(dir, 0700) == 0, "mkdir %s: %s", dir, strerror(errno));
    snprintf(data, sizeof data, "%s/data", dir);
    snprintf(log, sizeof log, "%s/node.log", dir);
    int port = free_port();
    snprintf(listen, sizeof listen, "127.0.0.1:%d", port);
    snprintf(endpoint, sizeof endpoint, "http://127.0.0.1:%d", port);

    /* The flags are the node's whole configuration: no GRAVEYARD_* variable leaks in. */
    size_t n = 0;
    while (environ[n]) n++;
    char **env = xmalloc(sizeof(char *) * (n + 1));
    size_t k = 0;
    for (size_t i = 0; i < n; i++)
        if (strncmp(environ[i], "GRAVEYARD_", 10) != 0) env[k++] = environ[i];
    env[k] = NULL;
    char *argv[] = {(char *)bin, "serve", "--listen", listen, "--data", data, NULL};
    int logfd = open(log, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
    CHECK(logfd >= 0, "open %s: %s", log, strerror(errno));
    pid_t parent = getpid();
    fflush(NULL);
    pid_t pid = fork();
    CHECK(pid >= 0, "fork: %s", strerror(errno));
    if (pid == 0) {
        /* The child of a threaded process: only async-signal-safe calls until execve. The node
         * dies with this process however it ends (an ASan abort skips every clean-up), so no
         * run leaves a node behind. */
        if (prctl(PR_SET_PDEATHSIG, SIGKILL) != 0 || getppid() != parent) _exit(126);
        if (dup2(logfd, 1) < 0 || dup2(logfd, 2) < 0) _exit(126);
        int devnull = open("/dev/null", O_RDONLY);
        if (devnull >= 0) dup2(devnull, 0);
        execve(bin, argv, env);
        _exit(127);
    }
    close(logfd);
    free(env);
    node_pid = pid;
    printf("    node %s on %s (pid %d)\n", bin, listen, (int)pid);

    /* Connect once it answers: it may still be starting. */
    gy_handle c = 0;
    struct timespec t0, t;
    clock_gettime(CLOCK_MONOTONIC, &t0);
    for (;;) {
        int32_t st = gy_connect(S(endpoint), NULL, 0, NULL, 0, 1000, 10000, 0, -1, &c, &err);
        if (st == GY_OK) break;
        gy_error_free(&err);
        if (waitpid(pid, NULL, WNOHANG) == pid) {
            node_pid = 0;
            print_log_tail(log);
            FAIL("the node exited before it answered");
        }
        clock_gettime(CLOCK_MONOTONIC, &t);
        if (t.tv_sec - t0.tv_sec > 30) {
            print_log_tail(log);
            FAIL("the node did not answer within 30 s (last status %d)", st);
        }
        sleep_ms(50);
    }

    probe_default_page_size(c, "cluster");

    /* A CA certificate makes a host:port endpoint TLS: one that is not PEM (or a node that
     * speaks no TLS) is an error, whatever its code. */
    gy_handle bad = 0;
    int32_t st = gy_connect(S(listen), NULL, 0, (const uint8_t *)"not a pem", 9, 1000, 1000, 0, -1, &bad, &err);
    printf("    a CA that is not PEM, host:port of a plaintext node: status %d (%s)\n", st,
           err.message ? err.message : "");
    gy_error_free(&err);
    if (st == GY_OK) gy_store_close(bad);
    CHECK(st > 0, "a CA that is not PEM is an error");
    /* With an explicit http:// the client (core/src/client/transport.rs) keeps plain HTTP/2 and
     * never reads the CA: reported, not held against the C ABI. */
    st = gy_connect(S(endpoint), NULL, 0, (const uint8_t *)"not a pem", 9, 1000, 1000, 0, -1, &bad, &err);
    printf("    a CA that is not PEM, http:// endpoint: status %d%s\n", st,
           st == GY_OK ? " (connected in plaintext: the CA was ignored)" : "");
    gy_error_free(&err);
    if (st == GY_OK) gy_store_close(bad);

    /* Append and read back. */
    ev_t evs[2] = {{.id = ID_A, .type = "t", .content_type = "application/json", .data = "{\"a\":1}", .metadata = "m"},
                   {.id = ID_C, .type = "u", .content_type = "text/plain", .data = "hi"}};
    bytes_t b = pack_events(evs, 2);
    uint64_t res[4];
    OK(gy_append(c, S("remote-1"), 1, 0, b.p, b.len, 0, &res, &err));
    CHECK(res[0] == 0 && res[1] == 1, "remote revisions 0..1");
    /* The same ids again: an idempotent retry over the wire too. */
    OK(gy_append(c, S("remote-1"), 1, 0, b.p, b.len, 0, &res, &err));
    CHECK(res[0] == 0 && res[1] == 1, "an idempotent retry");
    bb_free(&b);
    page_t p = read_stream_ok(c, "remote-1", 0, -1, -1);
    CHECK(p.count == 2, "2 events");
    check_event(&p.ev[0], "remote-1", 0, 0, "t", "application/json", "{\"a\":1}", "m");
    CHECK(memcmp(p.ev[0].id, ID_A, 16) == 0, "id");
    SLICE_IS(p.ev[1].data, "hi");
    page_free(&p);
    p = read_all_ok(c, 1, -1, 1, NULL);
    CHECK(p.count == 1 && p.ev[0].position == 1, "$all of the node");
    page_free(&p);
    uint64_t head = 0;
    OK(gy_head_position(c, 0, &head, &err));
    CHECK(head == 2, "head %" PRIu64, head);
    OK(gy_stream_info(c, S("remote-1"), 0, &buf, &err));
    JSON_HAS(buf, "\"current\":1");
    gy_buf_free(&buf);
    {
        ev_t e = {.type = "t", .content_type = "application/json", .data = "{}"};
        b = pack_events(&e, 1);
        EXPECT_KEEP(gy_append(c, S("remote-1"), 3, 7, b.p, b.len, 0, &res, &err), WRONG_EXPECTED_VERSION);
        CHECK(err.details && strstr(err.details, "\"actual\":1"), "details over the wire: %s",
              err.details ? err.details : "(null)");
        gy_error_free(&err);
        bb_free(&b);
    }

    /* A subscription over the wire: history, caught up, live. */
    gy_handle sub = 0;
    OK(gy_subscribe_to_stream(c, S("remote-1"), 0, 0, PAGE, 0, &sub, &err));
    uint64_t rev = 9;
    CHECK(sub_next(sub, 10000, &rev, NULL, NULL, 0) == 1 && rev == 0, "remote history 0");
    CHECK(sub_next(sub, 10000, &rev, NULL, NULL, 0) == 1 && rev == 1, "remote history 1");
    CHECK(sub_next(sub, 10000, NULL, NULL, NULL, 0) == 0, "remote caught up");
    bg_t a = {.store = c, .stream = "remote-1", .delay_ms = 100};
    pthread_t th = spawn(bg_append, &a);
    CHECK(sub_next(sub, 10000, &rev, NULL, NULL, 0) == 1 && rev == 2, "remote live event");
    join(th);
    EXPECT(gy_subscription_next(sub, 100, 0, &buf, &err), GY_TIMEOUT);
    a = (bg_t){.sub = sub, .delay_ms = 100};
    th = spawn(bg_sub_cancel, &a);
    EXPECT(gy_subscription_next(sub, -1, 0, &buf, &err), GY_ENDED);
    join(th);
    gy_subscription_free(sub);

    /* A consumer group over the wire: settled by id. */
    OK(gy_create_group(c, S("rg"), S("{\"stream\":\"remote-1\"}"), 0, 0, S("{}"), 0, &buf, &err));
    gy_buf_free(&buf);
    gy_handle m = 0;
    OK(gy_join_group(c, S("rg"), S("m"), 0, &m, &err));
    delivery_t d = member_next_ok(m, 10000, &buf);
    CHECK(d.event.revision == 0 && d.attempt == 1 && d.parked_revision == -1, "remote delivery");
    uint64_t id = d.id;
    gy_buf_free(&buf);
    OK(gy_member_nack(m, 1, &id, 1, 0, &err));
    /* The retry comes again with the same id, attempt 2. Not necessarily next: the node hands a
     * session deliveries ahead of time (up to max_in_flight), so later events already on their
     * way may come first; those are settled as they come. */
    for (int i = 0;; i++) {
        CHECK(i < 10, "the retried delivery came back");
        d = member_next_ok(m, 10000, &buf);
        uint64_t got = d.id;
        uint32_t attempt = d.attempt;
        gy_buf_free(&buf);
        if (got == id) {
            CHECK(attempt == 2, "remote redelivery: same id, attempt 2 (got %u)", attempt);
            break;
        }
        CHECK(attempt == 1, "a first delivery");
        OK(gy_member_ack(m, &got, 1, 0, &err));
    }
    OK(gy_member_ack(m, &id, 1, 0, &err));
    gy_member_free(m);
    OK(gy_delete_group(c, S("rg"), 0, &err));

    /* What a cluster client cannot do, and choosing a node. */
    bool enc;
    EXPECT(gy_is_encrypted(c, &enc, &err), UNSUPPORTED);
    gy_handle on = 0;
    st = gy_store_on_node(c, S("no-such-node"), &on, &err);
    CHECK(st > 0 && on == 0, "an unknown node id is an error, got %d", st);
    printf("    gy_store_on_node(unknown): error %d (%s)\n", st, err.message);
    gy_error_free(&err);
    OK(gy_store_on_node(c, S("node-1"), &on, &err)); /* the default id of a single node */
    p = read_all_ok(on, 0, -1, -1, NULL);
    CHECK(p.count == 3, "$all through the chosen node: %u", p.count);
    page_free(&p);
    gy_store_free(on); /* free, not close: the connection is shared */
    OK(gy_head_position(c, 0, &head, &err));

    /* Sessions opened through a node handle, then the store closed through the main one. */
    OK(gy_store_on_node(c, S("node-1"), &on, &err));
    gy_handle sub_on = 0;
    OK(gy_subscribe_to_all(on, 1, 0, NULL, 0, PAGE, 0, &sub_on, &err));
    OK(gy_subscribe_to_stream(c, S("remote-1"), 1, 0, PAGE, 0, &sub, &err));
    gy_store_close(c);
    EXPECT(gy_head_position(on, 0, &head, &err), CLOSED); /* the connection is closed for all */
    EXPECT(gy_head_position(c, 0, &head, &err), CLOSED);
    st = gy_subscription_next(sub, 2000, 0, &buf, &err);
    gy_buf_free(&buf);
    gy_error_free(&err);
    CHECK(st == CLOSED || st == GY_ENDED, "a session of the closed store ends: %d", st);
    /* The node handle's session: skip its caught-up marker, then see whether it ended. */
    for (int i = 0; i < 3; i++) {
        st = gy_subscription_next(sub_on, 1000, 0, &buf, &err);
        gy_buf_free(&buf);
        gy_error_free(&err);
        if (st != GY_OK) break;
    }
    REGRESSION(st == CLOSED || st == GY_ENDED,
              "a subscription opened through a gy_store_on_node handle goes on after gy_store_close of the store "
              "(next returned %d): the header says close ends the sessions of every handle on the store",
              st);
    gy_subscription_free(sub_on);
    gy_subscription_free(sub);
    gy_store_free(on);

    node_kill();
    /* Nothing listens any more. */
    st = gy_connect(S(endpoint), NULL, 0, NULL, 0, 500, 500, 0, -1, &c, &err);
    CHECK(st == UNAVAILABLE, "a node that is gone: UNAVAILABLE, got %d", st);
    gy_error_free(&err);
}

/* ==== main =================================================================================== */

/* Handles live in a static registry inside the library, which LeakSanitizer sees as reachable:
 * a handle this program forgot to free is no leak report. So the registry is checked through
 * the ABI itself: handles are numbered in order and never reused, and gy_cancel_pull tells a
 * freed one (CLOSED) from a live one of any kind (OK for a token, INVALID_ARGUMENT for the
 * others). Every handle issued before the last one must be freed by now. */
static void check_no_live_handles(void) {
    begin("handles");
    gy_error err = {0};
    gy_handle last = 0;
    OK(gy_cancel_new(&last, &err));
    int live = 0;
    for (gy_handle h = 1; h < last; h++) {
        int32_t st = gy_cancel_pull(h, &err);
        if (st != CLOSED) {
            fprintf(stderr, "FAIL [handles] handle %" PRIu64 " is still live (gy_cancel_pull: %d, %s)\n", h, st,
                    err.message ? err.message : "a cancel token");
            live++;
        }
        gy_error_free(&err);
    }
    gy_cancel_free(last);
    CHECK(live == 0, "%d of the %" PRIu64 " handles issued were never freed", live, last - 1);
    printf("    all %" PRIu64 " handles issued were freed\n", last - 1);
}

static int rm_entry(const char *path, const struct stat *st, int flag, struct FTW *ftw) {
    (void)st;
    (void)flag;
    (void)ftw;
    return remove(path);
}

static const struct {
    const char *name;
    void (*fn)(void);
} TESTS[] = {
    {"versions", test_versions}, {"store", test_store},   {"concurrency", test_concurrency},
    {"schemas", test_schemas},   {"subscriptions", test_subscriptions}, {"groups", test_groups},
    {"cancel", test_cancel},     {"threads", test_threads}, {"bad_input", test_bad_input},
    {"closed", test_closed},     {"panic", test_panic},   {"node", test_node},
};
enum { NTESTS = sizeof TESTS / sizeof *TESTS };

int main(int argc, char **argv) {
    setvbuf(stdout, NULL, _IOLBF, 0);
    if (argc == 2 && strcmp(argv[1], "--list") == 0) {
        for (int i = 0; i < NTESTS; i++) puts(TESTS[i].name);
        return 0;
    }
    for (int a = 1; a < argc; a++) {
        bool known = false;
        for (int i = 0; i < NTESTS; i++) known |= strcmp(argv[a], TESTS[i].name) == 0;
        if (!known) {
            fprintf(stderr, "abi_test: no test '%s' (see --list)\n", argv[a]);
            return 2;
        }
    }
    signal(SIGALRM, on_alarm);
    atexit(node_kill);

    const char *base = getenv("TMPDIR");
    snprintf(tmp_root, sizeof tmp_root, "%s/gy-abi-test-XXXXXX", base && *base ? base : "/tmp");
    if (!mkdtemp(tmp_root)) {
        fprintf(stderr, "abi_test: mkdtemp %s: %s\n", tmp_root, strerror(errno));
        return 1;
    }

    int ran = 0;
    for (int i = 0; i < NTESTS; i++) {
        bool selected = argc == 1;
        for (int a = 1; a < argc; a++) selected |= strcmp(argv[a], TESTS[i].name) == 0;
        if (!selected) continue;
        TESTS[i].fn();
        ran++;
    }
    check_no_live_handles();
    alarm(0);
    nftw(tmp_root, rm_entry, 16, FTW_DEPTH | FTW_PHYS);
    printf("abi_test: %d test(s) passed\n", ran);
    return 0;
}
