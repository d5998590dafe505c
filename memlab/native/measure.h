/* What memlab's C programs share to print snapshots (docs/trace-format.md) without touching
 * the heap they measure: output through a static buffer and write(2), and resident
 * memory as the "Anonymous:" line of /proc/self/smaps_rollup.
 *
 * A program sets brk_base and anon_base once, before its first measured call, and
 * prints a snapshot as {"op": N, "label": "L then out_measures().
 */
#ifndef MEMLAB_MEASURE_H
#define MEMLAB_MEASURE_H

#include <errno.h>
#include <fcntl.h>
#include <malloc.h>
#include <stdint.h>
#include <string.h>
#include <unistd.h>

static char out_buf[1 << 16];
static size_t out_len;
static char smaps_buf[16384];
static uintptr_t brk_base;
static long long anon_base;
/* 0: the malloc family is another allocator's, whose state mallinfo2 cannot see;
 * snapshots then carry only brk and rss. */
static int measure_mallinfo = 1;
/* If set: bytes to leave out of rss (resident memory that is not the trace's). */
static long long (*measure_exclude)(void);
/* If set: prints more keys (each as `, "key": value`) at the end of a snapshot. */
static void (*measure_more)(void);

static inline void write_all(int fd, const char *s, size_t n)
{
    while (n > 0) {
        ssize_t k = write(fd, s, n);
        if (k < 0) {
            if (errno == EINTR)
                continue;
            _exit(1);
        }
        s += k;
        n -= (size_t)k;
    }
}

static inline void out_flush(void)
{
    write_all(1, out_buf, out_len);
    out_len = 0;
}

static inline void out_bytes(const char *s, size_t n)
{
    while (n > 0) {
        if (out_len == sizeof out_buf)
            out_flush();
        size_t room = sizeof out_buf - out_len;
        size_t k = n < room ? n : room;
        memcpy(out_buf + out_len, s, k);
        out_len += k;
        s += k;
        n -= k;
    }
}

static inline void out_str(const char *s) { out_bytes(s, strlen(s)); }

static inline void out_int(long long v)
{
    char tmp[24];
    int i = sizeof tmp;
    unsigned long long u = v < 0 ? -(unsigned long long)v : (unsigned long long)v;
    do {
        tmp[--i] = (char)('0' + u % 10);
        u /= 10;
    } while (u);
    if (v < 0)
        tmp[--i] = '-';
    out_bytes(tmp + i, sizeof tmp - i);
}

static inline void err_str(const char *s) { write_all(2, s, strlen(s)); }

/* Anonymous resident bytes of this process, from smaps_rollup. */
static inline long long anonymous_bytes(void)
{
    int fd = open("/proc/self/smaps_rollup", O_RDONLY | O_CLOEXEC);
    if (fd < 0) {
        err_str("cannot open /proc/self/smaps_rollup\n");
        _exit(1);
    }
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
    const char *key = "\nAnonymous:";
    char *at = strstr(smaps_buf, key);
    if (!at) {
        err_str("no Anonymous: line in /proc/self/smaps_rollup\n");
        _exit(1);
    }
    at += strlen(key);
    while (*at == ' ')
        at++;
    long long kb = 0;
    while (*at >= '0' && *at <= '9')
        kb = kb * 10 + (*at++ - '0');
    return kb * 1024;
}

/* The rest of a snapshot line after its label: brk, mallinfo2's fields, rss
 * (brk and rss alone when measure_mallinfo is 0). */
static inline void out_measures(void)
{
    struct mallinfo2 mi = {0};
    if (measure_mallinfo)
        mi = mallinfo2();
    long long brk = (long long)((uintptr_t)sbrk(0) - brk_base);
    long long rss = anonymous_bytes() - anon_base - (measure_exclude ? measure_exclude() : 0);
    const char *names[] = {"brk", "arena", "ordblks", "smblks", "hblks", "hblkhd", "fsmblks",
                           "uordblks", "fordblks", "keepcost", "rss"};
    long long values[] = {brk, (long long)mi.arena, (long long)mi.ordblks, (long long)mi.smblks,
                          (long long)mi.hblks, (long long)mi.hblkhd, (long long)mi.fsmblks,
                          (long long)mi.uordblks, (long long)mi.fordblks, (long long)mi.keepcost, rss};
    const size_t count = sizeof values / sizeof values[0];
    out_str("\"");
    for (size_t i = 0; i < count; i++) {
        if (!measure_mallinfo && i != 0 && i != count - 1)
            continue;
        out_str(", \"");
        out_str(names[i]);
        out_str("\": ");
        out_int(values[i]);
    }
    if (measure_more)
        measure_more();
    out_str("}\n");
    if (out_len > sizeof out_buf / 2)
        out_flush();
}

#endif
