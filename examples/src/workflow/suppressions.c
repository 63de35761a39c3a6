/* TL001: a suppression that no longer matches a finding, next to one that does
 * (see docs/suppressions.md). */
#include <internal/lock.h>

static int counters[4];
DECLARE_STRONG_LOCK(counters_lock, static);

int example_bump_checked(int i)
{
    STRONG_LOCK(counters_lock);
    if (i < 0 || i >= 4)
        /* threadlint: ignore[TL104] callers abort on -1; the lock is never taken again */
        return -1;
    counters[i]++;
    STRONG_UNLOCK(counters_lock);
    return 0;
}

int example_bump(int i)
{
    STRONG_LOCK(counters_lock);
    /* threadlint: ignore[TL104] left over from an early return removed since: TL001 */
    counters[i & 3]++;
    STRONG_UNLOCK(counters_lock);
    return 0;
}
