/* only: coop */
/* The C side of task.S: the stack size and the TLS set-up it calls. */
unsigned __default_stacksize = 131072;
void *malloc(unsigned long n);
void *__copy_tls(void *mem) { return mem; }
void *__allocate_tls(void) { return malloc(64); }
void task_main(void *arg) { (void)arg; }
