/* only: coop */
  .functype __wasm_set_stack_pointer (i32) -> ()
  .functype __wasm_set_tls_base (i32) -> ()
  .functype malloc (i32) -> (i32)
  .functype __allocate_tls () -> (i32)
  .functype __copy_tls (i32) -> (i32)
  .functype task_main (i32) -> ()

# TL502 (allocation and TLS set-up in assembly) and TL501 (copy of __default_stacksize).
init_async_task:
  .functype init_async_task () -> ()
  i32.const 131072
  call malloc
  call __wasm_set_stack_pointer
  call __allocate_tls
  call __copy_tls
  call __wasm_set_tls_base
  end_function

# Clean look-alike: a trampoline, stack pointer then one call into C.
task_start:
  .functype task_start (i32, i32) -> ()
  local.get 0
  call __wasm_set_stack_pointer
  local.get 1
  call task_main
  end_function
