/*
 * http.c - the node's HTTP endpoints (see http.h), on libevent's evhttp in
 * the daemon's one loop: no thread, and nothing here ever waits.
 *
 * What must stay true:
 *
 * - Read-only.  Every answer comes from what the FUSE side already offers
 *   (the status and metrics texts of control.c, the events fed to
 *   control_event(), the ordinary list and stat calls of the node service
 *   through core/walk.h), so the two can never tell different stories.
 * - A client never costs the FUSE side more than bounded memory: a
 *   request's headers and body are capped, idle connections are closed
 *   after HTTP_IDLE_TIMEOUT_S, a request is answered 503 once the
 *   daemon is down to its last HTTP_FDS_SPARE descriptors (and nothing
 *   is accepted at all when down to half of those), event streams are
 *   capped in number, and a stream whose client does not read
 *   keeps at most BACKLOG_EVENT_LINES lines (the oldest are lost, as a slow
 *   reader of /.lockfs/events loses them).
 * - A request whose answer is still being gathered (a tree walk) or that
 *   streams (events) is dropped cleanly when its client goes away: the
 *   connection's close callback forgets it before libevent frees it.
 */
#include "http.h"

#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <event2/buffer.h>
#include <event2/bufferevent.h>
#include <event2/event.h>
#include <event2/http.h>
#include <event2/keyvalq_struct.h>
#include <event2/listener.h>
#include <netinet/in.h>
#include <stdio.h>
#include <sys/queue.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <unistd.h>

#include "backlog.h"
#include "json.h"
#include "lockfs.h"
#include "log.h"
#include "name.h"
#include "walk.h"

#define HTTP_IDLE_TIMEOUT_S 30
#define HTTP_HEADERS_MAX 8192
#define HTTP_BODY_MAX 4096
#define HTTP_STREAMS_MAX 256
#define HTTP_HEARTBEAT_S 15
#define HTTP_STALL_S 300   /* an event stream nobody reads is closed */
#define HTTP_LOCKS_MAX 10000 /* namespaces and locks in one answer */
#define HTTP_WALKS_MAX 16    /* tree walks at once, each up to 8 calls */
#define HTTP_FDS_SPARE 64    /* descriptors HTTP never takes */
#define HTTP_FDS_MAX 4096
#define HTTP_CHUNK_MAX 65536

/* The page, fs/http_page.html, embedded at build time. */
extern const char http_page[];

struct http_stream;
struct http_walk;

struct http {
	struct lockfs *fs;
	struct http_reports reports; /* the status and metrics it serves */
	struct evhttp *eh;
	struct evconnlistener *listener; /* evhttp's once bound */
	int listen_fd;
	struct event *heartbeat;
	struct event *fds_timer; /* while not accepting: when to look again */
	bool paused;              /* not accepting: descriptors ran short */
	struct http_stream *streams;
	size_t nstreams;
	struct http_walk *walks;
	size_t nwalks;
	int fd_limit; /* no connection may take a descriptor this high */
	char address[INET6_ADDRSTRLEN + 8];
};

/* One GET /events: Server-Sent Events until the client goes. */
struct http_stream {
	struct http *h;
	struct evhttp_request *req;
	struct backlog *lines;
	bool writing; /* a chunk is on its way to the client */
	struct http_stream *next;
};

/* One GET /api/locks while its tree walk runs. */
struct http_walk {
	struct http *h;
	struct evhttp_request *req;
	struct walk *walk;
	char *prefix;
	struct http_walk *next;
};

static void describe_socket(int fd, char *out, size_t size)
{
	struct sockaddr_storage ss;
	socklen_t len = sizeof(ss);
	char addr[INET6_ADDRSTRLEN] = "?";
	int port = 0;

	if (getsockname(fd, (struct sockaddr *)&ss, &len) == 0) {
		if (ss.ss_family == AF_INET6) {
			struct sockaddr_in6 *s6 = (struct sockaddr_in6 *)&ss;

			inet_ntop(AF_INET6, &s6->sin6_addr, addr, sizeof(addr));
			port = ntohs(s6->sin6_port);
			snprintf(out, size, "[%s]:%d", addr, port);
			return;
		}
		inet_ntop(AF_INET, &((struct sockaddr_in *)&ss)->sin_addr,
			  addr, sizeof(addr));
		port = ntohs(((struct sockaddr_in *)&ss)->sin_port);
	}
	snprintf(out, size, "%s:%d", addr, port);
}

