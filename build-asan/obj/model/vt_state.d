build-asan/obj/model/vt_state.o: userspace/model/vt_state.c \
 userspace/model/vt_state.h bpf/valk_trace.h
userspace/model/vt_state.h:
bpf/valk_trace.h:
