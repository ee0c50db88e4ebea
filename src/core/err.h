/* SPDX-License-Identifier: MIT */
/*
 * One list of error codes for all of c2wall. System errors are negative errno values;
 * c2wall's own codes start at -1000. An RCODE is an answer, not an error: parsers return
 * C2W_EMALF and the worker maps it to FORMERR in one place.
 */
#ifndef C2W_CORE_ERR_H
#define C2W_CORE_ERR_H

#include <errno.h>

#if defined(__GNUC__)
#define C2W_NODISCARD __attribute__((warn_unused_result))
#define C2W_PRINTF(a, b) __attribute__((format(printf, a, b)))
#define C2W_UNUSED __attribute__((unused))
#else
#define C2W_NODISCARD
#define C2W_PRINTF(a, b)
#define C2W_UNUSED
#endif

/* X(name, value, text): the one list. Add new codes at the end of their group. */
#define C2W_ERR_LIST(X)                                                                            \
	X(C2W_OK, 0, "success")                                                                    \
	X(C2W_ENOMEM, -ENOMEM, "out of memory")                                                    \
	X(C2W_EINVAL, -EINVAL, "invalid argument")                                                 \
	X(C2W_ENOENT, -ENOENT, "not found")                                                        \
	X(C2W_EEXIST, -EEXIST, "already exists")                                                   \
	X(C2W_EAGAIN, -EAGAIN, "try again")                                                        \
	X(C2W_EIO, -EIO, "input/output error")                                                     \
	X(C2W_EACCES, -EACCES, "permission denied")                                                \
	X(C2W_ERANGE, -ERANGE, "out of range")                                                     \
	X(C2W_ENOSPC, -ENOSPC, "no space left on device")                                          \
	X(C2W_ETIMEDOUT, -ETIMEDOUT, "timed out")                                                  \
	X(C2W_EMALF, -1000, "malformed input")                                                     \
	X(C2W_ESPACE, -1001, "not enough space in buffer")                                         \
	X(C2W_ESHORT, -1002, "input too short")                                                    \
	X(C2W_ELOOP, -1003, "compression pointer loop")                                            \
	X(C2W_ELABEL, -1004, "label too long")                                                     \
	X(C2W_ENAME, -1005, "name too long")                                                       \
	X(C2W_ECONFIG, -1006, "configuration error")                                               \
	X(C2W_EFEED, -1007, "feed error")                                                          \
	X(C2W_EUPSTREAM, -1008, "upstream resolution failed")                                      \
	X(C2W_ECHECKSUM, -1009, "checksum mismatch")                                               \
	X(C2W_EVERSION, -1010, "unsupported version")                                              \
	X(C2W_EFULL, -1011, "queue or table full")                                                 \
	X(C2W_ESTORE, -1012, "store error")                                                        \
	X(C2W_EPROTECTED, -1013, "policy would block a protected name")                            \
	X(C2W_EIGNORE, -1014, "ignored")                                                           \
	X(C2W_ETSIG, -1100, "TSIG verification failed")                                           \
	X(C2W_EXFR, -1101, "zone transfer failed")                                                 \
	X(C2W_ESERIAL, -1102, "zone serial went backwards")

enum c2w_err {
#define C2W_ERR_ENUM(name, value, text) name = (value),
	C2W_ERR_LIST(C2W_ERR_ENUM)
#undef C2W_ERR_ENUM
};

/**
 * Describe an error code.
 *
 * @param err  a c2w error code or a negative errno value
 * @return static string, never NULL; for unknown negative errno values the system text
 */
const char *c2w_strerror(int err);

#endif
