/* record: an LD_PRELOAD library that writes every malloc-family call of a
 * program as a memlab trace (docs/trace-format.md).
 *
 *   MEMLAB_RECORD=/abs/FILE LD_PRELOAD=record.so PROGRAM ARGS
 *
 * Files: the first program image writes FILE; any later one (a forked child,
 * or a program started or exec'd from it) writes FILE.<pid>, or
 * FILE.<pid>.<n> when that is taken too (files are claimed with O_EXCL).  A
 * forked child's file starts with a copy of its parent's trace so far, since
 * the child's heap starts as a copy of its parent's.
 *
 * Every call is forwarded to glibc's own entry points (__libc_malloc, ...),
 * so the program behaves as without the recorder.  The recorder never
 * allocates with malloc: blocks are found by an open-addressing table
 * pointer -> ID in mmap'd memory, freed IDs are reused from a stack (also
 * mmap'd), and each call's line is written with write(2) as the call is
 * made: nothing waits in a user-space buffer, so when the program crashes,
 * aborts or is killed (even with SIGKILL) the kernel keeps every line written
 * so far.  At the end (a destructor, or _exit) it writes `s exit` and a
 * comment line with what it could not record.
 *
 * Calls it cannot record are still forwarded, and counted: calls nested in
 * the recorder itself, frees and reallocs of pointers it never saw, and
 * mallopt parameters the trace format lacks (those are written as an
 * equivalent `o M_MXFAST <current>`: every mallopt consolidates the fastbins
 * first, and re-setting M_MXFAST to its current value does only that).
 *
 * Threads: every call is made and written under one lock, so the trace's order
 * is the order in which the calls ran, and no two threads are ever inside
 * malloc at once (glibc then never meets a locked arena: a replay, which runs
 * one thread at a time, makes the same choices).  pthread_create is
 * interposed: a thread it starts gets a TID (the lowest free one), the
 * creator's `n TID` line, and `T TID` before the calls it makes; `x TID` is
 * written in the last round of thread-specific-data destructors of that
 * thread, which then keeps the lock until it is gone (glibc's exit work, its
 * tcache emptied into the arenas, happens before the next line, as in a
 * replay), and `j TID` when pthread_join returns it (or, for a detached
 * thread, as it exits or is detached after its exit): then its TID is free.  The calls glibc makes inside pthread_create (the new thread's DTV)
 * are not written, since a replayer creating a real thread makes them too:
 * the `n` line is written at the first of them, so it stands where they ran.
 * The recorder keeps no thread-local storage of its own (that would make
 * every thread's DTV larger than in the replayer): threads are told apart by
 * their kernel thread ID.  The lines after the first are `# arch NAME` (the
 * architecture this library, and so the program, was built for: x86-64 or
 * i386), `# cpus N` and `# tls M`; at the end a comment gives the program's
 * own mallinfo2, summed over arenas.
 *
 * A program can mark stages of its run with `s LABEL` lines: see memlab_snapshot.
 */
#define _GNU_SOURCE
#include <dlfcn.h>
#include <errno.h>
#include <fcntl.h>
#include <link.h>
#include <limits.h>
#include <malloc.h>
#include <pthread.h>
#include <sched.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/syscall.h>
#include <sys/sysinfo.h>
#include <time.h>
#include <unistd.h>

extern void *__libc_malloc(size_t);
extern void __libc_free(void *);
extern void *__libc_calloc(size_t, size_t);
extern void *__libc_realloc(void *, size_t);
extern void *__libc_memalign(size_t, size_t);
extern void *__libc_valloc(size_t);
extern void *__libc_pvalloc(size_t);
extern int __libc_mallopt(int, int);
extern char **environ;

/* ---------- lock and reentrancy guard ---------- */

static volatile int lock_word;
static volatile pid_t owner; /* kernel thread ID of the thread holding the lock, 0 if none */
static pid_t main_tid;

static pid_t ktid(void) { return (pid_t)syscall(SYS_gettid); }

/* A thread whose x line is written keeps the lock until its kernel thread is gone, so that
 * glibc's work at its exit (its tcache emptied into the arenas, its arena given back, all
 * with internal calls the recorder cannot see) runs before the next line's call, as in a
 * replay.  The next thread to want the lock takes it over then. */
static volatile pid_t exiting;
static unsigned long n_exit_waits_cut;

/* How long a thread waits for an exiting one before it takes the lock anyway: a thread
 * blocked at exit on a lock of glibc's that the waiter holds would otherwise never go. */
#define EXIT_WAIT_NS 1000000000LL

static int gone(pid_t k)
{
    int saved = errno;
    int is_gone = syscall(SYS_tgkill, getpid(), k, 0) != 0 && errno == ESRCH;
    errno = saved;
    return is_gone;
}

static long long now_ns(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return ts.tv_sec * 1000000000LL + ts.tv_nsec;
}

