/* SPDX-License-Identifier: MIT */
/*
 * The daemon's system-call filter (seccomp, via libseccomp): once the listeners are open and
 * privileges dropped, the calls a DNS resolver never needs fail with EPERM in every thread:
 * running programs (execve), tracing other processes, mounting, loading kernel modules or BPF,
 * changing users, capabilities, namespaces or the clock, rebooting. A parser bug an attacker
 * turns into code execution then cannot start a shell or escalate through them. The filter
 * also sets no_new_privs. It is a deny list, so libraries' ordinary calls (threads, sockets,
 * files, getrandom, TLS) are untouched; the whole test suite runs under it.
 */
#ifndef C2W_CORE_SANDBOX_H
#define C2W_CORE_SANDBOX_H

#include "core/err.h"

/**
 * Install the filter in every thread of the process (SECCOMP_FILTER_FLAG_TSYNC). Cannot be
 * undone. Calls the running kernel does not know are skipped.
 *
 * @return C2W_OK, C2W_ENOMEM, or the negative errno of the failed seccomp step
 */
C2W_NODISCARD int c2w_sandbox_lock(void);

/** How many system calls the filter denies on this kernel and architecture (for the log). */
unsigned c2w_sandbox_denied_count(void);

#endif
