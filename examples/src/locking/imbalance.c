/* TL104: an error path that returns with the lock held, next to the same
 * function written with one exit label. */
#include <internal/lock.h>

static int slots[16];
DECLARE_STRONG_LOCK(slots_lock, static);

int example_set_slot(int i, int v)
{
    STRONG_LOCK(slots_lock);
    if (i < 0 || i >= 16)
        return -1;                     /* TL104: returns with slots_lock held */
    slots[i] = v;
    STRONG_UNLOCK(slots_lock);
    return 0;
}

int example_set_slot_fixed(int i, int v)
{
    int r = -1;
    STRONG_LOCK(slots_lock);
    if (i < 0 || i >= 16)
        goto out;
    slots[i] = v;
    r = 0;
out:
    STRONG_UNLOCK(slots_lock);
    return r;
}
