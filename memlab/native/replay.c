/* replay: run an allocation trace (docs/trace-format.md) on this process's real
 * glibc malloc and print heap snapshots as JSON lines on stdout.
 *
 *   replay [--every N] [--rival] TRACE   run TRACE
 *   replay --version                     print gnu_get_libc_version()
 *
 * --rival: the malloc family is another allocator's, preloaded.  Its first
 * call (a malloc(1), freed) starts it before the baseline, snapshots carry only
 * brk and rss (mallinfo2 would read glibc's unused arena), and t and o lines,
 * glibc's own calls, are skipped.
 *
 * The replayer leaves the heap to the trace alone: the trace is mapped read
 * only, the pointer table lives in an anonymous mapping made and written
 * before the baseline, output goes through a static buffer and write(2), and
 * nothing here calls stdio or malloc for itself.  Resident memory is the
 * "Anonymous:" line of /proc/self/smaps_rollup, read with open/read/close
 * into a static buffer; the stack and static buffers are written before the
 * baseline so that their pages are already counted there.
 *
 * Exit status: 0 done, 2 bad usage or a trace that does not parse (nothing
 * is run; the line number, reason and line go to stderr), 1 other failures.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <gnu/libc-version.h>
#include <malloc.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/prctl.h>
#include <sys/stat.h>
#include <unistd.h>

#include "measure.h"

/* ---------- UTF-8: strict validation and decoding (as Python's codec) ---------- */

/* Decode one code point at s (n bytes left); return its length, 0 if invalid. */
static size_t utf8_next(const unsigned char *s, size_t n, uint32_t *cp)
{
    unsigned c = s[0];
    if (c < 0x80) {
        *cp = c;
        return 1;
    }
    size_t len;
    uint32_t v, lo = 0x80, hi = 0xBF;
    if (c >= 0xC2 && c <= 0xDF) {
        len = 2;
        v = c & 0x1F;
    } else if (c >= 0xE0 && c <= 0xEF) {
        len = 3;
        v = c & 0x0F;
        if (c == 0xE0)
            lo = 0xA0;
        if (c == 0xED)
            hi = 0x9F; /* no surrogates */
    } else if (c >= 0xF0 && c <= 0xF4) {
        len = 4;
        v = c & 0x07;
        if (c == 0xF0)
            lo = 0x90;
        if (c == 0xF4)
            hi = 0x8F;
    } else {
        return 0;
    }
    if (n < len)
        return 0;
    for (size_t i = 1; i < len; i++) {
        unsigned b = s[i];
        if (b < (i == 1 ? lo : 0x80) || b > (i == 1 ? hi : 0xBF))
            return 0;
        v = (v << 6) | (b & 0x3F);
    }
    *cp = v;
    return len;
}

/* ---------- trace lines ---------- */

enum kind { K_SKIP, K_HEADER, K_SNAP, K_MALLOC, K_FREE, K_REALLOC, K_CALLOC,
            K_MEMALIGN, K_WRITE, K_TRIM, K_MALLOPT };

struct op {
    enum kind kind;
    uint64_t id, a, b;     /* a, b: the numeric fields after the ID (or PAD; PARAM, VALUE) */
    int header_ints;       /* K_HEADER: how many integers on the line */
    const char *label;     /* K_SNAP */
    size_t label_len;
};

#define MAX_ID 4294967295ULL

static int is_blank(char c) { return c == ' ' || c == '\t' || c == '\r' || c == '\v' || c == '\f'; }
static int is_digit(char c) { return c >= '0' && c <= '9'; }

static int hex_value(char c)
{
    if (c >= '0' && c <= '9')
        return c - '0';
    if (c >= 'a' && c <= 'f')
        return c - 'a' + 10;
    if (c >= 'A' && c <= 'F')
        return c - 'A' + 10;
    return -1;
}

/* Parse decimal or 0x hex; 0 ok, 1 not a number, 2 does not fit 64 bits. */
static int parse_u64(const char *s, size_t n, uint64_t *out)
{
    uint64_t v = 0;
    int overflow = 0;
    if (n > 2 && s[0] == '0' && (s[1] == 'x' || s[1] == 'X')) {
        for (size_t i = 2; i < n; i++) {
            int d = hex_value(s[i]);
            if (d < 0)
                return 1;
            if (v >> 60)
                overflow = 1;
            v = (v << 4) | (uint64_t)d;
        }
    } else {
        if (n == 0)
            return 1;
        for (size_t i = 0; i < n; i++) {
            if (!is_digit(s[i]))
                return 1;
            uint64_t d = (uint64_t)(s[i] - '0');
            if (v > (UINT64_MAX - d) / 10)
                overflow = 1;
            v = v * 10 + d;
        }
    }
    *out = v;
    return overflow ? 2 : 0;
}

static int token_is(const char *t, size_t n, const char *word)
{
    return strlen(word) == n && memcmp(t, word, n) == 0;
}

static const char *PARAM_NAMES[] = {"M_MXFAST", "M_TRIM_THRESHOLD", "M_TOP_PAD", "M_MMAP_THRESHOLD", "M_MMAP_MAX"};
static const char *PARAM_NUMBERS[] = {"1", "-1", "-2", "-3", "-4"};
static const int PARAM_VALUES[] = {1, -1, -2, -3, -4};

static char reason_buf[256];

/* Parse one line (without its newline). Returns 0 and fills *op; else the
 * reason is in reason_buf and the result is BAD_TEXT (not ASCII, or a field
 * separator that is no blank: found before any header check) or BAD_OP. */
enum { BAD_OP = 1, BAD_TEXT = 2 };

static int parse_line(const char *line, size_t len, struct op *op, int in_header)
{
    const char *b = line, *e = line + len;
    while (b < e && is_blank(*b))
        b++;
    while (e > b && is_blank(e[-1]))
        e--;
    memset(op, 0, sizeof *op);
    if (b == e || *b == '#') {
        op->kind = K_SKIP;
        return 0;
    }
    if (*b == 's' && (e - b == 1 || is_blank(b[1]))) {
        const char *l = b + 1;
        while (l < e && is_blank(*l))
            l++;
        op->kind = K_SNAP;
        op->label = l;
        op->label_len = (size_t)(e - l);
        return 0;
    }
    /* The whole line is checked for ASCII before separators, as parse_trace does. */
    for (const char *p = b; p < e; p++) {
        if ((unsigned char)*p >= 0x80) {
            strcpy(reason_buf, "operation lines must be ASCII");
            return BAD_TEXT;
        }
    }
    for (const char *p = b; p < e; p++) {
        if (*p >= 0x1c && *p <= 0x1f) {
            strcpy(reason_buf, "fields must be separated by blanks (space or tab)");
            return BAD_TEXT;
        }
    }
    const char *tok[5];
    size_t tlen[5];
    int nt = 0, all_digits = 1;
    for (const char *p = b; p < e;) {
        while (p < e && is_blank(*p))
            p++;
        if (p == e)
            break;
        const char *s = p;
        while (p < e && !is_blank(*p)) {
            if (!is_digit(*p))
                all_digits = 0;
            p++;
        }
        if (nt < 5) {
            tok[nt] = s;
            tlen[nt] = (size_t)(p - s);
        }
        nt++;
    }
    if (all_digits && in_header) {
        op->kind = K_HEADER;
        op->header_ints = nt;
        return 0;
    }
    static const char letters[] = "afrcmwto";
    static const enum kind kinds[] = {K_MALLOC, K_FREE, K_REALLOC, K_CALLOC, K_MEMALIGN, K_WRITE, K_TRIM, K_MALLOPT};
    static const char *names[] = {"malloc", "free", "realloc", "calloc", "memalign", "write", "trim", "mallopt"};
    static const char *usage[] = {"a ID SIZE", "f ID", "r ID SIZE", "c ID NMEMB SIZE", "m ID ALIGN SIZE",
                                  "w ID", "t PAD", "o PARAM VALUE"};
    static const int nfields[] = {2, 1, 2, 3, 3, 1, 1, 2};
    static const char *fnames[][3] = {{"ID", "SIZE"}, {"ID"}, {"ID", "SIZE"}, {"ID", "NMEMB", "SIZE"},
                                      {"ID", "ALIGN", "SIZE"}, {"ID"}, {"PAD"}, {"PARAM", "VALUE"}};
    int k = -1;
    if (tlen[0] == 1)
        for (int i = 0; i < 8; i++)
            if (tok[0][0] == letters[i])
                k = i;
    if (k < 0) {
        size_t n = tlen[0] < 100 ? tlen[0] : 100;
        strcpy(reason_buf, "unknown operation '");
        memcpy(reason_buf + strlen(reason_buf), tok[0], n);
        reason_buf[19 + n] = '\0';
        strcat(reason_buf, "'; expected one of a f r c m w t o s");
        return 1;
    }
    if (nt != nfields[k] + 1) {
        strcpy(reason_buf, names[k]);
        strcat(reason_buf, nfields[k] == 1 ? " takes 1 field(s): " : nfields[k] == 2 ? " takes 2 field(s): " : " takes 3 field(s): ");
        strcat(reason_buf, usage[k]);
        return 1;
    }
    op->kind = kinds[k];
    uint64_t vals[3] = {0, 0, 0};
    for (int f = 0; f < nfields[k]; f++) {
        const char *t = tok[f + 1];
        size_t n = tlen[f + 1];
        const char *name = fnames[k][f];
        if (kinds[k] == K_MALLOPT && f == 0) {
            int found = 0;
            for (int i = 0; i < 5; i++) {
                if (token_is(t, n, PARAM_NAMES[i]) || token_is(t, n, PARAM_NAMES[i] + 2) ||
                    token_is(t, n, PARAM_NUMBERS[i])) {
                    vals[0] = (uint64_t)(int64_t)PARAM_VALUES[i];
                    found = 1;
                }
            }
            if (!found) {
                size_t m = n < 100 ? n : 100;
                strcpy(reason_buf, "unknown mallopt parameter '");
                size_t at = strlen(reason_buf);
                memcpy(reason_buf + at, t, m);
                reason_buf[at + m] = '\0';
                strcat(reason_buf, "'; expected one of M_MXFAST, M_TRIM_THRESHOLD, M_TOP_PAD, M_MMAP_THRESHOLD, "
                                   "M_MMAP_MAX (the M_ may be left off) or glibc's number");
                return 1;
            }
            continue;
        }
        int negative = 0;
        if (kinds[k] == K_MALLOPT && f == 1 && n > 0 && t[0] == '-') {
            negative = 1;
            t++;
            n--;
        }
        uint64_t v;
        int r = parse_u64(t, n, &v);
        if (r == 1) {
            size_t m = tlen[f + 1] < 100 ? tlen[f + 1] : 100;
            strcpy(reason_buf, name);
            strcat(reason_buf, kinds[k] == K_MALLOPT ? " must be an integer (decimal or 0x hex), not '"
                                                     : " must be a non-negative integer (decimal or 0x hex), not '");
            size_t at = strlen(reason_buf);
            memcpy(reason_buf + at, tok[f + 1], m);
            reason_buf[at + m] = '\0';
            strcat(reason_buf, "'");
            return 1;
        }
        if (f == 0 && kinds[k] != K_TRIM && kinds[k] != K_MALLOPT && (r == 2 || v > MAX_ID)) {
            strcpy(reason_buf, "ID must be at most 4294967295");
            return 1;
        }
        if (kinds[k] == K_MALLOPT) {
            if (r == 2 || (negative ? v > 2147483648ULL : v > 2147483647ULL)) {
                strcpy(reason_buf, "VALUE must fit a C int (-2147483648..2147483647)");
                return 1;
            }
            v = negative ? (uint64_t)(-(int64_t)v) : v;
        } else if (r == 2) {
            strcpy(reason_buf, name);
            strcat(reason_buf, " must be below 2**64");
            return 1;
        }
        vals[f] = v;
    }
    if (kinds[k] == K_TRIM || kinds[k] == K_MALLOPT) {
        op->a = vals[0];
        op->b = vals[1];
    } else {
        op->id = vals[0];
        op->a = vals[1];
        op->b = vals[2];
    }
    return 0;
}

/* ---------- the trace file ---------- */

static const char *trace;
static size_t trace_len;

static void refuse(unsigned long lineno, const char *line, size_t len, const char *reason)
{
    char num[24];
    int i = sizeof num;
    do {
        num[--i] = (char)('0' + lineno % 10);
        lineno /= 10;
    } while (lineno);
    err_str("line ");
    write_all(2, num + i, sizeof num - i);
    err_str(": ");
    err_str(reason);
    err_str(": ");
    write_all(2, line, len);
    err_str("\n");
    _exit(2);
}

/* A .rep header of other than four integers, named at its last line. */
static void refuse_header(unsigned long lineno, const char *line, size_t len, int header)
{
    char r[64] = "a .rep header has exactly four integers, found ";
    size_t at = strlen(r);
    r[at] = (char)('0' + header);
    r[at + 1] = '\0';
    refuse(lineno, line, len, r);
}

/* First pass: check every line; count operations; find the largest ID. */
static void validate(uint64_t *max_id, int *any_id, uint64_t *id_lines)
{
    /* A trace must be UTF-8 throughout (as Python reads it): check that first. */
    const unsigned char *s = (const unsigned char *)trace;
    unsigned long lineno = 1;
    const unsigned char *line_start = s;
    for (size_t i = 0; i < trace_len;) {
        uint32_t cp;
        size_t n = utf8_next(s + i, trace_len - i, &cp);
        if (n == 0) {
            const unsigned char *end = memchr(s + i, '\n', trace_len - i);
            refuse(lineno, (const char *)line_start, (size_t)((end ? end : s + trace_len) - line_start),
                   "not valid UTF-8");
        }
        if (cp == '\n') {
            lineno++;
            line_start = s + i + 1;
        }
        i += n;
    }
    int header = 0, in_header = 1;
    unsigned long header_lineno = 0;
    const char *header_line = NULL;
    size_t header_len = 0;
    *max_id = 0;
    *any_id = 0;
    *id_lines = 0;
    lineno = 0;
    const char *p = trace, *end = trace + trace_len;
    for (;;) {
        lineno++;
        const char *nl = memchr(p, '\n', (size_t)(end - p));
        size_t len = (size_t)((nl ? nl : end) - p);
        struct op op;
        int bad = parse_line(p, len, &op, in_header);
        if (bad) {
            /* an operation line ends the header: a short header is named first */
            if (bad == BAD_OP && in_header && header != 0 && header != 4)
                refuse_header(header_lineno, header_line, header_len, header);
            refuse(lineno, p, len, reason_buf);
        }
        if (op.kind == K_HEADER && in_header) {
            header += op.header_ints;
            header_lineno = lineno;
            header_line = p;
            header_len = len;
            if (header > 4)
                refuse(lineno, p, len, "a .rep header has exactly four integers");
        } else if (op.kind != K_SKIP) {
            if (in_header && header != 0 && header != 4)
                refuse_header(header_lineno, header_line, header_len, header);
            in_header = 0;
            if (op.kind != K_SNAP && op.kind != K_TRIM && op.kind != K_MALLOPT) {
                *any_id = 1;
                (*id_lines)++;
                if (op.id > *max_id)
                    *max_id = op.id;
            }
        }
        if (!nl)
            break;
        p = nl + 1;
    }
    if (in_header && header != 0 && header != 4)
        refuse_header(header_lineno, header_line, header_len, header);
}

/* ---------- snapshots ---------- */

static void out_label(const char *s, size_t n)
{
    static const char hex[] = "0123456789abcdef";
    for (size_t i = 0; i < n;) {
        uint32_t cp;
        size_t k = utf8_next((const unsigned char *)s + i, n - i, &cp);
        i += k; /* the whole trace was validated as UTF-8 */
        char e[12];
        if (cp == '"' || cp == '\\') {
            e[0] = '\\';
            e[1] = (char)cp;
            out_bytes(e, 2);
        } else if (cp >= 0x20 && cp < 0x7f) {
            e[0] = (char)cp;
            out_bytes(e, 1);
        } else if (cp == '\n' || cp == '\r' || cp == '\t' || cp == '\b' || cp == '\f') {
            e[0] = '\\';
            e[1] = cp == '\n' ? 'n' : cp == '\r' ? 'r' : cp == '\t' ? 't' : cp == '\b' ? 'b' : 'f';
            out_bytes(e, 2);
        } else {
            uint32_t units[2];
            int nu = 0;
            if (cp >= 0x10000) {
                cp -= 0x10000;
                units[nu++] = 0xD800 | (cp >> 10);
                units[nu++] = 0xDC00 | (cp & 0x3FF);
            } else {
                units[nu++] = cp;
            }
            for (int u = 0; u < nu; u++) {
                e[0] = '\\';
                e[1] = 'u';
                for (int d = 0; d < 4; d++)
                    e[2 + d] = hex[(units[u] >> (12 - 4 * d)) & 0xF];
                out_bytes(e, 6);
            }
        }
    }
}

static void snapshot(unsigned long long op, const char *label, size_t label_len)
{
    out_str("{\"op\": ");
    out_int((long long)op);
    out_str(", \"label\": \"");
    out_label(label, label_len);
    out_measures();
}

/* Write a generous stretch of stack now, so later calls find it resident. */
__attribute__((noinline)) static void touch_stack(void)
{
    volatile char area[256 * 1024];
    for (size_t i = 0; i < sizeof area; i += 512)
        area[i] = 1;
}

/* ---------- running ---------- */

struct slot {
    void *p;         /* NULL: the ID is not live */
    size_t size;     /* requested bytes */
};

/* IDs index the table directly; when they are too sparse for that, an open-addressing
 * table keyed by ID, sized by the number of lines that name an ID, stands in. */
static struct slot *slots;
static uint64_t *slot_keys; /* sparse mode: ID + 1 per entry, 0 = empty */
static size_t slot_mask;

static struct slot *slot_of(uint64_t id)
{
    if (!slot_keys)
        return &slots[id];
    size_t j = (size_t)((id * 0x9E3779B97F4A7C15ULL) >> 17) & slot_mask;
    while (slot_keys[j] && slot_keys[j] != id + 1)
        j = (j + 1) & slot_mask;
    slot_keys[j] = id + 1;
    return &slots[j];
}

static int rival;

/* A trace's sizes are 64-bit; built with -m32, size_t is 32-bit, and a size that does not fit
 * is passed as SIZE_MAX, which the allocator refuses as a 32-bit program's request would be. */
static size_t fit(uint64_t v)
{
    return v > (uint64_t)SIZE_MAX ? SIZE_MAX : (size_t)v;
}

static void run(unsigned long long every)
{
    unsigned long long ops = 0, last_snap = 0;
    int snapped = 0, pending = 0;
    const char *p = trace, *end = trace + trace_len;
    for (;;) {
        const char *nl = memchr(p, '\n', (size_t)(end - p));
        size_t len = (size_t)((nl ? nl : end) - p);
        struct op op;
        parse_line(p, len, &op, 1);
        if (op.kind == K_SNAP) {
            snapshot(ops, op.label, op.label_len);
            snapped = 1;
            last_snap = ops;
            pending = 0;
        } else if (op.kind != K_SKIP && op.kind != K_HEADER) {
            if (pending) {
                snapshot(ops, "", 0);
                snapped = 1;
                last_snap = ops;
                pending = 0;
            }
            struct slot *s = op.kind == K_TRIM || op.kind == K_MALLOPT ? NULL : slot_of(op.id);
            void *q;
            switch (op.kind) {
            case K_MALLOC:
                s->p = malloc(fit(op.a));
                s->size = op.a;
                break;
            case K_FREE:
                free(s->p);
                s->p = NULL;
                break;
            case K_REALLOC:
                q = realloc(s->p, fit(op.a));
                if (q) {
                    s->p = q;
                    s->size = op.a;
                } else if (op.a == 0) {
                    s->p = NULL; /* realloc(p, 0) freed the block */
                } /* else: failed; the old block (if any) stays live */
                break;
            case K_CALLOC:
                s->p = calloc(fit(op.a), fit(op.b));
                s->size = op.a * op.b;
                break;
            case K_MEMALIGN:
                s->p = memalign(fit(op.a), fit(op.b));
                s->size = op.b;
                break;
            case K_WRITE:
                if (s->p && s->size)
                    memset(s->p, 0xA5, s->size);
                break;
            case K_TRIM:
                if (!rival)
                    malloc_trim(fit(op.a));
                break;
            case K_MALLOPT:
                if (!rival)
                    mallopt((int)(int64_t)op.a, (int)(int64_t)op.b);
                break;
            default:
                break;
            }
            ops++;
            if (every && ops % every == 0)
                pending = 1;
        }
        if (!nl)
            break;
        p = nl + 1;
    }
    if (pending) {
        snapshot(ops, "", 0);
        snapped = 1;
        last_snap = ops;
    }
    if (ops == 0 || !snapped || last_snap != ops)
        snapshot(ops, "end", 3);
    out_flush();
}

static int usage(void)
{
    err_str("usage: replay [--every N] [--rival] TRACE | replay --version\n");
    return 2;
}

int main(int argc, char **argv)
{
    unsigned long long every = 0;
    const char *path = NULL;
    for (int i = 1; i < argc; i++) {
        if (strcmp(argv[i], "--version") == 0) {
            out_str(gnu_get_libc_version());
            out_str("\n");
            out_flush();
            return 0;
        } else if (strcmp(argv[i], "--every") == 0 && i + 1 < argc) {
            uint64_t v;
            const char *a = argv[++i];
            if (parse_u64(a, strlen(a), &v) != 0 || v == 0) {
                err_str("replay: --every needs a positive integer\n");
                return 2;
            }
            every = v;
        } else if (strcmp(argv[i], "--rival") == 0) {
            rival = 1;
            measure_mallinfo = 0;
        } else if (path == NULL && argv[i][0] != '-') {
            path = argv[i];
        } else {
            return usage();
        }
    }
    if (path == NULL)
        return usage();

    int fd = open(path, O_RDONLY | O_CLOEXEC);
    struct stat st;
    if (fd < 0 || fstat(fd, &st) != 0) {
        err_str("replay: cannot open ");
        err_str(path);
        err_str("\n");
        return 1;
    }
    trace_len = (size_t)st.st_size;
    trace = "";
    if (trace_len > 0) {
        void *m = mmap(NULL, trace_len, PROT_READ, MAP_PRIVATE, fd, 0);
        if (m == MAP_FAILED) {
            err_str("replay: cannot map the trace\n");
            return 1;
        }
        trace = m;
    }
    close(fd);

    uint64_t max_id, id_lines;
    int any_id;
    validate(&max_id, &any_id, &id_lines);

    /* counted in 64 bits: with -m32 an ID table can exceed what size_t holds */
    uint64_t nslots = any_id ? max_id + 1 : 1;
    uint64_t sparse = 1;
    while (sparse < 2 * id_lines)
        sparse *= 2;
    int use_keys = any_id && nslots > ((uint64_t)1 << 20) && nslots > 2 * sparse;
    if (use_keys)
        nslots = sparse;
    uint64_t table_bytes = nslots * (sizeof(struct slot) + (use_keys ? sizeof(uint64_t) : 0));
    long pages = sysconf(_SC_PHYS_PAGES), page = sysconf(_SC_PAGESIZE);
    if ((pages > 0 && page > 0 && table_bytes > (uint64_t)pages * (uint64_t)page / 4)
        || table_bytes > (uint64_t)SIZE_MAX / 2) {
        err_str("replay: the trace names too many IDs: its table would need more than a quarter of "
                "this machine's memory (or of a 32-bit address space)\n");
        return 1;
    }
    slots = mmap(NULL, (size_t)table_bytes, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
    if (slots == MAP_FAILED) {
        err_str("replay: no memory for the pointer table\n");
        return 1;
    }
    if (use_keys) {
        slot_keys = (uint64_t *)(slots + nslots);
        slot_mask = (size_t)nslots - 1;
    }
    memset(slots, 0, (size_t)table_bytes); /* resident before the baseline */

    /* Pages one at a time, as the model counts them, even where the kernel would
     * otherwise back anonymous memory with transparent huge pages. */
    prctl(PR_SET_THP_DISABLE, 1, 0, 0, 0);

    /* Everything the replay itself will write is written now. */
    touch_stack();
    memset(out_buf, 0, sizeof out_buf);
    memset(smaps_buf, 0, sizeof smaps_buf);
    memset(reason_buf, 0, sizeof reason_buf);
    if (rival) {
        /* the allocator starts on its first call: its own set-up is not the trace's
         * (volatile: the compiler may otherwise drop a malloc freed at once) */
        void *volatile first = malloc(1);
        free(first);
    } else
        (void)mallinfo2(); /* initialises malloc's state without touching the heap */
    anonymous_bytes();

    brk_base = (uintptr_t)sbrk(0);
    anon_base = anonymous_bytes();
    run(every);
    return 0;
}