/* Take the lock over from an exiting thread once it is gone (or waited for too long). */
static int take_over(long long *since)
{
    pid_t e = __atomic_load_n(&exiting, __ATOMIC_ACQUIRE);
    if (!e)
        return 0;
    if (*since == 0)
        *since = now_ns();
    int is_gone = gone(e), cut = !is_gone && now_ns() - *since > EXIT_WAIT_NS;
    if (!is_gone && !cut)
        return 0;
    if (!__atomic_compare_exchange_n(&exiting, &e, 0, 0, __ATOMIC_ACQ_REL, __ATOMIC_RELAXED))
        return 0;
    n_exit_waits_cut += cut;
    return 1;
}

static void lock(void)
{
    long long since = 0;
    while (__atomic_exchange_n(&lock_word, 1, __ATOMIC_ACQUIRE))
        if (take_over(&since))
            return;
        else
            sched_yield();
}

static void unlock(void) { __atomic_store_n(&lock_word, 0, __ATOMIC_RELEASE); }

/* Take the lock as thread `me` (calls `me` makes while it holds it are nested; an exiting
 * thread holds it to the end). */
static void lock_as(pid_t me)
{
    if (__atomic_load_n(&exiting, __ATOMIC_ACQUIRE) == me)
        return;
    lock();
    owner = me;
}

static void unlock_as(void)
{
    if (owner != 0 && owner == __atomic_load_n(&exiting, __ATOMIC_ACQUIRE))
        return;
    owner = 0;
    unlock();
}

/* Keep the lock, as thread `me`, until this thread is gone. */
static void hold_until_gone(pid_t me)
{
    owner = me;
    __atomic_store_n(&exiting, me, __ATOMIC_RELEASE);
}

/* ---------- counts of what could not be recorded ---------- */

static unsigned long n_unready, n_nested, n_unknown_free, n_unknown_realloc, n_odd_mallopt, n_other_thread;
static unsigned long n_for_create, n_after_exit, n_failed_create, n_untracked_threads, n_tls_threads;
static size_t header_tls = 1; /* the `# tls M` of the header */

/* ---------- output ---------- */

static int out_fd = -1;
static char path_buf[4096];
static int finished;
static int opening, tried;

static void write_all(int fd, const char *s, size_t n)
{
    while (n > 0) {
        ssize_t k = write(fd, s, n);
        if (k < 0 && errno == EINTR)
            continue;
        if (k <= 0)
            return;
        s += k;
        n -= (size_t)k;
    }
}

static size_t put_u(char *at, unsigned long long v)
{
    char tmp[24];
    int i = sizeof tmp;
    do {
        tmp[--i] = (char)('0' + v % 10);
        v /= 10;
    } while (v);
    memcpy(at, tmp + i, sizeof tmp - i);
    return sizeof tmp - i;
}

static size_t put_s(char *at, const char *s)
{
    size_t n = strlen(s);
    memcpy(at, s, n);
    return n;
}

static void open_output(void);

/* Hand finished lines to the kernel at once (opening the file on first use). */
static void put_lines(const char *s, size_t n)
{
    int saved = errno; /* the program sees the errno of its own call */
    if (out_fd < 0 && !opening)
        open_output();
    if (out_fd >= 0)
        write_all(out_fd, s, n);
    errno = saved;
}

static void emit(char kind, unsigned long long a, int na, unsigned long long b, unsigned long long c)
{
    char line[100], *p = line;
    *p++ = kind;
    *p++ = ' ';
    p += put_u(p, a);
    if (na >= 2) {
        *p++ = ' ';
        p += put_u(p, b);
    }
    if (na >= 3) {
        *p++ = ' ';
        p += put_u(p, c);
    }
    *p++ = '\n';
    put_lines(line, (size_t)(p - line));
}

/* Claim FILE, else FILE.<pid>, else FILE.<pid>.<n>, with O_EXCL. */
static int claim(const char *base, int first)
{
    char name[4200];
    size_t n = strlen(base);
    if (n > 4000)
        return -1;
    for (int attempt = first ? 0 : 1; attempt < 1000; attempt++) {
        size_t at = n;
        memcpy(name, base, n);
        if (attempt >= 1) {
            name[at++] = '.';
            at += put_u(name + at, (unsigned long long)getpid());
        }
        if (attempt >= 2) {
            name[at++] = '.';
            at += put_u(name + at, (unsigned long long)attempt);
        }
        name[at] = '\0';
        int fd = open(name, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0644);
        if (fd >= 0) {
            memcpy(path_buf, name, at + 1);
            return fd;
        }
        if (errno != EEXIST)
            return -1;
    }
    return -1;
}

static void header(void);

/* Claim the trace file and write its header line first. */
static void open_output(void)
{
    const char *base = getenv("MEMLAB_RECORD");
    if (!base || !*base || tried)
        return;
    tried = 1; /* once per program image: a refused file is not retried on every call */
    opening = 1;
    out_fd = claim(base, 1);
    if (out_fd >= 0)
        header();
    opening = 0;
}

/* ---------- pointer -> ID table (open addressing, linear probing) ---------- */

struct entry {
    uintptr_t key; /* 0: empty */
    uint64_t id;
};

static struct entry *table;
static size_t table_cap, table_len;
static uint64_t *free_ids;
static size_t free_cap, free_len;
static uint64_t next_id;
static int ready;

