build-asan/obj/serve/vt_routes.o: userspace/serve/vt_routes.c \
 userspace/serve/vt_routes.h userspace/model/vt_state.h bpf/valk_trace.h \
 userspace/wire/vt_wire.h userspace/serve/vt_server.h \
 userspace/serve/vt_web.h
userspace/serve/vt_routes.h:
userspace/model/vt_state.h:
bpf/valk_trace.h:
userspace/wire/vt_wire.h:
userspace/serve/vt_server.h:
userspace/serve/vt_web.h:
