/* The HTTP side of the ochre program (the webhook client, the server of `ochre serve`)
 * lives in a module of its own, ochre-http.so, loaded the first time it is needed:
 * cpp-httplib brings OpenSSL, zlib and brotli, and loading them would cost every run of
 * ochre milliseconds it mostly does not need. Plain C crosses the boundary, because the
 * program and the module each carry their own C++ runtime; nothing throws across it. */
#ifndef OCHRE_HTTP_MODULE_H
#define OCHRE_HTTP_MODULE_H

#include <stddef.h>

#ifdef __cplusplus
extern "C" {
#endif

#define OCHRE_HTTP_ABI 1

typedef struct ochre_http_request ochre_http_request;   /* the module's */
typedef struct ochre_http_response ochre_http_response; /* the module's */
typedef struct ochre_http_sink ochre_http_sink;         /* the module's */

/* Answers one request, on one of the server's threads: calls reply() or stream() on
 * `res`, or neither for a 404. Must not throw. */
typedef void (*ochre_http_handler)(void* user, const ochre_http_request* req, ochre_http_response* res);
/* Writes the next piece of a stream to `sink` (write(), or done() to end it); returns 0
 * to drop the connection. Must not throw. */
typedef int (*ochre_http_next)(void* user, ochre_http_sink* sink);

typedef struct ochre_http_api {
  int abi; /* OCHRE_HTTP_ABI */

  /* The webhook client: one POST at a time per poster; cancel() from any thread aborts
   * the request in flight and every later one. post() returns the HTTP status, or 0 with
   * why no answer came in `error` (NUL-terminated, cut to error_size). `headers` holds
   * n_headers name/value pairs, name first. */
  void* (*poster_new)(void);
  void (*poster_free)(void* poster);
  int (*poster_post)(void* poster, const char* url, const char* const* headers, size_t n_headers,
                     const char* body, size_t body_size, double connect_timeout, double timeout, char* error,
                     size_t error_size);
  void (*poster_cancel)(void* poster);

  /* The server: every GET (HEAD too) and POST goes to `handler`, on a pool of `threads`
   * threads. bind() returns the port (a free one when port is 0), or -1 with errno from
   * bind(2); listen() serves until stop(), on the calling thread. */
  void* (*server_new)(ochre_http_handler handler, void* user, size_t threads);
  void (*server_free)(void* server);
  int (*server_bind)(void* server, const char* host, int port);
  void (*server_listen)(void* server);
  int (*server_running)(void* server);
  void (*server_stop)(void* server);

  /* A request: its method ("GET", "POST", ...), path, and query parameters (NULL when
   * absent; valid while the handler runs). */
  const char* (*request_method)(const ochre_http_request* req);
  const char* (*request_path)(const ochre_http_request* req);
  const char* (*request_param)(const ochre_http_request* req, const char* name);
  /* A reply: the body is copied. no_store adds Cache-Control: no-store. */
  void (*reply)(ochre_http_response* res, int status, const char* content_type, const char* body, size_t size,
                int no_store);
  /* A chunked reply written by next() until it ends it; release(user) when the
   * connection is done with it. */
  void (*stream)(ochre_http_response* res, const char* content_type, int no_store, ochre_http_next next, void* user,
                 void (*release)(void* user));
  int (*sink_write)(ochre_http_sink* sink, const char* data, size_t size);
  void (*sink_done)(ochre_http_sink* sink);
} ochre_http_api;

/* The module's one exported symbol. */
const ochre_http_api* ochre_http_module(void);

#ifdef __cplusplus
}
#endif

#endif
