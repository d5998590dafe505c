/* Runs brk and mmap calls in a 32-bit process (built with -m32) and prints where they went,
 * after the process's own /proc/self/maps, for tests/test_space32.py.
 *
 *   space32_probe [--legacy] [--no-random] CALL...     CALL: sbrk:DELTA or mmap:LENGTH
 *
 * Output: "start_brk 0x..", the maps lines, "end", then one line per call: the address
 * (sbrk: the old break) in hex, or "-ERRNO". Nothing here allocates with malloc. */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/personality.h>
#include <unistd.h>

static char maps_buf[1 << 16];
static char out_buf[1 << 16];

int main(int argc, char **argv)
{
    int arg = 1;
    unsigned long persona = 0;
    for (; arg < argc && argv[arg][0] == '-'; arg++)
        persona |= strcmp(argv[arg], "--legacy") == 0 ? ADDR_COMPAT_LAYOUT : ADDR_NO_RANDOMIZE;
    if (persona && !(personality(0xffffffff) & persona)) {
        personality(personality(0xffffffff) | persona);
        execv("/proc/self/exe", argv);
        return 1;
    }
    setvbuf(stdout, out_buf, _IOFBF, sizeof out_buf);   /* stdio must not malloc a buffer */
    printf("start_brk %p\n", sbrk(0));
    int fd = open("/proc/self/maps", O_RDONLY);
    ssize_t got = read(fd, maps_buf, sizeof maps_buf - 1);
    close(fd);
    maps_buf[got > 0 ? got : 0] = '\0';
    printf("%send\n", maps_buf);
    for (; arg < argc; arg++) {
        unsigned long v = strtoul(argv[arg] + 5, NULL, 0);
        void *r;
        if (strncmp(argv[arg], "sbrk:", 5) == 0) {
            r = sbrk((long)v);
            if (r == (void *)-1)
                r = NULL;
        } else {
            r = mmap(NULL, v, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
            if (r == MAP_FAILED)
                r = NULL;
        }
        if (r)
            printf("%p\n", r);
        else
            printf("-%d\n", errno);
    }
    return 0;
}
