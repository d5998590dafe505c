/* Runs memory system calls on the real kernel, one command per stdin line, and reports
 * after each: the result (or -errno) and this process's Anonymous and LazyFree bytes
 * from /proc/self/smaps_rollup.  Used by tests/test_space_kernel.py.
 *
 * Commands (numbers in decimal):
 *   mmap LEN | munmap ADDR LEN | mremap OLD OLDLEN NEWLEN MAYMOVE | madvise ADDR LEN ADVICE
 *   touch ADDR LEN | sbrk DELTA | anon
 * Output line: RESULT ANON_BYTES LAZYFREE_BYTES
 * The probe allocates nothing between measurements: its buffers are static. */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/prctl.h>
#include <unistd.h>

static char rollup[8192];

static long long field(const char *name)
{
    char *at = strstr(rollup, name);
    return at ? atoll(at + strlen(name)) * 1024 : -1;
}

static void report(long long result)
{
    int fd = open("/proc/self/smaps_rollup", O_RDONLY);
    ssize_t n = fd < 0 ? -1 : read(fd, rollup, sizeof rollup - 1);
    if (fd >= 0)
        close(fd);
    rollup[n > 0 ? n : 0] = '\0';
    printf("%lld %lld %lld\n", result, field("\nAnonymous:"), field("\nLazyFree:"));
    fflush(stdout);
}

int main(void)
{
    static char line[512];
    static char out_buffer[4096];
    setvbuf(stdout, out_buffer, _IOFBF, sizeof out_buffer);
    setvbuf(stdin, NULL, _IONBF, 0);
    prctl(PR_SET_THP_DISABLE, 1, 0, 0, 0);   /* whole 4 KiB pages only, as the model */
    while (fgets(line, sizeof line, stdin)) {
        char cmd[16];
        unsigned long long a = 0, b = 0, c = 0, d = 0;
        long long r;
        if (sscanf(line, "%15s %llu %llu %llu %llu", cmd, &a, &b, &c, &d) < 1)
            continue;
        errno = 0;
        if (!strcmp(cmd, "mmap")) {
            void *p = mmap(NULL, a, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
            r = p == MAP_FAILED ? -errno : (long long)(unsigned long)p;
        } else if (!strcmp(cmd, "munmap")) {
            r = munmap((void *)a, b) ? -errno : 0;
        } else if (!strcmp(cmd, "mremap")) {
            void *p = mremap((void *)a, b, c, d ? MREMAP_MAYMOVE : 0);
            r = p == MAP_FAILED ? -errno : (long long)(unsigned long)p;
        } else if (!strcmp(cmd, "madvise")) {
            r = madvise((void *)a, b, (int)c) ? -errno : 0;
        } else if (!strcmp(cmd, "touch")) {
            memset((void *)a, 1, b);
            r = 0;
        } else if (!strcmp(cmd, "sbrk")) {
            void *p = sbrk((long long)a);
            r = p == (void *)-1 ? -errno : (long long)(unsigned long)p;
        } else if (!strcmp(cmd, "anon")) {
            r = 0;
        } else {
            r = -EINVAL;
        }
        report(r);
    }
    return 0;
}
