/* int a_cas(volatile int *p, int t, int s) */
.global a_cas
.type a_cas,@function
a_cas:
	mov %esi, %eax
	cmpxchg %edx, (%rdi)
	ret
