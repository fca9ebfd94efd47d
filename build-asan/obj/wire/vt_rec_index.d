build-asan/obj/wire/vt_rec_index.o: userspace/wire/vt_rec_index.c \
 userspace/wire/vt_rec.h userspace/model/vt_state.h bpf/valk_trace.h
userspace/wire/vt_rec.h:
userspace/model/vt_state.h:
bpf/valk_trace.h:
