build-asan/obj/serve/vt_server.o: userspace/serve/vt_server.c \
 userspace/serve/vt_server_int.h userspace/serve/vt_server.h \
 userspace/serve/vt_http1.h userspace/serve/vt_http2.h
userspace/serve/vt_server_int.h:
userspace/serve/vt_server.h:
userspace/serve/vt_http1.h:
userspace/serve/vt_http2.h:
