build-asan/obj/serve/vt_sse.o: userspace/serve/vt_sse.c \
 userspace/serve/vt_server_int.h userspace/serve/vt_server.h
userspace/serve/vt_server_int.h:
userspace/serve/vt_server.h:
