/* TL601: keyed on _REENTRANT, so wasip1-threads gets the cooperative thread index. */
#include <wasi/version.h>
unsigned wasip3_thread_index(void);
struct owner { int tid; };

int port_owner_check(struct owner *o) {
#ifdef _REENTRANT
  int tid = wasip3_thread_index();          /* TL601 in the threads build */
#else
  int tid = 1;
#endif
  return o->tid == tid;
}

/* Clean look-alike: keyed on the cooperative-threads macro. */
int port_owner_check_ok(struct owner *o) {
#ifdef __wasi_cooperative_threads__
  int tid = wasip3_thread_index();
#else
  int tid = 1;
#endif
  return o->tid == tid;
}
