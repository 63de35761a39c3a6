/* only: coop */
# The thread-context ABI's accessor, out of line in assembly (see tls_access.c).
    .globl __wasm_set_tls_base
    .functype __ctx_set_1 (i32) -> ()
    .import_module __ctx_set_1, "$root"

__wasm_set_tls_base:
    .functype __wasm_set_tls_base (i32) -> ()
    local.get 0
    call __ctx_set_1
    end_function
