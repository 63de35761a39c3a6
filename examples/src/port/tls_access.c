/* only: coop */
/* TL401: the TLS base set through an assembly wrapper (context.S). */
void __wasm_set_tls_base(void *tls);

void port_install_tls(void *tls) {
  __wasm_set_tls_base(tls);                 /* TL401 */
}

/* Clean look-alike: the builtin reads the TLS base in place. */
void *port_tls_base(void) { return __builtin_wasm_tls_base(); }
