build-asan/obj/serve/vt_http2.o: userspace/serve/vt_http2.c \
 userspace/serve/vt_http2.h userspace/serve/vt_server_int.h \
 userspace/serve/vt_server.h
userspace/serve/vt_http2.h:
userspace/serve/vt_server_int.h:
userspace/serve/vt_server.h:
