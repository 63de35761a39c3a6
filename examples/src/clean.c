/* A file every rule should leave alone. */
int example_add(int a, int b) { return a + b; }