static size_t slot_of(uintptr_t key, size_t cap)
{
    return (size_t)(((key >> 4) * 0x9E3779B97F4A7C15ULL) >> 7) & (cap - 1);
}

static struct entry *new_table(size_t cap)
{
    void *m = mmap(NULL, cap * sizeof(struct entry), PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
    return m == MAP_FAILED ? NULL : m;
}

static int setup_threads(void);

static int setup(void)
{
    table_cap = 1 << 16;
    table = new_table(table_cap);
    free_cap = 1 << 16;
    void *m = mmap(NULL, free_cap * sizeof(uint64_t), PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
    if (!table || m == MAP_FAILED || !setup_threads())
        return 0;
    free_ids = m;
    ready = 1;
    return 1;
}

static void insert(uintptr_t key, uint64_t id)
{
    if ((table_len + 1) * 2 > table_cap) {
        size_t cap = table_cap * 2;
        struct entry *t = new_table(cap);
        if (!t)
            return;
        for (size_t i = 0; i < table_cap; i++) {
            if (table[i].key) {
                size_t j = slot_of(table[i].key, cap);
                while (t[j].key)
                    j = (j + 1) & (cap - 1);
                t[j] = table[i];
            }
        }
        munmap(table, table_cap * sizeof(struct entry));
        table = t;
        table_cap = cap;
    }
    size_t j = slot_of(key, table_cap);
    while (table[j].key && table[j].key != key)
        j = (j + 1) & (table_cap - 1);
    if (!table[j].key)
        table_len++;
    table[j].key = key;
    table[j].id = id;
}

/* Remove key; return 1 and its ID if it was there. */
static int take(uintptr_t key, uint64_t *id)
{
    size_t mask = table_cap - 1, j = slot_of(key, table_cap);
    while (table[j].key != key) {
        if (!table[j].key)
            return 0;
        j = (j + 1) & mask;
    }
    *id = table[j].id;
    table_len--;
    /* shift later entries of the run back so that no probe sequence breaks */
    size_t hole = j;
    for (size_t k = (j + 1) & mask; table[k].key; k = (k + 1) & mask) {
        size_t home = slot_of(table[k].key, table_cap);
        int moves = hole <= k ? (home <= hole || home > k) : (home <= hole && home > k);
        if (moves) {
            table[hole] = table[k];
            hole = k;
        }
    }
    table[hole].key = 0;
    return 1;
}

static uint64_t fresh_id(void)
{
    return free_len ? free_ids[--free_len] : next_id++;
}

static void release_id(uint64_t id)
{
    if (free_len == free_cap) {
        void *m = mremap(free_ids, free_cap * sizeof(uint64_t), 2 * free_cap * sizeof(uint64_t), MREMAP_MAYMOVE);
        if (m == MAP_FAILED)
            return; /* the ID is simply not reused */
        free_ids = m;
        free_cap *= 2;
    }
    free_ids[free_len++] = id;
}

/* ---------- entering and leaving the recorder ---------- */

/* ---------- threads ---------- */

#define MAX_TID 65535
#define NO_TID 0xFFFFFFFFu

/* A thread started through pthread_create (or the main thread), by kernel thread ID. */
struct thread {
    pid_t ktid;          /* 0: empty slot */
    unsigned tid;        /* its TID in the trace */
    unsigned rounds;     /* destructor rounds seen at its exit */
    struct start *creating; /* set while it is inside pthread_create */
};

/* What a new thread needs to start: kept in a fixed pool, linked when free. */
struct start {
    void *(*fn)(void *);
    void *arg;
    unsigned tid, creator;
    int written;         /* its `n` line is in the trace */
    struct start *next;
};

#define THREAD_SLOTS (1 << 17)
static struct thread *threads;       /* open addressing by kernel thread ID */
static struct start *starts, *free_starts;
static unsigned *free_tids;          /* a stack of TIDs free for reuse, lowest on top */
/* Each TID's pthread_t and state: 0 free, 1 running, 2 exited (x written), and whether it is detached. */
struct tid_state {
    pthread_t th;
    unsigned char state, detached;
};
static struct tid_state *tids;
static unsigned n_free_tids, next_tid = 1;
static unsigned last_tid;            /* the thread of the last operation line; NO_TID after its x line */
static pthread_key_t exit_key;
static int have_exit_key;

static int setup_threads(void)
{
    threads = mmap(NULL, THREAD_SLOTS * sizeof(struct thread) +
                             (MAX_TID + 1) * (sizeof(struct start) + sizeof(unsigned) + sizeof(struct tid_state)),
                   PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
    if (threads == MAP_FAILED) {
        threads = NULL;
        return 0;
    }
    starts = (struct start *)(threads + THREAD_SLOTS);
    tids = (struct tid_state *)(starts + MAX_TID + 1);
    free_tids = (unsigned *)(tids + MAX_TID + 1);
    free_starts = NULL;
    for (int i = MAX_TID; i >= 0; i--) {
        starts[i].next = free_starts;
        free_starts = &starts[i];
    }
    return 1;
}

static size_t thread_slot(pid_t k) { return ((size_t)k * 0x9E3779B97F4A7C15ULL >> 20) & (THREAD_SLOTS - 1); }

static struct thread *thread_of(pid_t k)
{
    if (!threads)
        return NULL;
    for (size_t j = thread_slot(k);; j = (j + 1) & (THREAD_SLOTS - 1)) {
        if (threads[j].ktid == k)
            return &threads[j];
        if (threads[j].ktid == 0)
            return NULL;
    }
}

static struct thread *add_thread(pid_t k, unsigned tid)
{
    struct thread *t = thread_of(k);
    if (!t && threads) {
        size_t j = thread_slot(k);
        while (threads[j].ktid != 0)
            j = (j + 1) & (THREAD_SLOTS - 1);
        t = &threads[j];
    }
    if (t) {
        t->ktid = k;
        t->tid = tid;
        t->rounds = 0;
        t->creating = NULL;
    }
    return t;
}

/* Forget a thread: later entries of its run move back, so that no probe sequence breaks. */
static void drop_thread(struct thread *t)
{
    size_t mask = THREAD_SLOTS - 1, hole = (size_t)(t - threads);
    for (size_t k = (hole + 1) & mask; threads[k].ktid; k = (k + 1) & mask) {
        size_t home = thread_slot(threads[k].ktid);
        int moves = hole <= k ? (home <= hole || home > k) : (home <= hole && home > k);
        if (moves) {
            threads[hole] = threads[k];
            hole = k;
        }
    }
    threads[hole].ktid = 0;
}

static unsigned fresh_tid(void)
{
    if (n_free_tids)
        return free_tids[--n_free_tids];
    return next_tid <= MAX_TID ? next_tid++ : NO_TID;
}

/* TIDs are reused lowest first: the free stack is kept sorted, highest at the bottom. */
static void release_tid(unsigned tid)
{
    unsigned i = n_free_tids++;
    while (i > 0 && free_tids[i - 1] < tid) {
        free_tids[i] = free_tids[i - 1];
        i--;
    }
    free_tids[i] = tid;
}

/* The j line of an exited thread: its TID is free again. */
static void write_joined(unsigned tid)
{
    emit('j', tid, 1, 0, 0);
    tids[tid].state = 0;
    release_tid(tid);
}

static void switch_to(unsigned tid)
{
    if (tid != last_tid) {
        emit('T', tid, 1, 0, 0);
        last_tid = tid;
    }
}

static void write_created(struct start *s)
{
    switch_to(s->creator);
    emit('n', s->tid, 1, 0, 0);
    s->written = 1;
}

/* ---------- entering and leaving the recorder ---------- */

enum { FORWARD = 0, RECORD = 1, FORWARD_LOCKED = 2 };

/* RECORD: record this call (the lock is held, the line of its thread written).
 * FORWARD_LOCKED: glibc's own call inside pthread_create: make it under the lock, unrecorded.
 * FORWARD: make it without the recorder. */
static int enter(void)
{
    pid_t me = ktid();
    if (owner == me) {
        if (__atomic_load_n(&exiting, __ATOMIC_ACQUIRE) == me)
            n_other_thread++;      /* made after its x line */
        else
            n_nested++;
        return FORWARD;
    }
    lock_as(me);
    if (!ready && !setup()) {
        n_unready++;
        unlock_as();
        return FORWARD;
    }
    struct thread *t = thread_of(me);
    if (!t) {
        if (main_tid && me != main_tid) {
            n_other_thread++;      /* a thread not started by pthread_create, or one whose x line is written */
            unlock_as();
            return FORWARD;
        }
        t = add_thread(me, 0);     /* the main thread, before the constructor ran */
        if (!t) {
            unlock_as();
            return FORWARD;
        }
    }
    if (t->creating) {
        if (!t->creating->written)
            write_created(t->creating);
        n_for_create++;
        return FORWARD_LOCKED;
    }
    switch_to(t->tid);
    return RECORD;
}

static void leave(void) { unlock_as(); }

/* A pointer returned by an allocating call: give it an ID and write the line. */
static void allocated(void *p, char kind, unsigned long long a, int na, unsigned long long b)
{
    uint64_t id = fresh_id();
    emit(kind, id, na + 1, a, b);
    if (p)
        insert((uintptr_t)p, id);
    else
        release_id(id); /* a failed call: the ID is not live */
}

/* ---------- the malloc family ---------- */

void *malloc(size_t n)
{
    int e = enter();
    if (e != RECORD) {
        void *p = __libc_malloc(n);
        if (e == FORWARD_LOCKED)
            leave();
        return p;
    }
    void *p = __libc_malloc(n);
    allocated(p, 'a', n, 1, 0);
    leave();
    return p;
}

void free(void *p)
{
    int e = p ? enter() : FORWARD;
    if (e != RECORD) {
        __libc_free(p);
        if (e == FORWARD_LOCKED)
            leave();
        return;
    }
    uint64_t id;
    if (take((uintptr_t)p, &id)) {
        emit('f', id, 1, 0, 0);
        release_id(id);
    } else {
        n_unknown_free++;
    }
    __libc_free(p);
    leave();
}

void *calloc(size_t k, size_t n)
{
    int e = enter();
    if (e != RECORD) {
        void *p = __libc_calloc(k, n);
        if (e == FORWARD_LOCKED)
            leave();
        return p;
    }
    void *p = __libc_calloc(k, n);
    allocated(p, 'c', k, 2, n);
    leave();
    return p;
}

void *realloc(void *old, size_t n)
{
    int e = enter();
    if (e != RECORD) {
        void *p = __libc_realloc(old, n);
        if (e == FORWARD_LOCKED)
            leave();
        return p;
    }
    if (!old) {
        void *p = __libc_realloc(NULL, n); /* the same as malloc(n) */
        allocated(p, 'a', n, 1, 0);
        leave();
        return p;
    }
    uint64_t id;
    if (!take((uintptr_t)old, &id)) {
        n_unknown_realloc++;
        void *p = __libc_realloc(old, n);
        leave();
        return p;
    }
    void *p = __libc_realloc(old, n);
    emit('r', id, 2, n, 0);
    if (p)
        insert((uintptr_t)p, id);
    else if (n == 0)
        release_id(id); /* realloc(p, 0) freed the block */
    else
        insert((uintptr_t)old, id); /* failed: the old block stays */
    leave();
    return p;
}

void *reallocarray(void *old, size_t k, size_t n)
{
    size_t bytes;
    if (__builtin_mul_overflow(k, n, &bytes)) {
        errno = ENOMEM;
        return NULL;
    }
    return realloc(old, bytes);
}

static void *aligned(size_t align, size_t n)
{
    int e = enter();
    if (e != RECORD) {
        void *p = __libc_memalign(align, n);
        if (e == FORWARD_LOCKED)
            leave();
        return p;
    }
    void *p = __libc_memalign(align, n);
    allocated(p, 'm', align, 2, n);
    leave();
    return p;
}

void *memalign(size_t align, size_t n) { return aligned(align, n); }

/* glibc 2.36's aligned_alloc is memalign itself. */
void *aligned_alloc(size_t align, size_t n) { return aligned(align, n); }

void *valloc(size_t n) { return aligned(4096, n); }

void *pvalloc(size_t n)
{
    size_t rounded;
    if (__builtin_add_overflow(n, 4095, &rounded)) {
        errno = ENOMEM;
        return NULL;
    }
    return aligned(4096, rounded & ~(size_t)4095);
}

int posix_memalign(void **out, size_t align, size_t n)
{
    /* the checks glibc makes before memalign */
    if (align % sizeof(void *) != 0 || (align / sizeof(void *)) == 0 ||
        ((align / sizeof(void *)) & (align / sizeof(void *) - 1)) != 0)
        return EINVAL;
    int saved = errno;
    void *p = aligned(align, n);
    errno = saved;
    if (!p)
        return ENOMEM;
    *out = p;
    return 0;
}

static int (*real_trim)(size_t);
static pid_t (*real_fork)(void);
static int (*real_execvp)(const char *, char *const[]);
static int (*real_execvpe)(const char *, char *const[], char *const[]);
static int mxfast = 128; /* glibc's default M_MXFAST (64 * SIZE_SZ / 4) */

int malloc_trim(size_t pad)
{
    if (!real_trim)
        real_trim = (int (*)(size_t))dlsym(RTLD_NEXT, "malloc_trim");
    int e = enter();
    if (e != RECORD) {
        int r = real_trim ? real_trim(pad) : 0;
        if (e == FORWARD_LOCKED)
            leave();
        return r;
    }
    int r = real_trim ? real_trim(pad) : 0;
    emit('t', pad, 1, 0, 0);
    leave();
    return r;
}

int mallopt(int param, int value)
{
    int e = enter();
    if (e != RECORD) {
        int r = __libc_mallopt(param, value);
        if (e == FORWARD_LOCKED)
            leave();
        return r;
    }
    int r = __libc_mallopt(param, value);
    char line[200], *p = line;
    if (param == M_MXFAST || param == M_TRIM_THRESHOLD || param == M_TOP_PAD || param == M_MMAP_THRESHOLD ||
        param == M_MMAP_MAX || param == M_ARENA_TEST || param == M_ARENA_MAX) {
        p += put_s(p, "o ");
        if (param < 0) {
            *p++ = '-';
            p += put_u(p, (unsigned long long)-(long long)param);
        } else {
            p += put_u(p, (unsigned long long)param);
        }
        *p++ = ' ';
        if (value < 0) {
            *p++ = '-';
            p += put_u(p, (unsigned long long)-(long long)value);
        } else {
            p += put_u(p, (unsigned long long)value);
        }
        if (param == M_MXFAST && r == 1)
            mxfast = value;
    } else {
        n_odd_mallopt++;
        p += put_s(p, "# mallopt(");
        if (param < 0)
            *p++ = '-';
        p += put_u(p, (unsigned long long)(param < 0 ? -(long long)param : param));
        p += put_s(p, ", ...): written as the same consolidation\no M_MXFAST ");
        p += put_u(p, (unsigned long long)mxfast);
    }
    *p++ = '\n';
    put_lines(line, (size_t)(p - line));
    leave();
    return r;
}

/* A program may mark points of its run in the trace: it declares
 *     extern "C" void memlab_snapshot(const char *label) __attribute__((weak));
 * and calls it when the pointer is not null (under the recorder only); the trace gets
 * `s LABEL` there.  Blanks in the label become '_'; it is cut at 100 bytes. */
void memlab_snapshot(const char *label)
{
    int e = enter();
    if (e != RECORD) {
        if (e == FORWARD_LOCKED)
            leave();
        return;
    }
    char line[110], *p = line;
    *p++ = 's';
    *p++ = ' ';
    for (int i = 0; label && label[i] && i < 100; i++)
        *p++ = (label[i] == ' ' || label[i] == '\t' || label[i] == '\n' || label[i] == '\r')
                   ? '_' : label[i];
    *p++ = '\n';
    put_lines(line, (size_t)(p - line));
    leave();
}

/* ---------- thread creation and exit ---------- */

static int (*real_create)(pthread_t *, const pthread_attr_t *, void *(*)(void *), void *);

/* The x line, in the last round of the thread's destructors (calls it makes after are not recorded). */
static void at_thread_exit(void *value)
{
    (void)value;
    pid_t me = ktid();
    lock_as(me);
    struct thread *t = thread_of(me);
    if (t && t->tid != 0) {
        if (++t->rounds < PTHREAD_DESTRUCTOR_ITERATIONS) {
            pthread_setspecific(exit_key, (void *)1); /* called again in the next round */
        } else {
            emit('x', t->tid, 1, 0, 0);
            if (last_tid == t->tid)
                last_tid = NO_TID;
            tids[t->tid].state = 2;
            if (tids[t->tid].detached) /* glibc releases its stack as it exits */
                write_joined(t->tid);
            drop_thread(t);
            hold_until_gone(me);
        }
    }
    unlock_as();
}

static void *start_thread(void *arg)
{
    struct start *s = arg;
    pid_t me = ktid();
    lock_as(me);
    if (!s->written)
        write_created(s);
    add_thread(me, s->tid);
    tids[s->tid].th = pthread_self();
    void *(*fn)(void *) = s->fn;
    void *fn_arg = s->arg;
    s->next = free_starts;
    free_starts = s;
    if (have_exit_key)
        pthread_setspecific(exit_key, (void *)1);
    unlock_as();
    return fn(fn_arg);
}

/* The highest module ID with thread-local storage (what sizes a new thread's DTV). */
static int count_tls(struct dl_phdr_info *info, size_t size, void *data)
{
    (void)size;
    if (info->dlpi_tls_modid > *(size_t *)data)
        *(size_t *)data = info->dlpi_tls_modid;
    return 0;
}

int pthread_create(pthread_t *th, const pthread_attr_t *attr, void *(*fn)(void *), void *arg)
{
    if (!real_create)
        real_create = (int (*)(pthread_t *, const pthread_attr_t *, void *(*)(void *), void *))dlsym(
            RTLD_NEXT, "pthread_create");
    size_t modules = 0;
    dl_iterate_phdr(count_tls, &modules);
    pid_t me = ktid();
    lock_as(me);
    struct thread *self = ready ? thread_of(me) : NULL;
    if (!self && ready && me == main_tid)
        self = add_thread(me, 0);
    unsigned tid = self && free_starts ? fresh_tid() : NO_TID;
    if (tid == NO_TID) {
        n_untracked_threads++; /* a thread of an unknown thread, or beyond the TIDs: not followed */
        unlock_as();
        return real_create(th, attr, fn, arg);
    }
    struct start *s = free_starts;
    free_starts = s->next;
    s->fn = fn;
    s->arg = arg;
    s->tid = tid;
    s->creator = self->tid;
    s->written = 0;
    self->creating = s;
    int detach = PTHREAD_CREATE_JOINABLE;
    if (attr)
        pthread_attr_getdetachstate(attr, &detach);
    tids[tid].state = 1;
    tids[tid].detached = detach == PTHREAD_CREATE_DETACHED;
    if (modules != header_tls)
        n_tls_threads++;
    unlock_as();
    int r = real_create(th, attr, start_thread, s);
    lock_as(me);
    self = thread_of(me);
    if (self)
        self->creating = NULL;
    if (r == 0) {
        if (!s->written)
            write_created(s);
        tids[tid].th = *th;
    } else {
        if (s->written) { /* glibc allocated for a thread it could not start */
            emit('x', tid, 1, 0, 0);
            if (last_tid == tid)
                last_tid = NO_TID;
            n_failed_create++;
        }
        tids[tid].state = 0;
        release_tid(tid);
        s->next = free_starts;
        free_starts = s;
    }
    unlock_as();
    return r;
}

/* The TID of a followed thread that has not been joined, or NO_TID. */
static unsigned tid_of(pthread_t th)
{
    for (unsigned t = 1; t < next_tid && tids; t++)
        if (tids[t].state && pthread_equal(tids[t].th, th))
            return t;
    return NO_TID;
}

/* After a successful join of `th` by this thread: the j line (and x, if it was not written). */
static void joined(pthread_t th)
{
    pid_t me = ktid();
    lock_as(me);
    unsigned tid = tid_of(th);
    if (tid != NO_TID) {
        struct thread *self = thread_of(me);
        if (self)
            switch_to(self->tid);
        if (tids[tid].state == 1) {
            emit('x', tid, 1, 0, 0);
            if (last_tid == tid)
                last_tid = NO_TID;
        }
        write_joined(tid);
    }
    unlock_as();
}

static int (*real_join)(pthread_t, void **);
static int (*real_tryjoin)(pthread_t, void **);
static int (*real_timedjoin)(pthread_t, void **, const struct timespec *);
static int (*real_detach)(pthread_t);

int pthread_join(pthread_t th, void **ret)
{
    if (!real_join)
        real_join = (int (*)(pthread_t, void **))dlsym(RTLD_NEXT, "pthread_join");
    int r = real_join(th, ret);
    if (r == 0)
        joined(th);
    return r;
}

int pthread_tryjoin_np(pthread_t th, void **ret)
{
    if (!real_tryjoin)
        real_tryjoin = (int (*)(pthread_t, void **))dlsym(RTLD_NEXT, "pthread_tryjoin_np");
    int r = real_tryjoin(th, ret);
    if (r == 0)
        joined(th);
    return r;
}

int pthread_timedjoin_np(pthread_t th, void **ret, const struct timespec *abstime)
{
    if (!real_timedjoin)
        real_timedjoin = (int (*)(pthread_t, void **, const struct timespec *))dlsym(RTLD_NEXT, "pthread_timedjoin_np");
    int r = real_timedjoin(th, ret, abstime);
    if (r == 0)
        joined(th);
    return r;
}

int pthread_detach(pthread_t th)
{
    if (!real_detach)
        real_detach = (int (*)(pthread_t))dlsym(RTLD_NEXT, "pthread_detach");
    pid_t me = ktid();
    lock_as(me);
    unsigned tid = tid_of(th);
    int r = real_detach(th);
    if (r == 0 && tid != NO_TID) {
        if (tids[tid].state == 2) { /* it has exited: glibc releases its stack now */
            struct thread *self = thread_of(me);
            if (self)
                switch_to(self->tid);
            write_joined(tid);
        } else {
            tids[tid].detached = 1;
        }
    }
    unlock_as();
    return r;
}

/* ---------- start, end, fork and exec ---------- */

/* The `# arch NAME` of the trace: what this library was compiled for (memlab.glibc.arch.ARCHES). */
#if defined(__x86_64__) && defined(__LP64__)
#define ARCH_NAME "x86-64"
#elif defined(__i386__)
#define ARCH_NAME "i386"
#else
#error "the recorder is built for x86-64 or i386 only"
#endif

static void header(void)
{
    char line[300], *p = line;
    p += put_s(p, "# memlab record: pid ");
    p += put_u(p, (unsigned long long)getpid());
    p += put_s(p, ", program ");
    ssize_t n = readlink("/proc/self/exe", p, 150);
    if (n > 0)
        p += n;
    *p++ = '\n';
    p += put_s(p, "# arch " ARCH_NAME "\n");
    p += put_s(p, "# cpus ");
    p += put_u(p, (unsigned long long)get_nprocs());
    *p++ = '\n';
    header_tls = 0;
    dl_iterate_phdr(count_tls, &header_tls);
    if (header_tls == 0)
        header_tls = 1;
    p += put_s(p, "# tls ");
    p += put_u(p, (unsigned long long)(header_tls ? header_tls : 1));
    *p++ = '\n';
    write_all(out_fd, line, (size_t)(p - line));
}

static void trailer(const char *label)
{
    char line[512], *p = line;
    p += put_s(p, "s ");
    p += put_s(p, label);
    p += put_s(p, "\n# memlab record: skipped ");
    p += put_u(p, n_unready);
    p += put_s(p, " calls before the recorder was ready, ");
    p += put_u(p, n_nested);
    p += put_s(p, " nested calls, ");
    p += put_u(p, n_unknown_free);
    p += put_s(p, " frees and ");
    p += put_u(p, n_unknown_realloc);
    p += put_s(p, " reallocs of unknown pointers; rewrote ");
    p += put_u(p, n_odd_mallopt);
    p += put_s(p, " other mallopt calls as o M_MXFAST; ");
    p += put_u(p, n_other_thread);
    p += put_s(p, " calls came from threads not started by pthread_create (or after their exit)\n");
    put_lines(line, (size_t)(p - line));
    p = line;
    p += put_s(p, "# memlab record: threads: ");
    p += put_u(p, n_for_create);
    p += put_s(p, " calls glibc made inside pthread_create (a replay makes them too), ");
    p += put_u(p, n_untracked_threads);
    p += put_s(p, " threads not followed, ");
    p += put_u(p, n_failed_create);
    p += put_s(p, " failed creations, ");
    p += put_u(p, n_tls_threads);
    p += put_s(p, " created with another number of modules with thread-local storage than the # tls line's, ");
    p += put_u(p, n_exit_waits_cut);
    p += put_s(p, " exits not awaited (over 1 s)\n");
    put_lines(line, (size_t)(p - line));
    /* the program's own heap state at this point, as glibc sums it over arenas */
    struct mallinfo2 mi = mallinfo2();
    const char *names[] = {"arena", "ordblks", "smblks", "hblks", "hblkhd", "usmblks", "fsmblks", "uordblks",
                           "fordblks", "keepcost"};
    size_t values[] = {mi.arena, mi.ordblks, mi.smblks, mi.hblks, mi.hblkhd, mi.usmblks, mi.fsmblks, mi.uordblks,
                       mi.fordblks, mi.keepcost};
    p = line;
    p += put_s(p, "# memlab record: mallinfo2 at ");
    p += put_s(p, label);
    p += put_s(p, " {");
    for (int i = 0; i < 10; i++) {
        p += put_s(p, i ? ", \"" : "\"");
        p += put_s(p, names[i]);
        p += put_s(p, "\": ");
        p += put_u(p, (unsigned long long)values[i]);
    }
    p += put_s(p, "}\n");
    put_lines(line, (size_t)(p - line));
}

__attribute__((constructor)) static void start(void)
{
    pid_t me = ktid();
    lock_as(me); /* calls made by dlsym are nested */
    real_trim = (int (*)(size_t))dlsym(RTLD_NEXT, "malloc_trim");
    real_fork = (pid_t(*)(void))dlsym(RTLD_NEXT, "fork");
    real_execvp = (int (*)(const char *, char *const[]))dlsym(RTLD_NEXT, "execvp");
    real_execvpe = (int (*)(const char *, char *const[], char *const[]))dlsym(RTLD_NEXT, "execvpe");
    real_create = (int (*)(pthread_t *, const pthread_attr_t *, void *(*)(void *), void *))dlsym(
        RTLD_NEXT, "pthread_create");
    have_exit_key = pthread_key_create(&exit_key, at_thread_exit) == 0;
    main_tid = me;
    if (!ready)
        setup();
    if (ready && !thread_of(me))
        add_thread(me, 0);
    if (out_fd < 0)
        open_output(); /* the header goes first, and is written at once */
    unlock_as();
}

static void finish(void)
{
    pid_t me = ktid();
    if (owner == me)
        return;
    lock_as(me);
    if (!finished) {
        finished = 1;
        struct thread *t = thread_of(me);
        if (t)
            switch_to(t->tid);
        trailer("exit");
    }
    unlock_as();
}

__attribute__((destructor)) static void stop(void) { finish(); }

void _exit(int status)
{
    finish();
    syscall(SYS_exit_group, status);
    for (;;)
        ;
}

pid_t fork(void)
{
    if (!real_fork)
        real_fork = (pid_t(*)(void))dlsym(RTLD_NEXT, "fork");
    pid_t me = ktid();
    lock_as(me);
    char parent[sizeof path_buf];
    memcpy(parent, path_buf, sizeof path_buf);
    pid_t pid = real_fork();
    if (pid == 0) {
        /* the forking thread goes on alone, under its own TID */
        struct thread *t = thread_of(me);
        unsigned tid = t ? t->tid : 0;
        if (t)
            drop_thread(t);
        main_tid = ktid();
        owner = main_tid;
        add_thread(main_tid, tid);
    }
    if (pid == 0 && out_fd >= 0) {
        /* the child's heap is a copy of its parent's: so is the start of its trace */
        close(out_fd);
        const char *base = getenv("MEMLAB_RECORD");
        out_fd = base ? claim(base, 0) : -1;
        int in = open(parent, O_RDONLY | O_CLOEXEC);
        if (out_fd >= 0 && in >= 0) {
            static char copy[1 << 16];
            ssize_t k;
            while ((k = read(in, copy, sizeof copy)) > 0)
                write_all(out_fd, copy, (size_t)k);
        }
        if (in >= 0)
            close(in);
        char line[100], *p = line;
        p += put_s(p, "# memlab record: forked child pid ");
        p += put_u(p, (unsigned long long)getpid());
        p += put_s(p, " continues from here\n");
        if (out_fd >= 0)
            write_all(out_fd, line, (size_t)(p - line));
    }
    unlock_as();
    return pid;
}

/* Before an exec replaces this program, write its end; the new image records afresh. */
static void before_exec(void)
{
    lock_as(ktid());
    trailer("exec");
    unlock_as();
}

int execve(const char *path, char *const argv[], char *const envp[])
{
    before_exec();
    return (int)syscall(SYS_execve, path, argv, envp);
}

int execv(const char *path, char *const argv[]) { return execve(path, argv, environ); }

int execvp(const char *file, char *const argv[])
{
    before_exec();
    if (!real_execvp) {
        errno = ENOSYS;
        return -1;
    }
    return real_execvp(file, argv);
}

int execvpe(const char *file, char *const argv[], char *const envp[])
{
    before_exec();
    if (!real_execvpe) {
        errno = ENOSYS;
        return -1;
    }
    return real_execvpe(file, argv, envp);
}
