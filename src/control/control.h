/* SPDX-License-Identifier: MIT */
/*
 * The control socket: a unix stream socket on the daemon's main libevent base. Protocol, one
 * request per line, one response line per request (docs/privacy.md, "Control socket"):
 *
 *   request  := command *(SP argument) LF      (at most 4096 bytes, at most 16 words)
 *   response := "ok" LF | JSON LF | "error: " text LF
 *
 * Commands come from a handler registry: the daemon registers "reload", "stats", ...;
 * control_optout_register() adds "optout add|remove|list". Clients (the CLI) use
 * control_client_call(). The socket is created mode 0660; a stale socket file is replaced.
 */
#ifndef C2W_CONTROL_CONTROL_H
#define C2W_CONTROL_CONTROL_H

#include <stdbool.h>
#include <stddef.h>
#include <stdio.h>

#include "core/err.h"

#define CONTROL_LINE_MAX 4096
#define CONTROL_ARGS_MAX 16

struct event_base;
struct evbuffer;
struct control_server;
struct control_reply;
struct events_optout;
struct events_pipeline;
struct policy_snap;

/**
 * A command handler, run on the main loop's thread.
 *
 * @param arg    the pointer given at registration
 * @param argc   words in the request, argv[0] is the command name
 * @param argv   the words, valid for the call
 * @param reply  where to write the response body (control_reply_printf); if the handler
 *               writes nothing and returns C2W_OK the server answers "ok"
 * @return C2W_OK, or an error: the server answers "error: " + the text set with
 *         control_reply_error() or else c2w_strerror(return value)
 */
typedef int (*control_handler_cb)(void *arg, int argc, char **argv, struct control_reply *reply);

/**
 * Listen on @path (a stale socket file is removed first); @path NULL makes the command
 * registry alone (no socket), for the HTTP API when control.socket is none.
 *
 * @param base  the daemon's main event_base, borrowed until _free
 * @return C2W_OK, C2W_EINVAL (path too long), negative errno
 */
C2W_NODISCARD int control_server_new(struct event_base *base, const char *path,
				     struct control_server **out);

/** Close every connection and the socket, unlink the path; NULL does nothing. */
void control_server_free(struct control_server *srv);

/**
 * Register a command. "help" is built in (lists commands).
 *
 * @param name  command word, copied
 * @return C2W_OK, C2W_EEXIST, C2W_EFULL (64 commands), C2W_ENOMEM
 */
C2W_NODISCARD int control_server_register(struct control_server *srv, const char *name,
					  control_handler_cb cb, void *arg);

/* control_server_call() for a command nobody registered (distinct from handlers' codes). */
#define CONTROL_UNKNOWN (C2W_ENOENT - 100000)

/**
 * Run one command as the socket would (the HTTP API calls this: one implementation for the
 * CLI and the API). Main loop's thread.
 *
 * @param argv  argc words, argv[0] the command; borrowed for the call
 * @param body  out: the handler's response body is appended (empty: plain "ok")
 * @param err   out: the error text when the return is not C2W_OK
 * @return the handler's return, or CONTROL_UNKNOWN when no such command is registered
 */
C2W_NODISCARD int control_server_call(struct control_server *srv, int argc, char **argv,
				      struct evbuffer *body, char *err, size_t err_len);

/* ---- answers given later --------------------------------------------------------------------
 * A handler whose work runs elsewhere (a reload compiles on its own thread) answers later:
 * control_reply_defer() in the handler, control_pending_finish() once the work is done. The
 * caller (the socket, the HTTP API) says how it takes that answer; a caller that cannot wait
 * gets NULL from control_reply_defer() and the handler answers at once. */
struct control_pending;

/**
 * The deferred answer reaches its caller, on the main loop's thread.
 * @param ret   C2W_OK, or the error (@err its text)
 * @param body  the response body (empty: plain "ok"); borrowed for the call
 */
typedef void (*control_done_cb)(void *arg, int ret, struct evbuffer *body, const char *err);

/**
 * control_server_call() for a caller that can wait: when the handler defers, the call
 * returns C2W_OK with *@pending set, and @done runs once with the answer (later, never
 * inside this call). If the caller goes away first it calls control_pending_orphan().
 */
C2W_NODISCARD int control_server_call_async(struct control_server *srv, int argc, char **argv,
					    struct evbuffer *body, char *err, size_t err_len,
					    control_done_cb done, void *done_arg,
					    struct control_pending **pending);

/**
 * In a handler: the answer comes later, through control_pending_finish() (exactly once); the
 * handler then returns C2W_OK and writes nothing now. @return NULL when the caller cannot
 * wait (or memory is short): answer now as usual
 */
struct control_pending *control_reply_defer(struct control_reply *reply);

/**
 * The deferred answer: @ret C2W_OK with @text the body ("" or NULL: "ok"), or an error with
 * @text its message. Frees @p. Main loop's thread.
 */
void control_pending_finish(struct control_pending *p, int ret, const char *text);

/** The caller of a deferred command is gone: the answer, when it comes, goes nowhere. */
void control_pending_orphan(struct control_pending *p);

/** Append to the response body (one line; the server adds the final LF). */
void control_reply_printf(struct control_reply *reply, const char *fmt, ...) C2W_PRINTF(2, 3);

/** Set the error text for a failing handler. */
void control_reply_error(struct control_reply *reply, const char *fmt, ...) C2W_PRINTF(2, 3);

/** Append @s as a JSON string (quoted; '"', '\\' and control bytes escaped). */
void control_reply_json(struct control_reply *reply, const char *s);

/**
 * Register "explain NAME [TYPE]": the rules of the policy in force that match, as JSON.
 * @param snapp  where the daemon keeps its snapshot pointer (read at each call, main thread;
 *               *snapp may be NULL: no policy); borrowed until _free
 */
C2W_NODISCARD int control_explain_register(struct control_server *srv,
					   const struct policy_snap *const *snapp);

/**
 * Register "incidents list [SINCE] | mark-notified ID": the incident store at @path (opened per
 * request on the main thread, beside the event thread's writer). "list" answers the JSON
 * export (pseudonyms and subscriber ids, never raw addresses); SINCE is YYYY-MM-DD or "-",
 * an optional third word "unnotified" keeps the ones not yet notified.
 * @param path  borrowed until _free
 */
C2W_NODISCARD int control_incidents_register(struct control_server *srv, const char *path);

/** Register "optout add PREFIX | remove PREFIX | list" over @reg (borrowed until _free). */
C2W_NODISCARD int control_optout_register(struct control_server *srv, struct events_optout *reg);

/** Register "events" (counters as JSON) over @p (borrowed until _free). */
C2W_NODISCARD int control_events_register(struct control_server *srv, struct events_pipeline *p);

/**
 * Split one request line into words (in place in @buf). Pure; fuzzed.
 *
 * @param line  request bytes without the LF; may contain anything
 * @param buf   caller's buffer of @cap bytes (>= len + 1) that receives the words
 * @param argv  out: CONTROL_ARGS_MAX + 1 slots, NULL-terminated
 * @return word count (>= 1), or C2W_EMALF (empty, NUL or control bytes, too many words),
 *         C2W_ESPACE (too long)
 */
C2W_NODISCARD int control_request_parse(const char *line, size_t len, char *buf, size_t cap,
					char **argv);

/**
 * Client side: connect to @path, send @request (a line without LF), read one response line.
 *
 * @param resp     out: the response without LF
 * @param timeout_ms  for connect+send+receive
 * @return C2W_OK (check @resp for "error: "), C2W_ENOENT or -ECONNREFUSED when no daemon
 *         listens, C2W_ETIMEDOUT, C2W_ESPACE, negative errno
 */
C2W_NODISCARD int control_client_call(const char *path, const char *request, char *resp,
				      size_t resp_cap, unsigned timeout_ms);

#endif
