/* The vecvec experiment on the real glibc, with memlab's snapshots (docs/trace-format.md).
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

#include "../../memlab/native/measure.h"

static unsigned long long ops, every, last_snap = ~0ULL;

static void snapshot(const char *label)
{
    out_str("{\"op\": ");
    out_int((long long)ops);
    out_str(", \"label\": \"");
    out_str(label);
    out_measures();
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