/* ---- answers ---------------------------------------------------------- */

static void add_header(struct evhttp_request *req, const char *key,
		       const char *value)
{
	evhttp_add_header(evhttp_request_get_output_headers(req), key, value);
}

/* The headers every answer carries, and its type. */
static void common_headers(struct evhttp_request *req, const char *type)
{
	add_header(req, "Content-Type", type);
	add_header(req, "Cache-Control", "no-store");
	add_header(req, "X-Content-Type-Options", "nosniff");
}

static void reply(struct evhttp_request *req, int code, const char *reason,
		  const char *type, const char *body, size_t len)
{
	struct evbuffer *buf = evbuffer_new();

	common_headers(req, type);
	if (evhttp_request_get_command(req) == EVHTTP_REQ_HEAD) {
		/* HEAD: the headers of the answer, its length, no body */
		char length[32];

		snprintf(length, sizeof(length), "%zu", len);
		add_header(req, "Content-Length", length);
		len = 0;
	}
	if (buf == NULL || evbuffer_add(buf, body, len) < 0) {
		evhttp_send_error(req, 500, "Out of memory");
	} else {
		evhttp_send_reply(req, code, reason, buf);
	}
	if (buf)
		evbuffer_free(buf);
}

static void reply_message(struct evhttp_request *req, int code,
			  const char *reason, const char *text)
{
	reply(req, code, reason, "text/plain; charset=utf-8", text,
	      strlen(text));
}

/* A JSON error: {"error": "..."} */
static void reply_json_error(struct evhttp_request *req, int code,
			     const char *reason, const char *text)
{
	char *buf = NULL;
	size_t size = 0;
	FILE *f = open_memstream(&buf, &size);

	if (f == NULL) {
		evhttp_send_error(req, 500, "Out of memory");
		return;
	}
	fputs("{\"error\":", f);
	json_cstring(f, text);
	fputs("}\n", f);
	if (fclose(f) != 0)
		evhttp_send_error(req, 500, "Out of memory");
	else
		reply(req, code, reason, "application/json", buf, size);
	free(buf);
}

/* A store error as an HTTP status. */
static void reply_store_error(struct evhttp_request *req, int err)
{
	if (err == -EIO || err == -ETIMEDOUT || err == -ENOTCONN)
		reply_json_error(req, 503, "Service Unavailable",
				 "Redis does not answer");
	else if (err == -ENOMEM)
		reply_json_error(req, 503, "Service Unavailable",
				 "out of memory");
	else
		reply_json_error(req, 500, "Internal Server Error",
				 strerror(-err));
}

static void serve_page(struct http *h, struct evhttp_request *req)
{
	(void)h;
	/* the page may talk to this node only, and load nothing */
	add_header(req, "Content-Security-Policy",
		   "default-src 'none'; script-src 'unsafe-inline'; "
		   "style-src 'unsafe-inline'; connect-src 'self'; "
		   "img-src data:; base-uri 'none'; form-action 'none'; "
		   "frame-ancestors 'none'");
	add_header(req, "Referrer-Policy", "no-referrer");
	reply(req, 200, "OK", "text/html; charset=utf-8", http_page,
	      strlen(http_page));
}

static void serve_metrics(struct http *h, struct evhttp_request *req)
{
	char *text;
	size_t len;

	if (h->reports.metrics(h->fs, &text, &len) < 0) {
		reply_message(req, 503, "Service Unavailable",
			      "out of memory\n");
		return;
	}
	reply(req, 200, "OK", "text/plain; version=0.0.4",
	      text, len);
	free(text);
}

static void serve_status(struct http *h, struct evhttp_request *req)
{
	char *text, *buf = NULL;
	size_t len, size = 0;
	FILE *f;

	if (h->reports.status(h->fs, &text, &len) < 0) {
		reply_message(req, 503, "Service Unavailable",
			      "out of memory\n");
		return;
	}
	f = open_memstream(&buf, &size);
	if (f) {
		json_kv_object(f, text, len);
		fputc('\n', f);
	}
	if (f == NULL || fclose(f) != 0)
		reply_message(req, 503, "Service Unavailable",
			      "out of memory\n");
	else
		reply(req, 200, "OK", "application/json", buf, size);
	free(buf);
	free(text);
}

/*
 * A client that goes away before its answer is complete leaves its
 * request to us: evhttp takes it off the dying connection unfreed (and
 * says so by its connection being gone).  Free it then, or it leaks.
 */
static void free_orphaned_request(struct evhttp_request *req)
{
	if (evhttp_request_get_connection(req) == NULL)
		evhttp_request_free(req);
}

/* ---- /api/locks ------------------------------------------------------- */

static void walk_unlink(struct http_walk *c)
{
	struct http_walk **pp = &c->h->walks;

	while (*pp && *pp != c)
		pp = &(*pp)->next;
	if (*pp) {
		*pp = c->next;
		c->h->nwalks--;
	}
	free(c->prefix);
	free(c);
}

/* The client went away while its walk ran: nobody wants the answer. */
static void on_walk_client_gone(struct evhttp_connection *evcon, void *arg)
{
	struct http_walk *c = arg;

	(void)evcon;
	walk_abandon(c->walk);
	free_orphaned_request(c->req);
	walk_unlink(c);
}

static void json_ns(FILE *f, const struct walk_ns *ns)
{
	fputs("{\"path\":", f);
	json_cstring(f, ns->path);
	fprintf(f, ",\"mode\":\"%04o\",\"uid\":%u,\"gid\":%u,\"limit\":%lld,"
		   "\"ctime\":",
		(unsigned)(ns->attr.mode & 07777), (unsigned)ns->attr.uid,
		(unsigned)ns->attr.gid, (long long)ns->attr.limit);
	json_time(f, ns->attr.ctime_ms);
	fputs(",\"mtime\":", f);
	json_time(f, ns->attr.mtime_ms);
	fputc('}', f);
}

static void on_walk_done(void *arg, const struct walk_result *res)
{
	struct http_walk *c = arg;
	struct evhttp_request *req = c->req;
	char *buf = NULL;
	size_t size = 0;
	FILE *f;

	evhttp_connection_set_closecb(evhttp_request_get_connection(req),
				      NULL, NULL);
	if (res->err < 0) {
		reply_store_error(req, res->err);
		walk_unlink(c);
		return;
	}
	f = open_memstream(&buf, &size);
	if (f == NULL) {
		reply_store_error(req, -ENOMEM);
		walk_unlink(c);
		return;
	}
	fputs("{\"node\":", f);
	json_cstring(f, c->h->fs->opt->node);
	fputs(",\"prefix\":", f);
	json_cstring(f, c->prefix);
	fputs(",\"now\":", f);
	json_time(f, res->now_ms);
	fprintf(f, ",\"truncated\":%s,\"namespaces\":[",
		res->truncated ? "true" : "false");
	for (size_t i = 0; i < res->nns; i++) {
		fputs(i ? "," : "", f);
		json_ns(f, &res->ns[i]);
	}
	fputs("],\"locks\":[", f);
	for (size_t i = 0; i < res->nlocks; i++) {
		fputs(i ? "," : "", f);
		info_json(&res->locks[i], f);
	}
	fputs("]}\n", f);
	if (fclose(f) != 0)
		reply_store_error(req, -ENOMEM);
	else
		reply(req, 200, "OK", "application/json", buf, size);
	free(buf);
	walk_unlink(c);
}

static void serve_locks(struct http *h, struct evhttp_request *req)
{
	const char *query = evhttp_uri_get_query(evhttp_request_get_evhttp_uri(req));
	struct evkeyvalq params;
	struct node_status ns;
	const char *prefix = "";
	struct http_walk *c;
	int err;

	TAILQ_INIT(&params);
	if (query && evhttp_parse_query_str(query, &params) < 0) {
		reply_json_error(req, 400, "Bad Request", "bad query string");
		return;
	}
	if (evhttp_find_header(&params, "prefix"))
		prefix = evhttp_find_header(&params, "prefix");
	while (*prefix == '/')
		prefix++; /* "/db/" is "db/", as in a lock set line */
	if (strlen(prefix) > NAME_PATH_MAX) {
		evhttp_clear_headers(&params);
		reply_json_error(req, 400, "Bad Request", "prefix too long");
		return;
	}
	node_status(h->fs->node, &ns);
	if (!ns.redis_up) {
		/* known away: say so at once rather than wait for it */
		evhttp_clear_headers(&params);
		add_header(req, "Retry-After", "1");
		reply_json_error(req, 503, "Service Unavailable",
				 "Redis is not connected");
		return;
	}
	if (h->nwalks >= HTTP_WALKS_MAX) {
		/* Redis serves the locks first: the page asks again soon */
		evhttp_clear_headers(&params);
		add_header(req, "Retry-After", "1");
		reply_json_error(req, 503, "Service Unavailable",
				 "too many tree walks at once");
		return;
	}
	c = calloc(1, sizeof(*c));
	if (c == NULL || (c->prefix = strdup(prefix)) == NULL) {
		free(c);
		evhttp_clear_headers(&params);
		reply_store_error(req, -ENOMEM);
		return;
	}
	evhttp_clear_headers(&params);
	c->h = h;
	c->req = req;
	err = walk_start(h->fs->node, c->prefix, HTTP_LOCKS_MAX, on_walk_done,
			 c, &c->walk);
	if (err < 0) {
		free(c->prefix);
		free(c);
		reply_store_error(req, err);
		return;
	}
	c->next = h->walks;
	h->walks = c;
	h->nwalks++;
	evhttp_connection_set_closecb(evhttp_request_get_connection(req),
				      on_walk_client_gone, c);
}

/* ---- /events ---------------------------------------------------------- */

static void stream_free(struct http_stream *s)
{
	struct http_stream **pp = &s->h->streams;

	while (*pp && *pp != s)
		pp = &(*pp)->next;
	if (*pp) {
		*pp = s->next;
		s->h->nstreams--;
		node_unwatch_events(s->h->fs->node);
	}
	backlog_free(s->lines);
	free(s);
}

static void on_stream_client_gone(struct evhttp_connection *evcon, void *arg)
{
	struct http_stream *s = arg;

	(void)evcon;
	free_orphaned_request(s->req);
	stream_free(s);
}

static void stream_flush(struct http_stream *s);

static void on_stream_written(struct evhttp_connection *evcon, void *arg)
{
	struct http_stream *s = arg;

	(void)evcon;
	s->writing = false;
	stream_flush(s);
}

/* Send `buf` as the next chunk; the stream is busy until it is written. */
static void stream_send(struct http_stream *s, struct evbuffer *buf)
{
	s->writing = true;
	evhttp_send_reply_chunk_with_cb(s->req, buf, on_stream_written, s);
}

/* What waits goes out as one chunk, unless one is still on its way. */
static void stream_flush(struct http_stream *s)
{
	struct evbuffer *buf;
	const char *line;
	size_t len;

	if (s->writing || backlog_empty(s->lines))
		return;
	buf = evbuffer_new();
	if (buf == NULL)
		return; /* the next event or heartbeat tries again */
	while (evbuffer_get_length(buf) < HTTP_CHUNK_MAX &&
	       (line = backlog_peek(s->lines, &len)) != NULL) {
		if (len && line[len - 1] == '\n')
			len--;
		if (evbuffer_add(buf, "data: ", 6) < 0 ||
		    evbuffer_add(buf, line, len) < 0 ||
		    evbuffer_add(buf, "\n\n", 2) < 0)
			break;
		backlog_drop(s->lines);
	}
	stream_send(s, buf);
	evbuffer_free(buf);
}

static void on_heartbeat(evutil_socket_t fd, short what, void *arg)
{
	struct http *h = arg;

	(void)fd;
	(void)what;
	for (struct http_stream *s = h->streams; s; s = s->next) {
		struct evbuffer *buf;

		if (s->writing || (buf = evbuffer_new()) == NULL)
			continue;
		/* a comment: EventSource ignores it, proxies see traffic */
		evbuffer_add_printf(buf, ": keepalive\n\n");
		stream_send(s, buf);
		evbuffer_free(buf);
	}
}

