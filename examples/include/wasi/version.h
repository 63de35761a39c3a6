/* Test stand-in for wasi-libc's generated wasi/version.h. */
#ifndef _WASI_VERSION_H
#define _WASI_VERSION_H
#if defined(__wasm32__) && defined(__wasi__)
#ifdef __wasm_libcall_thread_context__
#define __wasi_cooperative_threads__ 1
#endif
#endif
#endif
