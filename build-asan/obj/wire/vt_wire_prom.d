build-asan/obj/wire/vt_wire_prom.o: userspace/wire/vt_wire_prom.c \
 userspace/wire/vt_wire_json.h userspace/wire/vt_wire.h \
 userspace/model/vt_state.h bpf/valk_trace.h
userspace/wire/vt_wire_json.h:
userspace/wire/vt_wire.h:
userspace/model/vt_state.h:
bpf/valk_trace.h:
