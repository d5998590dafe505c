/* tls_module: a library with thread-local storage and nothing else.
 *
 * A thread's DTV (glibc's table of its TLS blocks) has room for the highest module ID with
 * thread-local storage, and glibc callocs it in the creating thread's arena.  A trace
 * recorded from a program with M such modules says `# tls M`; the replayer, whose only one
 * is libc, is started with M - 1 copies of this library preloaded, so that its threads'
 * DTVs are the program's size.  Loaded at start-up, it allocates nothing on the heap.
 */
__thread char memlab_tls_module;
