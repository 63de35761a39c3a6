# void __spin_lock(volatile int *l)
.global __spin_lock
__spin_lock:
1:	mov $1, %eax
	xchg %eax, (%rdi)
	test %eax, %eax
	jnz 1b
	ret
