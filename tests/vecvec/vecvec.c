/* The vecvec experiment on the real glibc, with memlab's snapshots (TRACE-FORMAT.md).
 *
 *   vecvec N [EVERY [AFTER]]
 *
 * Runs the operations of memlab's `vecvec` scenario: p[0] = malloc(24 N), written;
 * for i = 1..N: p[i] = malloc(4), written; snapshot "built"; free(p[1]) .. free(p[N]);
 * free(p[0]). Operations are numbered as in a trace (3 N + 3 of them); with EVERY, a
 * snapshot is also printed after every EVERY-th operation (not twice for one count);
 * "end" closes unless the last operation was already snapshotted. AFTER "trim" adds
 * malloc_trim(0), AFTER "big" adds p[0] = malloc(1200), each followed by a snapshot
 * labelled with that word (EVERY 0: none).
 *
 * As in memlab's trace replayer, nothing here calls malloc or stdio on its own behalf:
 * the pointer table is an anonymous mapping written before the baseline, output goes
 * through a static buffer and write(2), resident memory is the "Anonymous:" line of
 * /proc/self/smaps_rollup, and transparent huge pages are off.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <malloc.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/prctl.h>
#include <unistd.h>

static char out_buf[1 << 14];
static size_t out_len;
static char smaps_buf[16384];
static uintptr_t brk_base;
static long long anon_base;

static void out_flush(void)
{
    size_t at = 0;
    while (at < out_len) {
        ssize_t k = write(1, out_buf + at, out_len - at);
        if (k < 0 && errno == EINTR)
            continue;
        if (k <= 0)
            _exit(1);
        at += (size_t)k;
    }
    out_len = 0;
}

static void out_str(const char *s)
{
    size_t n = strlen(s);
    if (out_len + n > sizeof out_buf)
        out_flush();
    memcpy(out_buf + out_len, s, n);
    out_len += n;
}

static void out_int(long long v)
{
    char tmp[24];
    int i = sizeof tmp;
    tmp[--i] = '\0';
    int neg = v < 0;
    unsigned long long u = neg ? -(unsigned long long)v : (unsigned long long)v;
    do {
        tmp[--i] = (char)('0' + u % 10);
        u /= 10;
    } while (u);
    if (neg)
        tmp[--i] = '-';
    out_str(tmp + i);
}

static long long anonymous_bytes(void)
{
    int fd = open("/proc/self/smaps_rollup", O_RDONLY | O_CLOEXEC);
    if (fd < 0)
        _exit(1);
    size_t n = 0;
    for (;;) {
        ssize_t k = read(fd, smaps_buf + n, sizeof smaps_buf - 1 - n);
        if (k < 0 && errno == EINTR)
            continue;
        if (k <= 0)
            break;
        n += (size_t)k;
    }
    close(fd);
    smaps_buf[n] = '\0';
    char *at = strstr(smaps_buf, "\nAnonymous:");
    if (!at)
        _exit(1);
    at += strlen("\nAnonymous:");
    while (*at == ' ')
        at++;
    long long kb = 0;
    while (*at >= '0' && *at <= '9')
        kb = kb * 10 + (*at++ - '0');
    return kb * 1024;
}

static unsigned long long ops, every, last_snap = ~0ULL;

static void snapshot(const char *label)
{
    struct mallinfo2 mi = mallinfo2();
    long long brk = (long long)((uintptr_t)sbrk(0) - brk_base);
    long long rss = anonymous_bytes() - anon_base;
    out_str("{\"op\": ");
    out_int((long long)ops);
    out_str(", \"label\": \"");
    out_str(label);
    out_str("\", \"brk\": ");
    out_int(brk);
    out_str(", \"arena\": ");
    out_int((long long)mi.arena);
    out_str(", \"ordblks\": ");
    out_int((long long)mi.ordblks);
    out_str(", \"smblks\": ");
    out_int((long long)mi.smblks);
    out_str(", \"hblks\": ");
    out_int((long long)mi.hblks);
    out_str(", \"hblkhd\": ");
    out_int((long long)mi.hblkhd);
    out_str(", \"fsmblks\": ");
    out_int((long long)mi.fsmblks);
    out_str(", \"uordblks\": ");
    out_int((long long)mi.uordblks);
    out_str(", \"fordblks\": ");
    out_int((long long)mi.fordblks);
    out_str(", \"keepcost\": ");
    out_int((long long)mi.keepcost);
    out_str(", \"rss\": ");
    out_int(rss);
    out_str("}\n");
    last_snap = ops;
}

/* One operation done: the EVERY snapshot, unless a labelled one follows at once. */
static void done(int labelled_next)
{
    ops++;
    if (every && ops % every == 0 && !labelled_next)
        snapshot("");
}

static void write_block(void *p, size_t n)
{
    memset(p, 0xA5, n);
    __asm__ volatile("" : : "r"(p) : "memory");   /* the stores must happen */
}

__attribute__((noinline)) static void touch_stack(void)
{
    volatile char area[64 * 1024];
    for (size_t i = 0; i < sizeof area; i += 512)
        area[i] = 1;
}

int main(int argc, char **argv)
{
    if (argc < 2 || argc > 4)
        return 2;
    const char *after = argc == 4 ? argv[3] : "";
    unsigned long long n = strtoull(argv[1], NULL, 10);
    every = argc >= 3 ? strtoull(argv[2], NULL, 10) : 0;
    if (n == 0)
        return 2;
    size_t table = (size_t)(n + 1) * sizeof(void *);
    void **p = mmap(NULL, table, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
    if (p == MAP_FAILED)
        return 1;
    memset(p, 0, table);
    prctl(PR_SET_THP_DISABLE, 1, 0, 0, 0);
    touch_stack();
    memset(out_buf, 0, sizeof out_buf);
    memset(smaps_buf, 0, sizeof smaps_buf);
    (void)mallinfo2();
    anonymous_bytes();
    brk_base = (uintptr_t)sbrk(0);
    anon_base = anonymous_bytes();

    p[0] = malloc(24 * n);
    done(0);
    if (p[0])
        write_block(p[0], 24 * n);
    done(0);
    for (unsigned long long i = 1; i <= n; i++) {
        p[i] = malloc(4);
        done(0);
        if (p[i])
            write_block(p[i], 4);
        done(i == n);
    }
    snapshot("built");
    for (unsigned long long i = 1; i <= n; i++) {
        free(p[i]);
        done(0);
    }
    free(p[0]);
    int more = strcmp(after, "trim") == 0 || strcmp(after, "big") == 0;
    done(more);
    if (strcmp(after, "trim") == 0) {
        malloc_trim(0);
        done(1);
        snapshot("trim");
    } else if (strcmp(after, "big") == 0) {
        p[0] = malloc(1200);
        done(1);
        snapshot("big");
    }
    if (last_snap != ops)
        snapshot("end");
    out_flush();
    return 0;
}
