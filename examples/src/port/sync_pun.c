/* only: coop */
/* TL301: the C11 mutex punned as a POSIX mutex. */
typedef struct { int _m_type, _m_lock, _m_count; void *_m_waiters; } mtx_t;
typedef struct { int __i[6]; } pthread_mutex_t;
int __pthread_mutex_unlock(pthread_mutex_t *m);
int __mtx_release(mtx_t *m);

int mtx_unlock(mtx_t *m) {
  return __pthread_mutex_unlock((pthread_mutex_t *)m);   /* TL301 */
}

/* Clean look-alike: the C11 type goes to a function that takes it. */
int mtx_unlock_direct(mtx_t *m) { return __mtx_release((mtx_t *)m); }
