/* only: coop */
/* TL201: a timed wait that gives up at once for any timeout. */
struct timespec { long long tv_sec; long tv_nsec; };
typedef struct { int lock; } port_mutex_t;
typedef struct { void *waiters; } port_cond_t;
#define ETIMEDOUT 73
#define EINVAL 28
void port_wait_on(void **list);
void port_mutex_unlock(port_mutex_t *m);
int port_mutex_lock(port_mutex_t *m);
int port_timedwait(void **list, const struct timespec *at);

int pthread_cond_timedwait(port_cond_t *restrict c, port_mutex_t *restrict m,
                           const struct timespec *restrict ts) {
  if (ts)
    return ETIMEDOUT;                       /* TL201 */
  port_mutex_unlock(m);
  port_wait_on(&c->waiters);
  return port_mutex_lock(m);
}

/* Clean look-alike: validates the timeout, then waits until it expires. */
int sem_timedwait(port_cond_t *restrict s, const struct timespec *restrict at) {
  if (at && at->tv_nsec >= 1000000000L)
    return EINVAL;
  return port_timedwait(&s->waiters, at);
}
