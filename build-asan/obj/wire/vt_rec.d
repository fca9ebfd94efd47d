build-asan/obj/wire/vt_rec.o: userspace/wire/vt_rec.c \
 userspace/wire/vt_rec.h userspace/model/vt_state.h bpf/valk_trace.h \
 userspace/wire/vt_rec_codec.h
userspace/wire/vt_rec.h:
userspace/model/vt_state.h:
bpf/valk_trace.h:
userspace/wire/vt_rec_codec.h:
