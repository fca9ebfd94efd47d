build-asan/obj/wire/vt_wire_buckets.o: userspace/wire/vt_wire_buckets.c \
 userspace/wire/vt_wire_json.h userspace/wire/vt_wire.h \
 userspace/model/vt_state.h bpf/valk_trace.h
userspace/wire/vt_wire_json.h:
userspace/wire/vt_wire.h:
userspace/model/vt_state.h:
bpf/valk_trace.h:
