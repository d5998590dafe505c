/* replay: run an allocation trace (docs/trace-format.md) on this process's real
 * glibc malloc and print heap snapshots as JSON lines on stdout.
 *
 *   replay [--every N] [--rival] [--arenas] TRACE   run TRACE
 *   replay --version                                print gnu_get_libc_version()
 *
 * --arenas: each snapshot also has "arenas": [[SYSTEM, IN_USE], ...], one pair per
 * arena in glibc's order (main first, then the newest), as malloc_stats() prints them
 * (to a memfd standing in for stderr for the call; it allocates nothing).
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
 * The global roots of `p g` lines are a static array; when the trace has run, the ID
 * table is unmapped and the stack overwritten (forget_ids), so that a leak checker sees
 * the blocks as the traced program would: held only by the pointers the trace stored.
 *
 * Exit status: 0 done, 2 bad usage or a trace that does not parse (nothing
 * is run; the line number, reason and line go to stderr), 1 other failures.
 */
#define _GNU_SOURCE
#include <alloca.h>
#include <errno.h>
#include <fcntl.h>
#include <gnu/libc-version.h>
#include <malloc.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>
#include <sched.h>
#include <signal.h>
#include <sys/mman.h>
#include <sys/personality.h>
#include <sys/prctl.h>
#include <link.h>
#include <linux/futex.h>
#include <pthread.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/sysinfo.h>
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
            K_MEMALIGN, K_WRITE, K_TRIM, K_MALLOPT, K_STORE, K_SWITCH, K_CREATE, K_EXIT, K_JOIN, K_CPUS,
            K_TLS, K_ARCH };

struct op {
    enum kind kind;
    uint64_t id, a, b;     /* id: ID or TID; a, b: the numeric fields after the ID (or PAD; PARAM, VALUE;
                              the CPUs of a `# cpus N` comment; K_ARCH: 1 if its NAME is known, else 0);
                              K_STORE: a is OFFSET, b is DST_OFFSET */
    uint64_t dst;          /* K_STORE: DST */
    int root, has_dst;     /* K_STORE: SRC is g; a DST was given */
    int header_ints;       /* K_HEADER: how many integers on the line */
    const char *label;     /* K_SNAP */
    size_t label_len;
};

#define MAX_ID 4294967295ULL
/* Pointer slots in the global roots (`p g OFFSET ...`): memlab.trace.ROOTS. */
#define ROOTS 4096
#define MAX_TID 65535
#define MAX_CPUS 65536

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

#define N_PARAMS 7
static const char *PARAM_NAMES[] = {"M_MXFAST", "M_TRIM_THRESHOLD", "M_TOP_PAD", "M_MMAP_THRESHOLD", "M_MMAP_MAX",
                                    "M_ARENA_TEST", "M_ARENA_MAX"};
static const char *PARAM_NUMBERS[] = {"1", "-1", "-2", "-3", "-4", "-7", "-8"};
static const int PARAM_VALUES[] = {1, -1, -2, -3, -4, -7, -8};

static char reason_buf[256];

/* reason_buf = head + the token (at most 100 bytes) + tail. */
static void reason_with(const char *head, const char *t, size_t n, const char *tail)
{
    size_t m = n < 100 ? n : 100;
    strcpy(reason_buf, head);
    size_t at = strlen(reason_buf);
    memcpy(reason_buf + at, t, m);
    reason_buf[at + m] = '\0';
    strcat(reason_buf, tail);
}

/* A `p SRC OFFSET [DST [DST_OFFSET]]` line, its nt tokens in tok/tlen (checked in
 * field order, in parse_trace's words). */
static int parse_store(const char **tok, const size_t *tlen, int nt, struct op *op)
{
    if (nt < 3 || nt > 5) {
        strcpy(reason_buf, "store takes 2 to 4 field(s): p SRC OFFSET [DST [DST_OFFSET]]");
        return 1;
    }
    op->kind = K_STORE;
    uint64_t v;
    int r;
    if (tlen[1] == 1 && tok[1][0] == 'g') {
        op->root = 1;
    } else {
        r = parse_u64(tok[1], tlen[1], &v);
        if (r == 1) {
            reason_with("SRC must be an ID (decimal or 0x hex) or g, not '", tok[1], tlen[1], "'");
            return 1;
        }
        if (r == 2 || v > MAX_ID) {
            strcpy(reason_buf, "SRC must be at most 4294967295");
            return 1;
        }
        op->id = v;
    }
    r = parse_u64(tok[2], tlen[2], &v);
    if (r == 1) {
        reason_with("OFFSET must be a non-negative integer (decimal or 0x hex), not '", tok[2], tlen[2], "'");
        return 1;
    }
    if (r == 2) {
        strcpy(reason_buf, "OFFSET must be below 2**64");
        return 1;
    }
    if (v % 8) {
        strcpy(reason_buf, "OFFSET must be a multiple of 8");
        return 1;
    }
    if (op->root && v >= 8 * ROOTS) {
        strcpy(reason_buf, "OFFSET of a global root must be below 32768");
        return 1;
    }
    op->a = v;
    if (nt > 3) {
        r = parse_u64(tok[3], tlen[3], &v);
        if (r == 1) {
            reason_with("DST must be a non-negative integer (decimal or 0x hex), not '", tok[3], tlen[3], "'");
            return 1;
        }
        if (r == 2 || v > MAX_ID) {
            strcpy(reason_buf, "DST must be at most 4294967295");
            return 1;
        }
        op->has_dst = 1;
        op->dst = v;
    }
    if (nt > 4) {
        r = parse_u64(tok[4], tlen[4], &v);
        if (r == 1) {
            reason_with("DST_OFFSET must be a non-negative integer (decimal or 0x hex), not '", tok[4], tlen[4],
                        "'");
            return 1;
        }
        if (r == 2) {
            strcpy(reason_buf, "DST_OFFSET must be below 2**64");
            return 1;
        }
        op->b = v;
    }
    return 0;
}

/* The architectures a `# arch NAME` comment may name (memlab.glibc.arch.ARCHES), in its order. */
static const char *ARCH_NAMES[] = {"x86-64", "i386"};
#define N_ARCHES 2

/* A comment whose words are exactly `cpus` (or `tls`) and a decimal number gives the number of
 * CPUs (of modules with thread-local storage): op->kind becomes K_CPUS (K_TLS) and op->a the
 * number (above MAX_CPUS when it does not fit). One whose words are `arch` and one more word
 * names the architecture the trace was recorded on: K_ARCH, op->a 1 if the name is known. */
static void parse_cpus(const char *b, const char *e, struct op *op)
{
    const char *w[3];
    size_t wl[3];
    int nw = 0;
    for (const char *p = b; p < e;) {
        while (p < e && is_blank(*p))
            p++;
        if (p == e)
            break;
        const char *s = p;
        while (p < e && !is_blank(*p))
            p++;
        if (nw < 3) {
            w[nw] = s;
            wl[nw] = (size_t)(p - s);
        }
        nw++;
    }
    if (nw == 2 && token_is(w[0], wl[0], "arch")) {
        op->kind = K_ARCH;
        for (int i = 0; i < N_ARCHES; i++)
            if (token_is(w[1], wl[1], ARCH_NAMES[i]))
                op->a = 1;
        return;
    }
    if (nw != 2 || !(token_is(w[0], wl[0], "cpus") || token_is(w[0], wl[0], "tls")))
        return;
    uint64_t v = 0;
    for (size_t i = 0; i < wl[1]; i++) {
        if (!is_digit(w[1][i]))
            return;
        v = v > MAX_CPUS ? v : v * 10 + (uint64_t)(w[1][i] - '0');
    }
    op->kind = w[0][0] == 'c' ? K_CPUS : K_TLS;
    op->a = v;
}

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
        if (b < e)
            parse_cpus(b + 1, e, op);
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
    static const char letters[] = "afrcmwtoTnxj";
    static const enum kind kinds[] = {K_MALLOC, K_FREE, K_REALLOC, K_CALLOC, K_MEMALIGN, K_WRITE, K_TRIM, K_MALLOPT,
                                      K_SWITCH, K_CREATE, K_EXIT, K_JOIN};
    static const char *names[] = {"malloc", "free", "realloc", "calloc", "memalign", "write", "trim", "mallopt",
                                  "switch", "create", "exit", "join"};
    static const char *usage[] = {"a ID SIZE", "f ID", "r ID SIZE", "c ID NMEMB SIZE", "m ID ALIGN SIZE",
                                  "w ID", "t PAD", "o PARAM VALUE", "T TID", "n TID", "x TID", "j TID"};
    static const int nfields[] = {2, 1, 2, 3, 3, 1, 1, 2, 1, 1, 1, 1};
    static const char *fnames[][3] = {{"ID", "SIZE"}, {"ID"}, {"ID", "SIZE"}, {"ID", "NMEMB", "SIZE"},
                                      {"ID", "ALIGN", "SIZE"}, {"ID"}, {"PAD"}, {"PARAM", "VALUE"},
                                      {"TID"}, {"TID"}, {"TID"}, {"TID"}};
    if (tlen[0] == 1 && tok[0][0] == 'p')
        return parse_store(tok, tlen, nt, op);
    int k = -1;
    if (tlen[0] == 1)
        for (int i = 0; i < 12; i++)
            if (tok[0][0] == letters[i])
                k = i;
    if (k < 0) {
        size_t n = tlen[0] < 100 ? tlen[0] : 100;
        strcpy(reason_buf, "unknown operation '");
        memcpy(reason_buf + strlen(reason_buf), tok[0], n);
        reason_buf[19 + n] = '\0';
        strcat(reason_buf, "'; expected one of a f r c m w p t o s T n x j");
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
            for (int i = 0; i < N_PARAMS; i++) {
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
                                   "M_MMAP_MAX, M_ARENA_TEST, M_ARENA_MAX (the M_ may be left off) or glibc's number");
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
        int threadline = kinds[k] == K_SWITCH || kinds[k] == K_CREATE || kinds[k] == K_EXIT || kinds[k] == K_JOIN;
        if (threadline && (r == 2 || v > MAX_TID)) {
            strcpy(reason_buf, "TID must be at most 65535");
            return 1;
        }
        if (f == 0 && !threadline && kinds[k] != K_TRIM && kinds[k] != K_MALLOPT && (r == 2 || v > MAX_ID)) {
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

static void out_num(char *to, unsigned long v)
{
    char num[24];
    int i = sizeof num;
    do {
        num[--i] = (char)('0' + v % 10);
        v /= 10;
    } while (v);
    size_t at = strlen(to);
    memcpy(to + at, num + i, sizeof num - i);
    to[at + sizeof num - i] = '\0';
}

/* The threads as the lines run (validate): 0 never created, 1 alive, 2 exited, 3 joined. */
static unsigned char tstate[MAX_TID + 1];
static int trace_cpus;        /* from `# cpus N`; 0 if none */
static int trace_tls;         /* from `# tls M`; 0 if none */
static int sets_arena_params; /* the trace has `o M_ARENA_TEST` or `o M_ARENA_MAX` lines */
static size_t n_creates;      /* n lines */
static int threaded;          /* the trace has thread lines */
static unsigned max_tid;

static void refuse_thread(unsigned long lineno, const char *line, size_t len, const char *before, unsigned long tid,
                          const char *after)
{
    strcpy(reason_buf, before);
    out_num(reason_buf, tid);
    strcat(reason_buf, after);
    refuse(lineno, line, len, reason_buf);
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
    int any_entry = 0, running = 1;
    unsigned long cpus_line = 0, tls_line = 0, arch_line = 0, current = 0;
    tstate[0] = 1;
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
        if (op.kind == K_CPUS) {
            if (cpus_line) {
                strcpy(reason_buf, "the number of CPUs is given twice (first on line ");
                out_num(reason_buf, cpus_line);
                strcat(reason_buf, ")");
                refuse(lineno, p, len, reason_buf);
            }
            if (any_entry)
                refuse(lineno, p, len, "the number of CPUs must be given before the first operation");
            if (op.a < 1 || op.a > MAX_CPUS)
                refuse(lineno, p, len, "the number of CPUs must be 1 to 65536");
            cpus_line = lineno;
            trace_cpus = (int)op.a;
        } else if (op.kind == K_TLS) {
            if (tls_line) {
                strcpy(reason_buf, "the number of modules with thread-local storage is given twice (first on line ");
                out_num(reason_buf, tls_line);
                strcat(reason_buf, ")");
                refuse(lineno, p, len, reason_buf);
            }
            if (any_entry)
                refuse(lineno, p, len,
                       "the number of modules with thread-local storage must be given before the first operation");
            if (op.a < 1 || op.a > MAX_TID)
                refuse(lineno, p, len, "the number of modules with thread-local storage must be 1 to 65535");
            tls_line = lineno;
            trace_tls = (int)op.a;
        } else if (op.kind == K_ARCH) {
            if (arch_line) {
                strcpy(reason_buf, "the architecture is given twice (first on line ");
                out_num(reason_buf, arch_line);
                strcat(reason_buf, ")");
                refuse(lineno, p, len, reason_buf);
            }
            if (any_entry)
                refuse(lineno, p, len, "the architecture must be given before the first operation");
            if (!op.a)
                refuse(lineno, p, len, "the architecture must be one of x86-64, i386");
            arch_line = lineno;
        } else if (op.kind == K_HEADER && in_header) {
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
            any_entry = 1;
            if (op.kind == K_SWITCH || op.kind == K_EXIT) {
                threaded = 1;
                if (tstate[op.id] != 1)
                    refuse_thread(lineno, p, len, "thread ", op.id,
                                  tstate[op.id] >= 2 ? " has exited" : " was not created");
                if (op.kind == K_SWITCH) {
                    current = op.id;
                    running = 1;
                } else {
                    if (op.id == 0)
                        refuse(lineno, p, len,
                               "thread 0 (the main thread) cannot exit; the trace ends where the process does");
                    tstate[op.id] = 2;
                    if (op.id == current)
                        running = 0;
                }
            } else if (op.kind == K_JOIN) {
                threaded = 1;
                if (tstate[op.id] != 2)
                    refuse_thread(lineno, p, len, "thread ", op.id,
                                  tstate[op.id] == 1   ? " has not exited"
                                  : tstate[op.id] == 3 ? " was already joined"
                                                       : " was not created");
                tstate[op.id] = 3;
            } else if (op.kind != K_SNAP) {
                if (!running)
                    refuse_thread(lineno, p, len, "thread ", current,
                                  " has exited; a T line must name a running thread first");
                if (op.kind == K_CREATE) {
                    threaded = 1;
                    if (tstate[op.id] == 1 || tstate[op.id] == 2)
                        refuse_thread(lineno, p, len, "thread ", op.id, " already exists");
                    tstate[op.id] = 1;
                    n_creates++;
                    if (op.id > max_tid)
                        max_tid = (unsigned)op.id;
                }
            }
            if (op.kind == K_MALLOPT && ((int64_t)op.a == -7 || (int64_t)op.a == -8))
                sets_arena_params = 1;
            if (op.kind == K_STORE) {
                /* a store names up to two IDs: its SRC (unless g) and its DST */
                if (!op.root) {
                    *any_id = 1;
                    (*id_lines)++;
                    if (op.id > *max_id)
                        *max_id = op.id;
                }
                if (op.has_dst) {
                    *any_id = 1;
                    (*id_lines)++;
                    if (op.dst > *max_id)
                        *max_id = op.dst;
                }
            } else if (op.kind != K_SNAP && op.kind != K_TRIM && op.kind != K_MALLOPT && op.kind != K_SWITCH &&
                       op.kind != K_CREATE && op.kind != K_EXIT && op.kind != K_JOIN) {
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

/* Write every page of the program's own data and bss now, so that the variables the replay
 * writes are resident before the baseline wherever the linker put them. */
extern char __data_start[], _end[];

static void touch_data(void)
{
    for (volatile char *p = __data_start; p < _end; p += 4096)
        *p = *p;
    volatile char *last = _end - 1;
    *last = *last;
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

/* The program's global roots: `p g OFFSET ...` stores a pointer in roots[OFFSET / 8].
 * Static and writable, so that Valgrind's leak check scans them as roots. */
static void *roots[ROOTS];

/* `p`: store p[DST] + DST_OFFSET (NULL without a DST, for a DST that is not live, or for a
 * DST_OFFSET outside the block) in the global roots or in p[SRC] at OFFSET (nothing if
 * p[SRC] is not live or the slot does not fit in its requested bytes). */
static void store(const struct op *op)
{
    void **where;
    if (op->root) {
        where = &roots[op->a / 8];
    } else {
        struct slot *s = slot_of(op->id);
        if (!s->p || s->size < 8 || op->a > s->size - 8)
            return;
        where = (void **)((char *)s->p + op->a);
    }
    void *value = NULL;
    if (op->has_dst) {
        struct slot *d = slot_of(op->dst);
        if (d->p && (op->b == 0 || op->b < d->size))
            value = (char *)d->p + op->b;
    }
    *where = value;
}

/* ---------- threads ---------- */

/* One real thread per trace thread, and exactly one of them runs at a time: the
 * running thread runs the trace's lines until a T line names another thread,
 * then wakes that one (its futex word `go`) and sleeps on its own.  A thread's
 * exit is complete (glibc's work at thread exit done, the kernel thread gone)
 * before the line after its `x` runs: the running thread waits for it, or,
 * when the running thread itself exits, the thread that the next T line names
 * (thread 0 if none), which wakes first to do so.  A `j` line joins. */
struct thread {
    pthread_t th;
    int go;          /* futex word: 1 = this thread's turn */
    int quit;        /* with go: return from the thread function (an `x` line) */
    int ready;       /* futex word: the new thread has started and waits for its turn */
    pid_t ktid;      /* its kernel thread ID */
};
static struct thread *threads;  /* max_tid + 1 entries, mapped and written before the baseline */
static long exit_pending = -1;  /* a thread that is exiting: wait until it is gone */

/* The stacks of the trace's threads are left out of `rss` (glibc keeps a joined thread's
 * stack for reuse).  Each stack block is [lo, hi): glibc maps the default stack size plus a
 * guard at its low end, and puts the thread's descriptor (pthread_self()) in its top page;
 * the descriptor's first word points to itself (x86-64's TCB).  That word tells, at each
 * snapshot, that the block is still a stack: glibc unmaps cached stacks beyond its cache's
 * size, and a mapping later placed there is the trace's. */
struct span {
    uintptr_t lo, hi, pd;
};
static struct span *stacks;
static size_t n_stacks, max_stacks;
static size_t stack_block, stack_guard;   /* glibc's default stack size plus guard; the guard */
static unsigned char core_vec[4096];

/* Wait until thread `tid` has exited: its kernel thread no longer exists. */
static void await_exit(unsigned tid)
{
    pid_t pid = getpid();
    while (syscall(SYS_tgkill, pid, threads[tid].ktid, 0) == 0 || errno != ESRCH)
        sched_yield();
}

static void futex_wait(int *word) { syscall(SYS_futex, word, FUTEX_WAIT_PRIVATE, 0, NULL, NULL, 0); }
static void futex_wake(int *word) { syscall(SYS_futex, word, FUTEX_WAKE_PRIVATE, 1, NULL, NULL, 0); }

static void raise_flag(int *word)
{
    __atomic_store_n(word, 1, __ATOMIC_RELEASE);
    futex_wake(word);
}

static void await_flag(int *word)
{
    while (!__atomic_load_n(word, __ATOMIC_ACQUIRE))
        futex_wait(word);
    *word = 0;
}

static void note_stack(void)
{
    uintptr_t pd = (uintptr_t)pthread_self(), hi = (pd & ~(uintptr_t)4095) + 4096, lo = hi - stack_block;
    for (size_t i = 0; i < n_stacks; i++)
        if (stacks[i].lo == lo)
            return;
    if (n_stacks < max_stacks) {
        stacks[n_stacks].lo = lo;
        stacks[n_stacks].hi = hi;
        stacks[n_stacks].pd = pd;
        n_stacks++;
    }
}

/* Resident bytes of [lo, hi), or -1 if some of it is not mapped. */
static long long resident(uintptr_t lo, uintptr_t hi)
{
    long long total = 0;
    size_t page = 4096;
    for (uintptr_t a = lo; a < hi; a += page * sizeof core_vec) {
        size_t len = hi - a < page * sizeof core_vec ? hi - a : page * sizeof core_vec;
        if (mincore((void *)a, len, core_vec) != 0)
            return -1;
        for (size_t j = 0; j < (len + page - 1) / page; j++)
            total += (core_vec[j] & 1) ? (long long)page : 0;
    }
    return total;
}

/* Resident bytes of the threads' stacks; a block that is no longer a stack is forgotten. */
static long long stack_bytes(void)
{
    long long total = 0;
    for (size_t i = 0; i < n_stacks;) {
        uintptr_t pd = stacks[i].pd, page = pd & ~(uintptr_t)4095;
        /* the descriptor's page was written: unmapped or not resident, it is no longer a stack */
        int ours = resident(page, page + 4096) == 4096 && *(volatile uintptr_t *)pd == pd;
        long long bytes = ours ? resident(stacks[i].lo, stacks[i].hi) : -1;
        if (bytes < 0) {
            stacks[i] = stacks[--n_stacks];
            continue;
        }
        total += bytes;
        i++;
    }
    return total;
}

/* ---------- running ---------- */

static const char *pos;                 /* the next line; NULL at the end of the trace */
static unsigned long long every, ops, last_snap;
static int snapped, pending;

static int interpret(unsigned me);
static void finish(void);
static void forget_ids(size_t table_bytes);
static size_t ids_bytes;   /* the size of the ID table's mapping */

/* Sleep until this thread's turn; 0 if it must exit instead. */
static int take_turn(unsigned me)
{
    await_flag(&threads[me].go);
    if (threads[me].quit)
        return 0;
    if (exit_pending >= 0) {
        await_exit((unsigned)exit_pending);
        exit_pending = -1;
    }
    return 1;
}

/* A stack page a thread reads before it writes it is the kernel's zero page: resident to
 * mincore, yet not in smaps' Anonymous count, so that stack_bytes would take a page too many
 * out of rss (seen on i386, whose frames read a fresh page first).  A new thread first writes
 * the part of its stack the replay will use (64 KiB, or half the stack if that is less). */
static void __attribute__((noinline)) warm_stack(void)
{
    size_t n = (stack_block - stack_guard) / 2;
    if (n > 65536)
        n = 65536;
    volatile char *pad = alloca(n);
    for (size_t i = 0; i < n; i += 4096)
        pad[i] = 0;
}

static void *thread_main(void *arg)
{
    unsigned me = (unsigned)(uintptr_t)arg;
    warm_stack();
    threads[me].ktid = (pid_t)syscall(SYS_gettid);
    note_stack();
    raise_flag(&threads[me].ready);
    if (take_turn(me) && interpret(me))
        finish();
    return NULL;
}

/* The thread the next T line names (thread 0 when none is left). */
static unsigned next_thread(const char *p)
{
    const char *end = trace + trace_len;
    while (p) {
        const char *nl = memchr(p, '\n', (size_t)(end - p));
        struct op op;
        parse_line(p, (size_t)((nl ? nl : end) - p), &op, 1);
        if (op.kind == K_SWITCH)
            return (unsigned)op.id;
        p = nl ? nl + 1 : NULL;
    }
    return 0;
}

static void finish(void)
{
    if (pending) {
        snapshot(ops, "", 0);
        snapped = 1;
        last_snap = ops;
    }
    if (ops == 0 || !snapped || last_snap != ops)
        snapshot(ops, "end", 3);
    out_flush();
    forget_ids(ids_bytes);
    _exit(0);
}

/* Run lines from `pos` on thread `me` until the trace ends (1) or `me` exits (0).  At the end
 * the caller calls finish(), so that no frame of this function is live when the process exits
 * (a leak checker scans live stack frames for pointers). */
static int interpret(unsigned me)
{
    const char *end = trace + trace_len;
    for (;;) {
        if (!pos)
            return 1;
        const char *p = pos;
        const char *nl = memchr(p, '\n', (size_t)(end - p));
        size_t len = (size_t)((nl ? nl : end) - p);
        pos = nl ? nl + 1 : NULL;
        struct op op;
        parse_line(p, len, &op, 1);
        if (op.kind == K_SNAP) {
            snapshot(ops, op.label, op.label_len);
            snapped = 1;
            last_snap = ops;
            pending = 0;
            continue;
        }
        if (op.kind == K_SKIP || op.kind == K_HEADER || op.kind == K_CPUS || op.kind == K_TLS || op.kind == K_ARCH)
            continue;
        if (pending) {
            snapshot(ops, "", 0);
            snapped = 1;
            last_snap = ops;
            pending = 0;
        }
        ops++;
        if (every && ops % every == 0)
            pending = 1;
        struct slot *s = op.kind >= K_MALLOC && op.kind <= K_WRITE ? slot_of(op.id) : NULL;
        struct thread *t = op.kind >= K_SWITCH && op.kind <= K_JOIN ? &threads[op.id] : NULL;
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
        case K_STORE:
            store(&op);
            break;
        case K_CREATE:
            t->go = t->quit = t->ready = 0;
            if (pthread_create(&t->th, NULL, thread_main, (void *)(uintptr_t)op.id) != 0) {
                err_str("replay: pthread_create failed\n");
                _exit(1);
            }
            await_flag(&t->ready);
            break;
        case K_SWITCH:
            if (op.id != me) {
                raise_flag(&t->go);
                if (!take_turn(me))
                    return 0;
            }
            break;
        case K_EXIT:
            if (op.id != me) {
                t->quit = 1;
                raise_flag(&t->go);
                await_exit((unsigned)op.id);
            } else {
                exit_pending = me;
                raise_flag(&threads[next_thread(pos)].go);
                return 0;
            }
            break;
        case K_JOIN:
            pthread_join(t->th, NULL);
            break;
        default:
            break;
        }
    }
}

static long long exclude_stacks(void) { return stack_bytes(); }

/* The highest module ID with thread-local storage (dl_iterate_phdr's callback). */
static int count_tls(struct dl_phdr_info *info, size_t size, void *data)
{
    (void)size;
    if (info->dlpi_tls_modid > *(size_t *)data)
        *(size_t *)data = info->dlpi_tls_modid;
    return 0;
}

/* ---------- per-arena detail (--arenas) ---------- */

static int stats_fd = -1, saved_stderr = -1;
static char stats_buf[1 << 17];

static unsigned long long stats_number(const char *at)
{
    while (*at == ' ' || *at == '=')
        at++;
    unsigned long long v = 0;
    while (*at >= '0' && *at <= '9')
        v = v * 10 + (unsigned long long)(*at++ - '0');
    return v;
}

static void arenas_more(void)
{
    if (ftruncate(stats_fd, 0) != 0 || lseek(stats_fd, 0, SEEK_SET) != 0 || dup2(stats_fd, 2) < 0) {
        err_str("replay: cannot take the arenas' statistics\n");
        _exit(1);
    }
    malloc_stats();
    dup2(saved_stderr, 2);
    size_t n = 0;
    if (lseek(stats_fd, 0, SEEK_SET) == 0) {
        for (;;) {
            ssize_t k = read(stats_fd, stats_buf + n, sizeof stats_buf - 1 - n);
            if (k < 0 && errno == EINTR)
                continue;
            if (k <= 0)
                break;
            n += (size_t)k;
        }
    }
    stats_buf[n] = '\0';
    out_str(", \"arenas\": [");
    const char *p = stats_buf, *total = strstr(stats_buf, "Total");
    int first = 1;
    while ((p = strstr(p, "Arena ")) != NULL && (!total || p < total)) {
        const char *sys = strstr(p, "system bytes"), *use = sys ? strstr(sys, "in use bytes") : NULL;
        if (!use)
            break;
        out_str(first ? "[" : ", [");
        out_int((long long)stats_number(sys + 12));
        out_str(", ");
        out_int((long long)stats_number(use + 12));
        out_str("]");
        first = 0;
        p = use;
    }
    out_str("]");
}

/* The ID table is the replayer's, not the traced program's: a leak checker run on the
 * replayer (Valgrind's memcheck scans every writable mapping for pointers) must find the
 * blocks only through the pointers the trace stored.  So the table is unmapped, and the
 * stack where run() kept block addresses is overwritten, before the program exits. */
static void forget_ids(size_t table_bytes)
{
    munmap(slots, table_bytes);
    slots = NULL;
    slot_keys = NULL;
    touch_stack();
}

static int usage(void)
{
    err_str("usage: replay [--every N] [--rival] [--arenas] TRACE | replay --version\n");
    return 2;
}

int main(int argc, char **argv)
{
#if UINTPTR_MAX == 0xffffffffu
    /* A 32-bit process runs out of addresses: where the kernel puts the break and the
     * mappings then decides what fits.  The model starts from the layout without
     * randomisation (memlab.space.layout32), so the replayer runs that way too, as setarch -R
     * would: the personality is read at exec, hence the second exec. */
    int persona = personality(0xffffffff);
    if (persona != -1 && !(persona & ADDR_NO_RANDOMIZE) && personality(persona | ADDR_NO_RANDOMIZE) != -1)
        execv("/proc/self/exe", argv);
#endif
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
        } else if (strcmp(argv[i], "--arenas") == 0) {
            stats_fd = (int)syscall(SYS_memfd_create, "arenas", 1 /* MFD_CLOEXEC */);
            saved_stderr = dup(2);
            if (stats_fd < 0 || saved_stderr < 0) {
                err_str("replay: --arenas needs memfd_create\n");
                return 1;
            }
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
    ids_bytes = (size_t)table_bytes;
    memset(slots, 0, (size_t)table_bytes); /* resident before the baseline */

    if (threaded) {
        size_t bytes = (max_tid + 1) * sizeof(struct thread);
        max_stacks = n_creates;
        threads = mmap(NULL, bytes + max_stacks * sizeof(struct span), PROT_READ | PROT_WRITE,
                       MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
        if (threads == MAP_FAILED) {
            err_str("replay: no memory for the thread table\n");
            return 1;
        }
        memset(threads, 0, bytes + max_stacks * sizeof(struct span));
        stacks = (struct span *)((char *)threads + bytes);
        memset(core_vec, 0, sizeof core_vec);
        /* the default stack block, as pthread_create maps it (nothing here allocates) */
        pthread_attr_t attr;
        if (pthread_getattr_default_np(&attr) != 0 || pthread_attr_getstacksize(&attr, &stack_block) != 0 ||
            pthread_attr_getguardsize(&attr, &stack_guard) != 0) {
            err_str("replay: cannot read the default thread attributes\n");
            return 1;
        }
        pthread_attr_destroy(&attr);
        stack_guard = (stack_guard + 4095) & ~(size_t)4095;
        stack_block = ((stack_block + 4095) & ~(size_t)4095) + stack_guard;
        measure_exclude = exclude_stacks;
    }
    if (stats_fd >= 0 && !rival) {
        memset(stats_buf, 0, sizeof stats_buf);
        measure_more = arenas_more;
    }
    if (n_creates && !rival) {
        /* a new thread's DTV has room for the highest TLS module ID: it must be the trace's */
        size_t modules = 0;
        dl_iterate_phdr(count_tls, &modules);
        if ((int)modules != (trace_tls ? trace_tls : 1)) {
            err_str("replay: the trace's threads were created with another number of modules with thread-local "
                    "storage than this replayer has: preload that many less one libraries with thread-local "
                    "storage (memlab.native.replay_native does)\n");
            return 1;
        }
    }
    if (trace_cpus && !rival && trace_cpus != get_nprocs()) {
        /* glibc counts the CPUs once, when more arenas than M_ARENA_TEST exist (8, or 2 where a
         * long has 4 bytes), and then allows that many per CPU: with k of 8 or 2, a limit of
         * max(k N, k + 1) set now gives the same arenas. */
        if (sets_arena_params) {
            err_str("replay: the trace was recorded with a number of CPUs other than this machine's and sets "
                    "M_ARENA_TEST or M_ARENA_MAX: it can only be replayed on a machine with that many CPUs\n");
            return 1;
        }
        int per_cpu = sizeof(long) == 4 ? 2 : 8;
        mallopt(M_ARENA_MAX, trace_cpus * per_cpu > per_cpu + 1 ? trace_cpus * per_cpu : per_cpu + 1);
    }

    /* Pages one at a time, as the model counts them, even where the kernel would
     * otherwise back anonymous memory with transparent huge pages. */
    prctl(PR_SET_THP_DISABLE, 1, 0, 0, 0);

    /* Everything the replay itself will write is written now. */
    touch_stack();
    touch_data();
    memset(out_buf, 0, sizeof out_buf);
    memset(smaps_buf, 0, sizeof smaps_buf);
    memset(reason_buf, 0, sizeof reason_buf);
    memset(roots, 0, sizeof roots);
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
    pos = trace;
    if (interpret(0))
        finish();
    return 0;
}
