/* The request/response protocol shared by the example servers (select_server, epoll_server) and loadgen. */
#ifndef CW_EXAMPLES_REQUEST_H
#define CW_EXAMPLES_REQUEST_H

#include <stdbool.h>
#include <stddef.h>

/*
 * Protocol (one request in flight per connection, but pipelined lines are answered in order):
 *   request:  "GET /item/<id> <len>\n"      id: 0..2^32-1, len: 1..REQ_MAX_BODY
 *   response: "OK <len>\n" followed by len body bytes, byte i = 'a' + (id + i) % 26
 *   malformed request: "ERR bad request\n", then the server closes the connection.
 * The body is deterministic so that a client can check every byte.
 */
#define REQ_MAX_LINE 128
#define REQ_MAX_BODY 65536
#define REQ_MAX_RESPONSE (REQ_MAX_BODY + 32)
#define REQ_ERR_RESPONSE "ERR bad request\n"

struct request {
	unsigned long id;
	size_t len;
};

/* One connection's buffers: what was read but not yet parsed, what is built but not yet written. */
struct conn {
	int fd;
	size_t inlen;
	char in[REQ_MAX_LINE * 2];
	char *out;		/* REQ_MAX_RESPONSE bytes, allocated on the first response */
	size_t outlen, outoff;
	bool closing;		/* close once the output is written (after an error response) */
	unsigned long served;
};

enum conn_status { CONN_OK, CONN_WANT_WRITE, CONN_CLOSE };

/* Parse one request line (without its '\n'); 0 or -1 for a malformed line. */
int parse_request(const char *line, size_t len, struct request *req);
/* Write the response for REQ into OUT (REQ_MAX_RESPONSE bytes); returns its length. */
size_t build_response(const struct request *req, char *out);
/* Read what the socket has, answer every complete request line in it. CONN_WANT_WRITE: a response is
 * only partly written (the socket buffer is full): wait for writability and call flush_output. */
enum conn_status handle_request(struct conn *c);
/* Write pending output; CONN_OK once all of it is written. */
enum conn_status flush_output(struct conn *c);

/* The expected body pattern: body of (id, len) == pattern + id % 26, len bytes. Pattern has
 * REQ_MAX_BODY + 26 bytes. */
const char *body_pattern(void);

/* Raise the soft open-file limit to the hard limit (1000 idle connections need more than 1024). Returns
 * the new soft limit. */
long raise_nofile_limit(void);

#endif
