/* SPDX-License-Identifier: MIT */
/*
 * Control server on the main libevent loop: unix stream socket, one request line in, one
 * response line out, commands from a registry. Connections are few and short (the CLI);
 * each holds one bufferevent.
 */
#include <event2/buffer.h>
#include <event2/bufferevent.h>
#include <event2/event.h>
#include <event2/listener.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <unistd.h>

#include "control/control.h"
#include "core/log.h"

#define COMMANDS_MAX 64

struct command {
	char *name;
	control_handler_cb cb;
	void *arg;
};

struct conn {
	struct control_server *srv;
	struct bufferevent *bev;
	struct conn *prev, *next;
	/* A command answering later (control_reply_defer()): the lines after it wait, reading
	 * is off (no idle timeout meanwhile) */
	struct control_pending *pending;
};

struct control_server {
	struct event_base *base;
	struct conn *conns; /* open connections, closed by control_server_free() */
	struct evconnlistener *listener;
	char *path;
	struct command commands[COMMANDS_MAX];
	size_t command_count;
};

struct control_reply {
	struct evbuffer *body;
	char error[512];
	control_done_cb done; /* NULL: the caller cannot wait */
	void *done_arg;
	struct control_pending *pending; /* set by control_reply_defer() */
};

struct control_pending {
	control_done_cb done; /* NULL once orphaned */
	void *done_arg;
	/* Still inside the handler's call: an answer given now is the call's own (@ret and
	 * @text kept until the call returns), not @done's. */
	bool in_call, finished;
	int ret;
	char text[1024];
};

struct control_pending *control_reply_defer(struct control_reply *reply)
{
	if (reply->done == NULL || reply->pending != NULL)
		return NULL;
	struct control_pending *p = calloc(1, sizeof(*p));
	if (p == NULL)
		return NULL;
	p->done = reply->done;
	p->done_arg = reply->done_arg;
	p->in_call = true;
	reply->pending = p;
	return p;
}

void control_pending_orphan(struct control_pending *p)
{
	if (p != NULL)
		p->done = NULL;
}

void control_pending_finish(struct control_pending *p, int ret, const char *text)
{
	if (p == NULL)
		return;
	if (p->in_call) {
		p->finished = true;
		p->ret = ret;
		snprintf(p->text, sizeof(p->text), "%s", text != NULL ? text : "");
		return;
	}
	if (p->done != NULL) {
		struct evbuffer *body = evbuffer_new();
		if (body == NULL) {
			p->done(p->done_arg, C2W_ENOMEM, NULL, c2w_strerror(C2W_ENOMEM));
		} else {
			if (ret == C2W_OK && text != NULL && text[0] != '\0')
				evbuffer_add(body, text, strlen(text));
			p->done(p->done_arg, ret, body,
				ret == C2W_OK ? NULL
					      : (text != NULL && text[0] ? text : c2w_strerror(ret)));
			evbuffer_free(body);
		}
	}
	free(p);
}

void control_reply_printf(struct control_reply *reply, const char *fmt, ...)
{
	va_list ap;
	va_start(ap, fmt);
	evbuffer_add_vprintf(reply->body, fmt, ap);
	va_end(ap);
}

void control_reply_error(struct control_reply *reply, const char *fmt, ...)
{
	va_list ap;
	va_start(ap, fmt);
	vsnprintf(reply->error, sizeof(reply->error), fmt, ap);
	va_end(ap);
}

void control_reply_json(struct control_reply *reply, const char *s)
{
	evbuffer_add(reply->body, "\"", 1);
	for (; *s != '\0'; s++) {
		unsigned char c = (unsigned char)*s;
		if (c == '"' || c == '\\')
			evbuffer_add_printf(reply->body, "\\%c", c);
		else if (c < 0x20 || c == 0x7f)
			evbuffer_add_printf(reply->body, "\\u%04x", c);
		else
			evbuffer_add(reply->body, s, 1);
	}
	evbuffer_add(reply->body, "\"", 1);
}

static int help_cb(void *arg, int argc, char **argv, struct control_reply *reply)
{
	struct control_server *srv = arg;
	(void)argc;
	(void)argv;
	control_reply_printf(reply, "[\"help\"");
	for (size_t i = 0; i < srv->command_count; i++)
		control_reply_printf(reply, ",\"%s\"", srv->commands[i].name);
	control_reply_printf(reply, "]");
	return C2W_OK;
}

int control_server_call(struct control_server *srv, int argc, char **argv, struct evbuffer *body,
			char *err, size_t err_len)
{
	return control_server_call_async(srv, argc, argv, body, err, err_len, NULL, NULL, NULL);
}

int control_server_call_async(struct control_server *srv, int argc, char **argv,
			      struct evbuffer *body, char *err, size_t err_len, control_done_cb done,
			      void *done_arg, struct control_pending **pending)
{
	struct control_reply reply = {.body = body, .done = done, .done_arg = done_arg};
	if (pending != NULL)
		*pending = NULL;
	if (err_len > 0)
		err[0] = '\0';
	if (strcmp(argv[0], "help") == 0)
		return help_cb(srv, argc, argv, &reply);
	for (size_t i = 0; i < srv->command_count; i++) {
		if (strcmp(argv[0], srv->commands[i].name) != 0)
			continue;
		int ret = srv->commands[i].cb(srv->commands[i].arg, argc, argv, &reply);
		struct control_pending *p = reply.pending;
		if (p != NULL && p->finished) { /* answered within the call: an answer now */
			ret = p->ret;
			if (ret == C2W_OK)
				evbuffer_add(body, p->text, strlen(p->text));
			else
				snprintf(reply.error, sizeof(reply.error), "%.*s",
					 (int)sizeof(reply.error) - 1, p->text);
			free(p);
		} else if (p != NULL) {
			/* deferred: the handler answers through the pending, whatever it returned */
			p->in_call = false;
			if (pending != NULL)
				*pending = p;
			return C2W_OK;
		}
		if (ret != C2W_OK)
			snprintf(err, err_len, "%s", reply.error[0] ? reply.error : c2w_strerror(ret));
		return ret;
	}
	snprintf(err, err_len, "unknown command (try \"help\")");
	return CONTROL_UNKNOWN;
}

/* One answer line: "error: TEXT", "ok", or the body with its newlines flattened. */
static void put_answer(struct evbuffer *out, int ret, struct evbuffer *body, const char *err)
{
	if (ret != C2W_OK) {
		evbuffer_add_printf(out, "error: %s\n", err != NULL ? err : c2w_strerror(ret));
	} else if (body == NULL || evbuffer_get_length(body) == 0) {
		evbuffer_add_printf(out, "ok\n");
	} else {
		/* One response line: a handler's newline must not split it. */
		size_t n = evbuffer_get_length(body);
		unsigned char *p = evbuffer_pullup(body, -1);
		for (size_t i = 0; p && i < n; i++)
			if (p[i] == '\n' || p[i] == '\r')
				p[i] = ' ';
		evbuffer_add_buffer(out, body);
		evbuffer_add(out, "\n", 1);
	}
}

static void read_cb(struct bufferevent *bev, void *arg);

/* The deferred command of a connection answered: write it, go on with the lines after it. */
static void conn_done(void *arg, int ret, struct evbuffer *body, const char *err)
{
	struct conn *c = arg;
	c->pending = NULL;
	struct evbuffer *out = bufferevent_get_output(c->bev);
	struct evbuffer *line = evbuffer_new();
	if (line == NULL) {
		put_answer(out, ret, body, err);
	} else {
		/* Sent at once when nothing is queued before it: the answer may come as the
		 * daemon stops, with no loop left to send it. The rest goes as usual. */
		put_answer(line, ret, body, err);
		size_t n = evbuffer_get_length(line);
		if (evbuffer_get_length(out) == 0) {
			ssize_t w = send(bufferevent_getfd(c->bev), evbuffer_pullup(line, -1), n,
					 MSG_DONTWAIT | MSG_NOSIGNAL);
			if (w > 0)
				evbuffer_drain(line, (size_t)w);
		}
		evbuffer_add_buffer(out, line);
		evbuffer_free(line);
	}
	bufferevent_enable(c->bev, EV_READ);
	read_cb(c->bev, c);
}

static void run_line(struct conn *c, const char *line, size_t len, struct evbuffer *out)
{
	struct control_server *srv = c->srv;
	char buf[CONTROL_LINE_MAX];
	char *argv[CONTROL_ARGS_MAX + 1];
	int argc = control_request_parse(line, len, buf, sizeof(buf), argv);
	if (argc < 0) {
		evbuffer_add_printf(out, "error: %s\n",
				    argc == C2W_ESPACE ? "request too long" : "malformed request");
		return;
	}
	struct evbuffer *body = evbuffer_new();
	if (body == NULL) {
		evbuffer_add_printf(out, "error: out of memory\n");
		return;
	}
	char err[512];
	int ret = control_server_call_async(srv, argc, argv, body, err, sizeof(err), conn_done, c,
					    &c->pending);
	if (c->pending == NULL)
		put_answer(out, ret, body, err);
	else /* the answer comes later: no reading (nor idle timeout) until then */
		bufferevent_disable(c->bev, EV_READ);
	evbuffer_free(body);
}

static void conn_close(struct conn *c)
{
	control_pending_orphan(c->pending);
	if (c->prev)
		c->prev->next = c->next;
	else
		c->srv->conns = c->next;
	if (c->next)
		c->next->prev = c->prev;
	bufferevent_free(c->bev);
	free(c);
}

static void write_done_cb(struct bufferevent *bev, void *arg)
{
	(void)bev;
	conn_close(arg);
}

