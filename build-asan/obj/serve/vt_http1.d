build-asan/obj/serve/vt_http1.o: userspace/serve/vt_http1.c \
 userspace/serve/vt_http1.h userspace/serve/vt_server_int.h \
 userspace/serve/vt_server.h
userspace/serve/vt_http1.h:
userspace/serve/vt_server_int.h:
userspace/serve/vt_server.h:
