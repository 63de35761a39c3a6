#include <pthread.h>
#include "lock.h"

int pthread_cond_signal(pthread_cond_t *c)
{
    if (!c->_c_waiters)
        return 0;
    c->_c_seq++;
    __wake(&c->_c_seq, 1, 0);
    return 0;
}

int pthread_cond_wait(pthread_cond_t *c, pthread_mutex_t *m)
{
    int seq = c->_c_seq;
    pthread_mutex_unlock(m);
    __wait(&c->_c_seq, 0, seq, 0);
    return pthread_mutex_lock(m);
}
