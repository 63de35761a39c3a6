/* only: threads */
int port_spin(void) { return 0; }
