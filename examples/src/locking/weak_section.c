/* TL103: a WEAK critical section that yields, next to a STRONG one that may. */
#include <internal/lock.h>

void wasip3_thread_yield(void);        /* a suspension point (profile) */

static int pending;
static int queued;
DECLARE_WEAK_LOCK(pending_lock, static);
DECLARE_STRONG_LOCK(queue_lock, static);

static void wait_turn(void) { wasip3_thread_yield(); }

void example_drain(void)
{
    WEAK_LOCK(pending_lock);
    while (pending > 0) {
        pending--;
        wait_turn();                   /* TL103: WEAK_LOCK is a no-op in the coop build */
    }
    WEAK_UNLOCK(pending_lock);
}

void example_drain_fixed(void)
{
    STRONG_LOCK(queue_lock);           /* clean: a real lock across the yield */
    while (queued > 0) {
        queued--;
        wait_turn();
    }
    STRONG_UNLOCK(queue_lock);
}
