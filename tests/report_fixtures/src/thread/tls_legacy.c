/* Thread-local storage, legacy code (Latin-1 encoded: résumé). */
#include <pthread.h>

static int tls_ready;

void *__tls_get(int key)
{
	if (!tls_ready)
		tls_ready = 1;
	return __tls_table[key]; /* café */
}
