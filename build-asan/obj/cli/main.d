build-asan/obj/cli/main.o: userspace/cli/main.c userspace/cli/vt_cmd.h \
 userspace/cli/vt_trace.h
userspace/cli/vt_cmd.h:
userspace/cli/vt_trace.h:
