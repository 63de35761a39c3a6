/* TL102: a STRONG lock taken with WEAK macros, next to one taken right. */
#include <internal/lock.h>

static int handlers;
static int removed;
DECLARE_STRONG_LOCK(handlers_lock, static);

void example_register_handler(void)
{
    WEAK_LOCK(handlers_lock);          /* TL102: declared STRONG */
    handlers++;
    WEAK_UNLOCK(handlers_lock);
}

void example_unregister_handler(void)
{
    STRONG_LOCK(handlers_lock);        /* clean: the declared kind */
    removed++;
    STRONG_UNLOCK(handlers_lock);
}
