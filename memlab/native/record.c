/* record: an LD_PRELOAD library that writes every malloc-family call of a
 * program as a memlab trace (TRACE-FORMAT.md).
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
 * A program can mark stages of its run with `s LABEL` lines: see memlab_snapshot.
 */
#define _GNU_SOURCE
#include <dlfcn.h>
#include <errno.h>
#include <fcntl.h>
#include <malloc.h>
#include <sched.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/syscall.h>
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
static __thread int busy __attribute__((tls_model("initial-exec")));
static pid_t main_tid;

static void lock(void)
{
    while (__atomic_exchange_n(&lock_word, 1, __ATOMIC_ACQUIRE))
        sched_yield();
}

static void unlock(void) { __atomic_store_n(&lock_word, 0, __ATOMIC_RELEASE); }

/* ---------- counts of what could not be recorded ---------- */

static unsigned long n_unready, n_nested, n_unknown_free, n_unknown_realloc, n_odd_mallopt, n_other_thread;

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

static int setup(void)
{
    table_cap = 1 << 16;
    table = new_table(table_cap);
    free_cap = 1 << 16;
    void *m = mmap(NULL, free_cap * sizeof(uint64_t), PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
    if (!table || m == MAP_FAILED)
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

/* Return 1 if this call is to be recorded (then the lock is held). */
static int enter(void)
{
    if (busy) {
        n_nested++;
        return 0;
    }
    busy = 1;
    lock();
    if (!ready && !setup()) {
        n_unready++;
        unlock();
        busy = 0;
        return 0;
    }
    if (main_tid && (pid_t)syscall(SYS_gettid) != main_tid)
        n_other_thread++;
    return 1;
}

static void leave(void)
{
    unlock();
    busy = 0;
}

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
    if (!enter())
        return __libc_malloc(n);
    void *p = __libc_malloc(n);
    allocated(p, 'a', n, 1, 0);
    leave();
    return p;
}

void free(void *p)
{
    if (!p || !enter()) {
        __libc_free(p);
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
    if (!enter())
        return __libc_calloc(k, n);
    void *p = __libc_calloc(k, n);
    allocated(p, 'c', k, 2, n);
    leave();
    return p;
}

void *realloc(void *old, size_t n)
{
    if (!enter())
        return __libc_realloc(old, n);
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
    if (!enter())
        return __libc_memalign(align, n);
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
    if (!enter())
        return real_trim ? real_trim(pad) : 0;
    int r = real_trim ? real_trim(pad) : 0;
    emit('t', pad, 1, 0, 0);
    leave();
    return r;
}

int mallopt(int param, int value)
{
    if (!enter())
        return __libc_mallopt(param, value);
    int r = __libc_mallopt(param, value);
    char line[200], *p = line;
    if (param == M_MXFAST || param == M_TRIM_THRESHOLD || param == M_TOP_PAD || param == M_MMAP_THRESHOLD ||
        param == M_MMAP_MAX) {
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
    if (!enter())
        return;
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

/* ---------- start, end, fork and exec ---------- */

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
    p += put_s(p, " calls came from other threads (other arenas)\n");
    put_lines(line, (size_t)(p - line));
}

__attribute__((constructor)) static void start(void)
{
    busy = 1;
    real_trim = (int (*)(size_t))dlsym(RTLD_NEXT, "malloc_trim");
    real_fork = (pid_t(*)(void))dlsym(RTLD_NEXT, "fork");
    real_execvp = (int (*)(const char *, char *const[]))dlsym(RTLD_NEXT, "execvp");
    real_execvpe = (int (*)(const char *, char *const[], char *const[]))dlsym(RTLD_NEXT, "execvpe");
    busy = 0;
    lock();
    main_tid = (pid_t)syscall(SYS_gettid);
    if (!ready)
        setup();
    if (out_fd < 0)
        open_output(); /* the header goes first, and is written at once */
    unlock();
}

static void finish(void)
{
    lock();
    if (!finished) {
        finished = 1;
        trailer("exit");
    }
    unlock();
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
    lock();
    char parent[sizeof path_buf];
    memcpy(parent, path_buf, sizeof path_buf);
    pid_t pid = real_fork();
    if (pid == 0 && out_fd >= 0) {
        /* the child's heap is a copy of its parent's: so is the start of its trace */
        close(out_fd);
        main_tid = (pid_t)syscall(SYS_gettid);
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
    unlock();
    return pid;
}

/* Before an exec replaces this program, write its end; the new image records afresh. */
static void before_exec(void)
{
    lock();
    trailer("exec");
    unlock();
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
