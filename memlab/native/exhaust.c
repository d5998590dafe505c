/* Runs a process out of address space with malloc, as lesson 09 tells it, and shows where
 * everything went: built with -m32 it is a 32-bit program on the machine's i386 glibc.
 *
 *   exhaust [--no-random] [--legacy] BIG SMALL
 *
 * mallocs BIG bytes until malloc fails, then SMALL bytes until malloc fails, never freeing.
 * Output, through write(2) from static buffers (nothing here allocates but the measured
 * mallocs), one section per moment, each a copy of /proc/self/maps:
 *
 *   start_brk 0x...            the break before the first malloc
 *   maps start                 then the maps lines, then "end"
 *   big N                      BIG blocks obtained
 *   first_big 0x..., last_big 0x...   where the first and the last of them were mapped
 *   maps failed ... end        the maps when the BIG malloc failed
 *   small M                    SMALL blocks obtained after that
 *   brk 0x...                  the break at the end
 *   maps end ... end
 *
 * --no-random re-executes the program with address-space randomisation off (as setarch -R);
 * --legacy with the kernel's legacy (bottom-up) mmap layout (as setarch -L). */
#define _GNU_SOURCE
#include <fcntl.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <sys/personality.h>
#include <unistd.h>

static char maps_buf[1 << 16];

static void say(const char *s)
{
    size_t n = strlen(s);
    while (n > 0) {
        ssize_t k = write(1, s, n);
        if (k <= 0)
            _exit(1);
        s += k;
        n -= (size_t)k;
    }
}

static void hex(const char *name, uintptr_t v)
{
    char digits[2 + 2 * sizeof v + 1];
    int i = (int)sizeof digits - 1;
    digits[i] = '\0';
    do {
        digits[--i] = "0123456789abcdef"[v & 15];
        v >>= 4;
    } while (v);
    digits[--i] = 'x';
    digits[--i] = '0';
    say(name);
    say(" ");
    say(digits + i);
    say("\n");
}

static void count(const char *name, unsigned long v)
{
    char digits[24];
    int i = (int)sizeof digits - 1;
    digits[i] = '\0';
    do {
        digits[--i] = (char)('0' + v % 10);
        v /= 10;
    } while (v);
    say(name);
    say(" ");
    say(digits + i);
    say("\n");
}

static void maps(const char *moment)
{
    int fd = open("/proc/self/maps", O_RDONLY);
    size_t got = 0;
    ssize_t k;
    if (fd < 0)
        _exit(1);
    while (got < sizeof maps_buf - 1 && (k = read(fd, maps_buf + got, sizeof maps_buf - 1 - got)) > 0)
        got += (size_t)k;
    close(fd);
    maps_buf[got] = '\0';
    say("maps ");
    say(moment);
    say("\n");
    say(maps_buf);
    say("end\n");
}

static size_t size_arg(const char *s)
{
    char *end;
    unsigned long v = strtoul(s, &end, 10);
    if (*s == '\0' || *end != '\0' || v == 0) {
        say("exhaust: sizes are positive whole numbers of bytes\n");
        _exit(2);
    }
    return (size_t)v;
}

int main(int argc, char **argv)
{
    int arg = 1;
    unsigned long persona = 0;
    for (; arg < argc && argv[arg][0] == '-'; arg++) {
        if (strcmp(argv[arg], "--no-random") == 0)
            persona |= ADDR_NO_RANDOMIZE;
        else if (strcmp(argv[arg], "--legacy") == 0)
            persona |= ADDR_COMPAT_LAYOUT;
        else
            break;
    }
    if (argc - arg != 2) {
        say("usage: exhaust [--no-random] [--legacy] BIG SMALL\n");
        return 2;
    }
    if (persona && !(personality(0xffffffff) & persona)) {
        /* the layout is chosen at exec: set the personality, then run again */
        personality(personality(0xffffffff) | persona);
        execv("/proc/self/exe", argv);
        say("exhaust: cannot re-execute itself\n");
        return 1;
    }
    size_t big = size_arg(argv[arg]), small = size_arg(argv[arg + 1]);
    hex("start_brk", (uintptr_t)sbrk(0));
    maps("start");
    unsigned long n = 0, m = 0;
    uintptr_t first = 0, last = 0, p;
    while ((p = (uintptr_t)malloc(big)) != 0) {
        last = p & ~(uintptr_t)4095;      /* the block's mapping: its page */
        first = first ? first : last;
        n++;
    }
    count("big", n);
    hex("first_big", first);
    hex("last_big", last);
    maps("failed");
    while (malloc(small))
        m++;
    count("small", m);
    hex("brk", (uintptr_t)sbrk(0));
    maps("end");
    return 0;
}
