/* vt_http1: HTTP/1.1 on one server connection (see vt_server.h). */
#ifndef VT_HTTP1_H
#define VT_HTTP1_H

#include "serve/vt_server_int.h"

extern const struct vt_proto vt_http1_proto;

#endif /* VT_HTTP1_H */
