/* Commits one heap misuse against the real glibc, described by its arguments.
 *
 * Each argument is one step (the same tiny language the Python side runs on the model):
 *   aID:N        p[ID] = malloc(N)
 *   cID:NM:SZ    p[ID] = calloc(NM, SZ)
 *   mID:AL:N     p[ID] = memalign(AL, N)
 *   fID          free(p[ID])
 *   FID:OFF      free((char *)p[ID] + OFF)          OFF may be negative
 *   rID:N        p[ID] = realloc(p[ID], N)
 *   RID:OFF:N    realloc((char *)p[ID] + OFF, N)      (result kept in p[63], unused)
 *   WID:OFF:VAL  store the 8-byte word VAL at (char *)p[ID] + OFF (arbitrary memory contents)
 *   oP:V         mallopt(P, V)
 *   CID:SRC      p[ID] = p[SRC]   (keep an old pointer, e.g. before a realloc moves the block)
 * glibc writes its abort message to stderr and raises SIGABRT; nothing else is printed, and
 * nothing here allocates behind the steps' back. Exit status 0 means no abort happened.
 */
#include <malloc.h>
#include <stdint.h>
#include <stdlib.h>

static void *p[64];

int main(int argc, char **argv)
{
    for (int i = 1; i < argc; i++) {
        char *s = argv[i];
        char kind = *s++;
        long v[3] = {0, 0, 0};
        for (int k = 0; k < 3 && *s; k++) {
            v[k] = strtol(s, &s, 0);
            if (*s == ':')
                s++;
        }
        char *q = p[v[0] & 63];
        switch (kind) {
        case 'a': p[v[0]] = malloc(v[1]); break;
        case 'c': p[v[0]] = calloc(v[1], v[2]); break;
        case 'm': p[v[0]] = memalign(v[1], v[2]); break;
        case 'f': free(q); break;
        case 'F': free(q + v[1]); break;
        case 'r': p[v[0]] = realloc(q, v[1]); break;
        case 'R': p[63] = realloc(q + v[1], v[2]); break;   /* p[63]: scratch */
        case 'W': *(uint64_t *)(q + v[1]) = (uint64_t)v[2]; break;
        case 'o': mallopt((int)v[0], (int)v[1]); break;
        case 'C': p[v[0]] = p[v[1] & 63]; break;
        default: return 2;
        }
    }
    return 0;
}