static void read_cb(struct bufferevent *bev, void *arg)
{
	struct conn *c = arg;
	struct evbuffer *in = bufferevent_get_input(bev);
	struct evbuffer *out = bufferevent_get_output(bev);
	while (c->pending == NULL) {
		size_t len;
		char *line = evbuffer_readln(in, &len, EVBUFFER_EOL_LF);
		if (line == NULL)
			break;
		run_line(c, line, len, out);
		free(line);
	}
	if (c->pending == NULL && evbuffer_get_length(in) >= CONTROL_LINE_MAX) {
		evbuffer_add_printf(out, "error: request too long\n");
		evbuffer_drain(in, evbuffer_get_length(in));
		/* Close once the error went out. */
		bufferevent_setcb(bev, NULL, write_done_cb, NULL, c);
		bufferevent_disable(bev, EV_READ);
	}
}

static void event_cb(struct bufferevent *bev, short what, void *arg)
{
	struct conn *c = arg;
	if ((what & (BEV_EVENT_ERROR | BEV_EVENT_TIMEOUT)) ||
	    evbuffer_get_length(bufferevent_get_output(bev)) == 0) {
		conn_close(c);
		return;
	}
	/* EOF with a response still queued: send it, then free. */
	bufferevent_setcb(bev, NULL, write_done_cb, NULL, c);
}

static void accept_cb(struct evconnlistener *l, evutil_socket_t fd, struct sockaddr *sa,
		      int socklen, void *arg)
{
	struct control_server *srv = arg;
	(void)l;
	(void)sa;
	(void)socklen;
	struct conn *c = calloc(1, sizeof(*c));
	struct bufferevent *bev =
	    c ? bufferevent_socket_new(srv->base, fd, BEV_OPT_CLOSE_ON_FREE) : NULL;
	if (bev == NULL) {
		free(c);
		close(fd);
		return;
	}
	c->srv = srv;
	c->bev = bev;
	c->next = srv->conns;
	if (srv->conns)
		srv->conns->prev = c;
	srv->conns = c;
	struct timeval tv = {10, 0}; /* idle clients do not pin a connection forever */
	bufferevent_set_timeouts(bev, &tv, &tv);
	bufferevent_setcb(bev, read_cb, NULL, event_cb, c);
	bufferevent_enable(bev, EV_READ | EV_WRITE);
}

int control_server_new(struct event_base *base, const char *path, struct control_server **out)
{
	struct sockaddr_un sun = {.sun_family = AF_UNIX};
	if (path != NULL && strlen(path) >= sizeof(sun.sun_path))
		return C2W_EINVAL;
	struct control_server *srv = calloc(1, sizeof(*srv));
	if (srv == NULL || (path != NULL && (srv->path = strdup(path)) == NULL)) {
		free(srv);
		return C2W_ENOMEM;
	}
	srv->base = base;
	if (path == NULL) { /* the registry alone, for the HTTP API */
		*out = srv;
		return C2W_OK;
	}
	memcpy(sun.sun_path, path, strlen(path) + 1);
	struct stat st;
	if (lstat(path, &st) == 0 && S_ISSOCK(st.st_mode))
		unlink(path); /* stale socket of a previous run */
	mode_t old = umask(0117);
	srv->listener = evconnlistener_new_bind(base, accept_cb, srv,
						LEV_OPT_CLOSE_ON_FREE | LEV_OPT_CLOSE_ON_EXEC, 16,
						(struct sockaddr *)&sun, sizeof(sun));
	int err = errno;
	umask(old);
	if (srv->listener == NULL) {
		c2w_log_err("control: cannot listen on %s: %s", path, c2w_strerror(-err));
		free(srv->path);
		free(srv);
		return err ? -err : C2W_EIO;
	}
	*out = srv;
	return C2W_OK;
}

void control_server_free(struct control_server *srv)
{
	if (srv == NULL)
		return;
	while (srv->conns)
		conn_close(srv->conns);
	if (srv->listener != NULL) {
		evconnlistener_free(srv->listener);
		unlink(srv->path);
	}
	for (size_t i = 0; i < srv->command_count; i++)
		free(srv->commands[i].name);
	free(srv->path);
	free(srv);
}

int control_server_register(struct control_server *srv, const char *name, control_handler_cb cb,
			    void *arg)
{
	if (strcmp(name, "help") == 0)
		return C2W_EEXIST;
	for (size_t i = 0; i < srv->command_count; i++)
		if (strcmp(srv->commands[i].name, name) == 0)
			return C2W_EEXIST;
	if (srv->command_count == COMMANDS_MAX)
		return C2W_EFULL;
	char *copy = strdup(name);
	if (copy == NULL)
		return C2W_ENOMEM;
	srv->commands[srv->command_count++] = (struct command){copy, cb, arg};
	return C2W_OK;
}
