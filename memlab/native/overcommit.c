/* overcommit: ask this machine's kernel, through glibc, for large blocks of
 * memory and say which requests it grants.  The probe only reserves: it never
 * writes a byte of what it gets, so nothing becomes resident and it is safe to
 * run anywhere (a shared server, a Binder container).
 *
 *   overcommit malloc SIZE ...          one malloc(SIZE) each, freed at once
 *   overcommit realloc STEP TARGET ...  grow one block by STEP with realloc
 *                                       until it holds TARGET bytes or fails
 *
 * One JSON line per request on stdout:
 *   {"call": "malloc", "size": S, "ok": 1}
 *   {"call": "realloc", "step": S, "target": T, "reached": R, "ok": 1}
 * `reached` is the size of the last realloc (or first malloc) that succeeded.
 * Exit status 2 and a one-line message on stderr for bad arguments.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static int size_arg(const char *text, unsigned long long *out)
{
    char *end;
    errno = 0;
    unsigned long long v = strtoull(text, &end, 0);
    if (errno || end == text || *end || text[0] == '-')
        return -1;
    *out = v;
    return 0;
}

static void probe_malloc(unsigned long long size)
{
    void *p = malloc((size_t)size);
    printf("{\"call\": \"malloc\", \"size\": %llu, \"ok\": %d}\n", size, p != NULL);
    free(p);
}

static void probe_realloc(unsigned long long step, unsigned long long target)
{
    unsigned long long reached = 0;
    void *p = NULL;
    while (reached < target) {
        unsigned long long next = reached + step < target ? reached + step : target;
        void *q = realloc(p, (size_t)next);
        if (q == NULL)
            break;
        p = q;
        reached = next;
    }
    printf("{\"call\": \"realloc\", \"step\": %llu, \"target\": %llu, \"reached\": %llu, \"ok\": %d}\n",
           step, target, reached, reached == target);
    free(p);
}

int main(int argc, char **argv)
{
    int i = 1;
    while (i < argc) {
        unsigned long long a, b;
        if (strcmp(argv[i], "malloc") == 0 && i + 1 < argc && size_arg(argv[i + 1], &a) == 0) {
            probe_malloc(a);
            i += 2;
        } else if (strcmp(argv[i], "realloc") == 0 && i + 2 < argc && size_arg(argv[i + 1], &a) == 0
                   && size_arg(argv[i + 2], &b) == 0 && a > 0) {
            probe_realloc(a, b);
            i += 3;
        } else {
            fprintf(stderr, "overcommit: argument %d: expected `malloc SIZE` or `realloc STEP TARGET`, got %s\n",
                    i, argv[i]);
            return 2;
        }
        fflush(stdout);
    }
    return 0;
}
