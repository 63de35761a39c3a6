/* only: coop */
/* The built implementation (clean); impl-threads/yield_impl.c is its stray twin. */
int port_yield(void) { return 0; }