static void serve_events(struct http *h, struct evhttp_request *req,
			 bool head)
{
	struct http_stream *s = NULL;
	struct evbuffer *hello = NULL;
	struct evhttp_connection *evcon;
	struct timeval stall = {HTTP_STALL_S, 0};
	bool watched = false;

	add_header(req, "X-Accel-Buffering", "no");
	if (head) {
		reply(req, 200, "OK", "text/event-stream", "", 0);
		return;
	}
	if (h->nstreams >= HTTP_STREAMS_MAX) {
		add_header(req, "Retry-After", "5");
		reply_message(req, 503, "Service Unavailable",
			      "too many event streams\n");
		return;
	}
	if ((s = calloc(1, sizeof(*s))) == NULL ||
	    backlog_new(BACKLOG_EVENT_LINES, &s->lines) < 0 ||
	    !(watched = node_watch_events(h->fs->node) == 0) ||
	    (hello = evbuffer_new()) == NULL)
		goto fail;
	s->h = h;
	s->req = req;
	s->next = h->streams;
	h->streams = s;
	h->nstreams++;
	common_headers(req, "text/event-stream");
	evhttp_send_reply_start(req, 200, "OK");
	evcon = evhttp_request_get_connection(req);
	evhttp_connection_set_closecb(evcon, on_stream_client_gone, s);
	/*
	 * A stream is quiet by nature: no read timeout (the idle one would
	 * end it), but a client that takes nothing for HTTP_STALL_S goes.
	 */
	bufferevent_set_timeouts(evhttp_connection_get_bufferevent(evcon),
				 NULL, &stall);
	/* from now on; reconnect after a second if the stream breaks */
	evbuffer_add_printf(hello, ": lockfs events of node %s\nretry: 1000\n\n",
			    h->fs->opt->node);
	stream_send(s, hello);
	evbuffer_free(hello);
	return;
fail:
	if (watched)
		node_unwatch_events(h->fs->node);
	if (s)
		backlog_free(s->lines);
	free(s);
	reply_message(req, 503, "Service Unavailable", "out of memory\n");
}

void http_event(struct http *h, const char *line, size_t len)
{
	if (h == NULL)
		return;
	for (struct http_stream *s = h->streams; s; s = s->next) {
		if (backlog_push(s->lines, line, len) < 0)
			log_warnx("http: out of memory, an event is lost");
		stream_flush(s);
	}
}

size_t http_streams(const struct http *h)
{
	return h ? h->nstreams : 0;
}

/* ---- descriptors ------------------------------------------------------ */

/*
 * How many descriptors the daemon has open, about: they are handed out
 * lowest first, so the lowest free one says how many are taken.
 */
static int descriptors_taken(const struct http *h)
{
	int probe = fcntl(h->listen_fd, F_DUPFD_CLOEXEC, 0);

	if (probe < 0)
		return INT_MAX;
	close(probe);
	return probe;
}

/* Past fd_limit requests are answered 503; past this nothing is accepted. */
static bool descriptors_exhausted(const struct http *h)
{
	return descriptors_taken(h) >= h->fd_limit + HTTP_FDS_SPARE / 2;
}

/* Accept again once connections have gone (idle ones time out). */
static void on_fds_check(evutil_socket_t fd, short what, void *arg)
{
	struct http *h = arg;
	struct timeval again = {1, 0};

	(void)fd;
	(void)what;
	if (descriptors_exhausted(h)) {
		evtimer_add(h->fds_timer, &again);
		return;
	}
	log_info("http: accepting connections again");
	evconnlistener_enable(h->listener);
	h->paused = false;
}

/*
 * Every new connection passes here (evhttp asks for its bufferevent).
 * Up to fd_limit descriptors connections are served; past it each
 * request is answered 503 and its connection closed; and when a
 * connection takes one of the last HTTP_FDS_SPARE / 2 descriptors HTTP
 * may use, nothing more is accepted until there are some again, so that
 * Redis, the broker and the FUSE side always have theirs.
 */
static struct bufferevent *on_connection(struct event_base *base, void *arg)
{
	struct http *h = arg;
	struct timeval again = {1, 0};

	if (!h->paused && descriptors_exhausted(h)) {
		log_warnx("http: too many connections, not accepting for now");
		evconnlistener_disable(h->listener);
		h->paused = true;
		evtimer_add(h->fds_timer, &again);
	}
	return bufferevent_socket_new(base, -1, BEV_OPT_CLOSE_ON_FREE);
}

/* ---- dispatch --------------------------------------------------------- */

static void on_request(struct evhttp_request *req, void *arg)
{
	struct http *h = arg;
	enum evhttp_cmd_type cmd = evhttp_request_get_command(req);
	const struct evhttp_uri *uri = evhttp_request_get_evhttp_uri(req);
	const char *path = uri ? evhttp_uri_get_path(uri) : NULL;
	bool head = cmd == EVHTTP_REQ_HEAD;

	if (descriptors_taken(h) >= h->fd_limit) {
		/* descriptors are running out: say so, and close */
		add_header(req, "Connection", "close");
		add_header(req, "Retry-After", "5");
		reply_message(req, 503, "Service Unavailable",
			      "too many connections\n");
		return;
	}
	if (cmd != EVHTTP_REQ_GET && !head) {
		add_header(req, "Allow", "GET, HEAD");
		reply_message(req, 405, "Method Not Allowed",
			      "read-only: GET and HEAD only\n");
		return;
	}
	if (path == NULL || *path == '\0' || strcmp(path, "/") == 0)
		serve_page(h, req);
	else if (strcmp(path, "/metrics") == 0)
		serve_metrics(h, req);
	else if (strcmp(path, "/api/status") == 0)
		serve_status(h, req);
	else if (strcmp(path, "/api/locks") == 0)
		serve_locks(h, req);
	else if (strcmp(path, "/events") == 0)
		serve_events(h, req, head);
	else
		reply_message(req, 404, "Not Found",
			      "not found: try /, /metrics, /api/status, "
			      "/api/locks or /events\n");
}

int http_new(struct lockfs *fs, int fd, const struct http_reports *reports,
	     struct http **out)
{
	struct http *h = calloc(1, sizeof(*h));
	struct timeval beat = {HTTP_HEARTBEAT_S, 0};
	struct rlimit rl;

	if (h == NULL) {
		close(fd);
		return -ENOMEM;
	}
	h->fs = fs;
	h->reports = *reports;
	h->fd_limit = HTTP_FDS_MAX;
	if (getrlimit(RLIMIT_NOFILE, &rl) == 0 && rl.rlim_cur != RLIM_INFINITY &&
	    rl.rlim_cur < (rlim_t)HTTP_FDS_MAX + HTTP_FDS_SPARE)
		h->fd_limit = (int)rl.rlim_cur - HTTP_FDS_SPARE;
	describe_socket(fd, h->address, sizeof(h->address));
	h->eh = evhttp_new(fs->base);
	if (h->eh == NULL) {
		close(fd);
		goto fail;
	}
	/* every method reaches on_request, which answers 405 itself */
	evhttp_set_allowed_methods(
		h->eh, EVHTTP_REQ_GET | EVHTTP_REQ_POST | EVHTTP_REQ_HEAD |
			       EVHTTP_REQ_PUT | EVHTTP_REQ_DELETE |
			       EVHTTP_REQ_OPTIONS | EVHTTP_REQ_TRACE |
			       EVHTTP_REQ_CONNECT | EVHTTP_REQ_PATCH);
	evhttp_set_max_headers_size(h->eh, HTTP_HEADERS_MAX);
	evhttp_set_max_body_size(h->eh, HTTP_BODY_MAX);
	evhttp_set_timeout(h->eh, HTTP_IDLE_TIMEOUT_S);
	evhttp_set_gencb(h->eh, on_request, h);
	evhttp_set_bevcb(h->eh, on_connection, h);
	h->fds_timer = evtimer_new(fs->base, on_fds_check, h);
	h->listener = evconnlistener_new(fs->base, NULL, NULL,
					 LEV_OPT_CLOSE_ON_FREE, 0, fd);
	if (h->listener == NULL) {
		close(fd);
		goto fail;
	}
	h->listen_fd = fd;
	/* evhttp accepts from here on, and frees the listener */
	if (h->fds_timer == NULL ||
	    evhttp_bind_listener(h->eh, h->listener) == NULL) {
		evconnlistener_free(h->listener);
		h->listener = NULL;
		goto fail;
	}
	h->heartbeat = event_new(fs->base, -1, EV_PERSIST, on_heartbeat, h);
	if (h->heartbeat == NULL || event_add(h->heartbeat, &beat) < 0)
		goto fail;
	log_info("http: serving on %s", h->address);
	*out = h;
	return 0;
fail:
	http_free(h);
	return -ENOMEM;
}

const char *http_address(const struct http *h)
{
	return h ? h->address : "";
}

void http_free(struct http *h)
{
	if (h == NULL)
		return;
	/* forget every client before evhttp frees their connections */
	while (h->streams) {
		struct http_stream *s = h->streams;

		evhttp_connection_set_closecb(
			evhttp_request_get_connection(s->req), NULL, NULL);
		evhttp_send_reply_end(s->req);
		stream_free(s);
	}
	while (h->walks) {
		struct http_walk *c = h->walks;

		evhttp_connection_set_closecb(
			evhttp_request_get_connection(c->req), NULL, NULL);
		walk_abandon(c->walk);
		walk_unlink(c);
	}
	if (h->eh)
		evhttp_free(h->eh);
	if (h->heartbeat)
		event_free(h->heartbeat);
	if (h->fds_timer)
		event_free(h->fds_timer);
	free(h);
}
