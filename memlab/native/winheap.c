/* winheap: a 32-bit Windows program that measures its own address space and heaps.
 *
 * Built with i686-w64-mingw32-gcc and run under Wine by memlab/native/wine.py. Each command
 * prints one JSON object per line:
 *   info                 page size, allocation granularity, lowest and highest user address,
 *                        and the bases of two 4 KiB reservations made one after the other
 *   block SIZE...        for each size, one HeapAlloc on a fresh private heap: whether the block
 *                        has a region of its own, its offset in that region, and whether
 *                        HeapFree gave the region back
 *   fill SIZE COUNT      COUNT blocks of SIZE on a fresh private heap: how many regions hold
 *                        them, the committed bytes of the heap's first region after one block
 *                        and after all
 *   churn LO HI BIG      the lesson's experiment, run until the heap is full: a private heap is
 *                        filled with blocks of LO..HI bytes until HeapAlloc fails, every other
 *                        block is freed, a BIG reservation is tried, the heap is destroyed and
 *                        BIG is tried again; the largest reservable range and the total
 *                        reservable space at each stage
 *   early BIG LO HI      BIG is reserved first, then the heap is filled until HeapAlloc fails,
 *                        then the reserved range is committed
 * Sizes are probed by reserving (VirtualAlloc with MEM_RESERVE), not read with VirtualQuery:
 * Wine keeps address space reserved for itself and hands it out on demand.
 */
#include <windows.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define GRANULE 0x10000ull

static unsigned long long largest(void)
{
    unsigned long long lo = 0, hi = (1ull << 32) / GRANULE;   /* lo fits, hi does not */
    while (lo + 1 < hi) {
        unsigned long long mid = (lo + hi) / 2;
        void *p = VirtualAlloc(NULL, (SIZE_T)(mid * GRANULE), MEM_RESERVE, PAGE_NOACCESS);
        if (p) {
            VirtualFree(p, 0, MEM_RELEASE);
            lo = mid;
        } else {
            hi = mid;
        }
    }
    return lo * GRANULE;
}

static unsigned long long total(void)
{
    enum { MAX_HELD = 65536 };
    static void *held[MAX_HELD];
    int n = 0;
    unsigned long long sum = 0, size;
    while (n < MAX_HELD && (size = largest()) != 0) {
        held[n] = VirtualAlloc(NULL, (SIZE_T)size, MEM_RESERVE, PAGE_NOACCESS);
        if (!held[n])
            break;
        sum += size;
        n++;
    }
    while (n > 0)
        VirtualFree(held[--n], 0, MEM_RELEASE);
    return sum;
}

static void stage(const char *name)
{
    unsigned long long big = largest();
    printf("{\"stage\": \"%s\", \"largest\": %llu, \"total\": %llu}\n", name, big, total());
    fflush(stdout);
}

static unsigned state = 2026;
static unsigned draw(unsigned lo, unsigned hi)
{
    state = state * 1103515245u + 12345u;
    return lo + (state >> 8) % (hi - lo + 1);
}

/* Room for the blocks' addresses, taken before the heap grows: 8 Mi pointers (32 MiB). */
enum { MAX_BLOCKS = 8 << 20 };
static void **blocks;

/* Fill `heap` with blocks of lo..hi bytes until HeapAlloc fails; how many were made. */
static unsigned long fill(HANDLE heap, unsigned lo, unsigned hi)
{
    unsigned long n = 0;
    while (n < MAX_BLOCKS && (blocks[n] = HeapAlloc(heap, 0, draw(lo, hi))) != NULL)
        n++;
    return n;
}

static unsigned long committed(void *base)
{
    MEMORY_BASIC_INFORMATION m;
    VirtualQuery(base, &m, sizeof m);
    return m.State == MEM_COMMIT ? (unsigned long)m.RegionSize : 0;
}

int main(int argc, char **argv)
{
    const char *cmd = argc > 1 ? argv[1] : "";
    blocks = VirtualAlloc(NULL, MAX_BLOCKS * sizeof *blocks, MEM_RESERVE | MEM_COMMIT,
                          PAGE_READWRITE);
    if (!blocks)
        return 3;
    if (!strcmp(cmd, "info")) {
        SYSTEM_INFO si;
        GetSystemInfo(&si);
        void *a = VirtualAlloc(NULL, 4096, MEM_RESERVE, PAGE_NOACCESS);
        void *b = VirtualAlloc(NULL, 4096, MEM_RESERVE, PAGE_NOACCESS);
        printf("{\"page\": %lu, \"granularity\": %lu, \"low\": %lu, \"high\": %lu, "
               "\"first\": %lu, \"second\": %lu}\n",
               si.dwPageSize, si.dwAllocationGranularity,
               (unsigned long)si.lpMinimumApplicationAddress,
               (unsigned long)si.lpMaximumApplicationAddress, (unsigned long)a, (unsigned long)b);
        stage("start");
        return 0;
    }
    if (!strcmp(cmd, "block")) {
        HANDLE heap = HeapCreate(0, 0, 0);
        MEMORY_BASIC_INFORMATION h, m, f;
        VirtualQuery(heap, &h, sizeof h);
        for (int i = 2; i < argc; i++) {
            SIZE_T n = strtoul(argv[i], NULL, 10);
            char *p = HeapAlloc(heap, 0, n);
            VirtualQuery(p, &m, sizeof m);
            HeapFree(heap, 0, p);
            VirtualQuery(p, &f, sizeof f);
            printf("{\"size\": %lu, \"own\": %d, \"offset\": %lu, \"released\": %d}\n",
                   (unsigned long)n, m.AllocationBase != h.AllocationBase,
                   (unsigned long)(p - (char *)m.AllocationBase), f.State == MEM_FREE);
        }
        HeapDestroy(heap);
        return 0;
    }
    if (!strcmp(cmd, "fill") && argc == 4) {
        SIZE_T size = strtoul(argv[2], NULL, 10);
        unsigned long count = strtoul(argv[3], NULL, 10), regions = 0;
        HANDLE heap = HeapCreate(0, 0, 0);
        void **bases = calloc(count, sizeof *bases);
        MEMORY_BASIC_INFORMATION h, m;
        VirtualQuery(heap, &h, sizeof h);
        HeapAlloc(heap, 0, size);
        unsigned long first = committed(h.AllocationBase);
        for (unsigned long i = 1; i < count; i++) {
            void *p = HeapAlloc(heap, 0, size);
            VirtualQuery(p, &m, sizeof m);
            unsigned long j = 0;
            while (j < regions && bases[j] != m.AllocationBase)
                j++;
            if (j == regions)
                bases[regions++] = m.AllocationBase;
        }
        printf("{\"regions\": %lu, \"committed_first\": %lu, \"committed_all\": %lu}\n",
               regions, first, committed(h.AllocationBase));
        return 0;
    }
    if (!strcmp(cmd, "churn") && argc == 5) {
        unsigned lo = strtoul(argv[2], NULL, 10), hi = strtoul(argv[3], NULL, 10);
        SIZE_T big = strtoul(argv[4], NULL, 10);
        stage("start");
        HANDLE heap = HeapCreate(0, 0, 0);
        unsigned long n = fill(heap, lo, hi);
        printf("{\"stage\": \"blocks\", \"count\": %lu}\n", n);
        stage("built");
        unsigned long long freed = 0;
        for (unsigned long i = 0; i < n; i += 2) {
            freed += HeapSize(heap, 0, blocks[i]);
            HeapFree(heap, 0, blocks[i]);
        }
        printf("{\"stage\": \"freed\", \"bytes\": %llu}\n", freed);
        stage("half dropped");
        void *p = VirtualAlloc(NULL, big, MEM_RESERVE, PAGE_NOACCESS);
        printf("{\"stage\": \"big block\", \"ok\": %d}\n", p != NULL);
        if (p)
            VirtualFree(p, 0, MEM_RELEASE);
        HeapDestroy(heap);
        stage("destroyed");
        p = VirtualAlloc(NULL, big, MEM_RESERVE, PAGE_NOACCESS);
        printf("{\"stage\": \"big after destroy\", \"ok\": %d}\n", p != NULL);
        return 0;
    }
    if (!strcmp(cmd, "early") && argc == 5) {
        SIZE_T big = strtoul(argv[2], NULL, 10);
        unsigned lo = strtoul(argv[3], NULL, 10), hi = strtoul(argv[4], NULL, 10);
        void *early = VirtualAlloc(NULL, big, MEM_RESERVE, PAGE_NOACCESS);
        HANDLE heap = HeapCreate(0, 0, 0);
        unsigned long n = fill(heap, lo, hi);
        stage("built");
        void *p = early ? VirtualAlloc(early, big, MEM_COMMIT, PAGE_READWRITE) : NULL;
        printf("{\"stage\": \"big block\", \"reserved\": %d, \"blocks\": %lu, \"ok\": %d}\n",
               early != NULL, n, p != NULL);
        return 0;
    }
    fprintf(stderr, "usage: winheap info | block SIZE... | fill SIZE COUNT | churn LO HI BIG | "
                    "early BIG LO HI\n");
    return 2;
}
