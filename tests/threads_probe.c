/* Runs a small threaded allocation script on the real glibc, one thread at a time, and prints
   mallinfo2 (and the break's distance from the start) at each "s" line.

   Script lines (stdin): the trace letters a f r c m t o s w with numeric mallopt parameters,
   and T TID (following lines run on thread TID), n TID (the running thread creates TID),
   x TID (thread TID returns from its start routine; the running thread joins it).
   Threads hand the turn to each other through one mutex and condition variable, so the order
   of calls is the script's. Output: one line per snapshot, eleven numbers:
   brk-delta arena ordblks smblks hblks hblkhd usmblks fsmblks uordblks fordblks keepcost.
   The program itself calls malloc for nothing: its tables are static, it prints with write. */
#define _GNU_SOURCE
#include <malloc.h>
#include <pthread.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#define MAXOPS 200000
#define MAXIDS 65536
#define MAXTHR 256

struct op { char k; long a, b, c; };
static struct op ops[MAXOPS];
static int nops;
static char input[1 << 22];
static void *ptr[MAXIDS];
static size_t req[MAXIDS];
static pthread_t thr[MAXTHR];
static int quit[MAXTHR];
static pthread_mutex_t mu = PTHREAD_MUTEX_INITIALIZER;
static pthread_cond_t cv = PTHREAD_COND_INITIALIZER;
static int turn;       /* the thread whose turn it is */
static int pc;         /* next op */
static char *start_brk;
static char out[256];

static void snapshot(void)
{
    struct mallinfo2 m = mallinfo2();
    int n = snprintf(out, sizeof out, "%ld %zu %zu %zu %zu %zu %zu %zu %zu %zu %zu\n",
                     (long)((char *)sbrk(0) - start_brk), m.arena, m.ordblks, m.smblks, m.hblks,
                     m.hblkhd, m.usmblks, m.fsmblks, m.uordblks, m.fordblks, m.keepcost);
    write(1, out, n);
}

static void *worker(void *arg);

/* Run ops while it is thread `me`'s turn; return when told to quit or the script ends. */
static void run(int me)
{
    pthread_mutex_lock(&mu);
    for (;;) {
        while (turn != me && !quit[me] && pc < nops)
            pthread_cond_wait(&cv, &mu);
        if (quit[me] || pc >= nops)
            break;
        struct op *o = &ops[pc++];
        switch (o->k) {
        case 'T':
            turn = (int)o->a;
            pthread_cond_broadcast(&cv);
            break;
        case 'n':
            quit[o->a] = 0;
            if (pthread_create(&thr[o->a], NULL, worker, (void *)(intptr_t)o->a) != 0) {
                write(2, "pthread_create failed\n", 22);
                _exit(3);
            }
            break;
        case 'x':
            quit[o->a] = 1;
            pthread_cond_broadcast(&cv);
            pthread_mutex_unlock(&mu);
            pthread_join(thr[o->a], NULL);
            pthread_mutex_lock(&mu);
            break;
        case 'a': ptr[o->a] = malloc(o->b); req[o->a] = o->b; break;
        case 'f': free(ptr[o->a]); ptr[o->a] = NULL; break;
        case 'r': {
            void *q = realloc(ptr[o->a], o->b);
            if (q || o->b == 0) { ptr[o->a] = q; req[o->a] = o->b; }
            break;
        }
        case 'c': ptr[o->a] = calloc(o->b, o->c); req[o->a] = o->b * o->c; break;
        case 'm': ptr[o->a] = memalign(o->b, o->c); req[o->a] = o->c; break;
        case 'w': if (ptr[o->a]) memset(ptr[o->a], 1, req[o->a]); break;
        case 't': malloc_trim(o->a); break;
        case 'o': mallopt((int)o->a, (int)o->b); break;
        case 's': snapshot(); break;
        }
    }
    pthread_cond_broadcast(&cv);
    pthread_mutex_unlock(&mu);
}

static void *worker(void *arg)
{
    run((int)(intptr_t)arg);
    return NULL;
}

int main(void)
{
    size_t len = 0;
    ssize_t r;
    while ((r = read(0, input + len, sizeof input - 1 - len)) > 0)
        len += r;
    input[len] = 0;
    for (char *line = strtok(input, "\n"); line && nops < MAXOPS; line = strtok(NULL, "\n")) {
        struct op *o = &ops[nops];
        o->a = o->b = o->c = 0;
        if (sscanf(line, " %c %li %li %li", &o->k, &o->a, &o->b, &o->c) >= 1 && o->k != '#')
            nops++;
    }
    start_brk = sbrk(0);
    run(0);
    /* the main thread ends the script: let every thread still waiting go */
    pthread_mutex_lock(&mu);
    for (int i = 1; i < MAXTHR; i++)
        quit[i] = 1;
    pthread_cond_broadcast(&cv);
    pthread_mutex_unlock(&mu);
    return 0;
}
