/* vt_http2: cleartext HTTP/2 on one server connection (see vt_server.h). */
#ifndef VT_HTTP2_H
#define VT_HTTP2_H

#include "serve/vt_server_int.h"

extern const struct vt_proto vt_http2_proto;

#endif /* VT_HTTP2_H */
