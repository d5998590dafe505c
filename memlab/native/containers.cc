// containers: N ints in a std::vector<int> or a std::list<int>, filled, cleared and
// destroyed, with a snapshot of the process at each stage (what `top` shows, and more).
//
//   containers vector N    stages: start, filled, cleared, shrink_to_fit, destroyed
//   containers list N      stages: start, filled, cleared, destroyed
//   containers pinned N    N blocks of 1,000 bytes, then one of 24 bytes above them; all but
//                          that one freed; stages: start, filled, freed, trimmed (malloc_trim(0))
//
// One JSON line per stage on stdout: "vmsize" and "vmrss" (bytes, from /proc/self/status:
// top's VIRT and RES), then the fields of a memlab snapshot (TRACE-FORMAT.md: brk and rss
// counted from the "start" stage). Under memlab's recorder each stage is also an `s` line of
// the trace (memlab_snapshot). Output never uses malloc or stdio, so the heap is the program's.
#include <cstdlib>
#include <cstring>
#include <list>
#include <vector>

#include <malloc.h>
#include <sys/prctl.h>

#include "measure.h"

extern "C" void memlab_snapshot(const char *label) __attribute__((weak));

static char status_buf[8192];
static void *volatile sink;   // keeps the containers' memory observable

// One "Key:   N kB" line of /proc/self/status, in bytes.
static long long status_bytes(const char *key)
{
    int fd = open("/proc/self/status", O_RDONLY | O_CLOEXEC);
    if (fd < 0)
        _exit(1);
    ssize_t n = read(fd, status_buf, sizeof status_buf - 1);
    close(fd);
    if (n <= 0)
        _exit(1);
    status_buf[n] = '\0';
    const char *at = strstr(status_buf, key);
    if (!at)
        _exit(1);
    at += strlen(key);
    while (*at == ' ' || *at == '\t')
        at++;
    long long kb = 0;
    while (*at >= '0' && *at <= '9')
        kb = kb * 10 + (*at++ - '0');
    return kb * 1024;
}

static void stage(const char *label)
{
    if (memlab_snapshot)
        memlab_snapshot(label);
    long long vmsize = status_bytes("VmSize:"), vmrss = status_bytes("VmRSS:");
    out_str("{\"vmsize\": ");
    out_int(vmsize);
    out_str(", \"vmrss\": ");
    out_int(vmrss);
    out_str(", \"label\": \"");
    out_str(label);
    out_measures();
}

__attribute__((noinline)) static void touch_stack()
{
    volatile char area[64 * 1024];
    for (size_t i = 0; i < sizeof area; i += 512)
        area[i] = 1;
}

static void vector_run(long n)
{
    {
        std::vector<int> v;
        for (long i = 0; i < n; i++)
            v.push_back((int)i);
        sink = v.data();
        stage("filled");
        v.clear();
        stage("cleared");
        v.shrink_to_fit();
        stage("shrink_to_fit");
    }
    stage("destroyed");
}

static void list_run(long n)
{
    {
        std::list<int> l;
        for (long i = 0; i < n; i++)
            l.push_back((int)i);
        sink = &l.back();
        stage("filled");
        l.clear();
        stage("cleared");
    }
    stage("destroyed");
}

static void pinned_run(long n)
{
    void **blocks = static_cast<void **>(malloc(sizeof(void *) * (size_t)n));
    if (!blocks)
        _exit(1);
    for (long i = 0; i < n; i++) {
        blocks[i] = malloc(1000);
        memset(blocks[i], 0xA5, 1000);
    }
    void *pin = malloc(24);
    memset(pin, 1, 24);
    sink = pin;
    stage("filled");
    for (long i = 0; i < n; i++)
        free(blocks[i]);
    free(blocks);
    stage("freed");
    malloc_trim(0);
    stage("trimmed");
    free(pin);
}

int main(int argc, char **argv)
{
    if (argc != 3) {
        err_str("usage: containers vector|list|pinned N\n");
        return 2;
    }
    long n = strtol(argv[2], nullptr, 10);
    if (n <= 0) {
        err_str("containers: N must be a positive integer\n");
        return 2;
    }
    prctl(PR_SET_THP_DISABLE, 1, 0, 0, 0);
    touch_stack();
    memset(out_buf, 0, sizeof out_buf);
    memset(status_buf, 0, sizeof status_buf);
    brk_base = (uintptr_t)sbrk(0);
    anon_base = anonymous_bytes();
    stage("start");
    if (strcmp(argv[1], "vector") == 0)
        vector_run(n);
    else if (strcmp(argv[1], "list") == 0)
        list_run(n);
    else if (strcmp(argv[1], "pinned") == 0)
        pinned_run(n);
    else {
        err_str("containers: the first argument must be vector, list or pinned\n");
        return 2;
    }
    out_flush();
    return 0;
}
