/* TL101: a descriptor borrowed before a wait and used after it, next to the
 * version that borrows it again after the wait. */
#include <internal/lock.h>
#include <stddef.h>

typedef struct { void *data; int flags; } descriptor_table_entry_t;
descriptor_table_entry_t *descriptor_table_get_ref(int fd);
void wasip3_waitable_set_wait(unsigned set, void *event);   /* a suspension point */

DECLARE_STRONG_LOCK(example_lock, static);

static void wait_ready(unsigned set) { wasip3_waitable_set_wait(set, NULL); }

int example_flags_after_wait(int fd)
{
    descriptor_table_entry_t *entry = descriptor_table_get_ref(fd);
    if (!entry)
        return -1;
    wait_ready(0);
    return entry->flags;               /* TL101: fd may have been closed meanwhile */
}

int example_flags_after_wait_fixed(int fd)
{
    wait_ready(0);
    descriptor_table_entry_t *entry = descriptor_table_get_ref(fd);
    return entry ? entry->flags : -1;
}

void example_touch(void)
{
    STRONG_LOCK(example_lock);
    STRONG_UNLOCK(example_lock);
}
