/* only: none */
/* TL701: built by no configuration, next to the built impl-coop/yield_impl.c. */
int port_yield(void) { return 1; }
