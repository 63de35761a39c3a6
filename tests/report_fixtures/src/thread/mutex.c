/* Mutex implementation for the port — “fast path” first. */
#include <pthread.h>
#include "lock.h"

static volatile int big_lock;
static pthread_mutex_t global_mutex;

int __pthread_mutex_lock(pthread_mutex_t *m)
{
	if (m->_m_type == PTHREAD_MUTEX_NORMAL) {
		if (a_cas(&m->_m_lock, 0, EBUSY) == 0)
			return 0;
	}
	return __pthread_mutex_timedlock(m, 0);
}

int __pthread_mutex_unlock(pthread_mutex_t *m)
{
	__spin_unlock(&m->_m_lock);
	return 0;
}

static void take_global(void)
{
	__pthread_mutex_lock(&global_mutex);
}

void __lock_all(void)
{
	__spin_lock(&big_lock);
	take_global();
	__spin_unlock(&big_lock);
}

void __fork_handler(int who)
{
	if (who == 0)
		__pthread_mutex_lock(&global_mutex);
	else
		__pthread_mutex_unlock(&global_mutex);
}

#define LOCK_BOTH(a, b) do { \
	__spin_lock(a); \
	__pthread_mutex_lock(b); \
} while (0)
