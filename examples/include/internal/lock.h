/* Test stand-in with the same macro vocabulary as wasi-libc's internal/lock.h. */
#ifndef LOCK_H
#define LOCK_H
#include <wasi/version.h>
#define hidden __attribute__((__visibility__("hidden")))

#ifdef __wasi_cooperative_threads__
struct __waitlist_node;
struct __coop_lock { int owner; struct __waitlist_node *waiters; };
#define DECLARE_STRONG_LOCK(name, ...) __VA_ARGS__ struct __coop_lock name
#define DECLARE_WEAK_LOCK(name, ...)
hidden void __lock(struct __coop_lock *lock);
hidden void __unlock(struct __coop_lock *lock);
#define STRONG_LOCK(x) __lock(&x)
#define STRONG_UNLOCK(x) __unlock(&x)
#define WEAK_LOCK(x) ((void)0)
#define WEAK_UNLOCK(x) ((void)0)
#elif defined(_REENTRANT)
#define DECLARE_STRONG_LOCK(name, ...) __VA_ARGS__ volatile int name
#define DECLARE_WEAK_LOCK(name, ...) __VA_ARGS__ volatile int name
hidden void __lock(volatile int *);
hidden void __unlock(volatile int *);
#define STRONG_LOCK(x) __lock(&x)
#define STRONG_UNLOCK(x) __unlock(&x)
#define WEAK_LOCK(x) __lock(&x)
#define WEAK_UNLOCK(x) __unlock(&x)
#else
#define DECLARE_STRONG_LOCK(name, ...)
#define DECLARE_WEAK_LOCK(name, ...)
#define STRONG_LOCK(x) ((void)0)
#define STRONG_UNLOCK(x) ((void)0)
#define WEAK_LOCK(x) ((void)0)
#define WEAK_UNLOCK(x) ((void)0)
#endif
#endif
