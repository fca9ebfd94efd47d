build-asan/obj/cli/vt_cmd_layout.o: userspace/cli/vt_cmd_layout.c \
 userspace/cli/vt_cmd.h userspace/cli/vt_trace.h \
 userspace/target/vt_layout.h
userspace/cli/vt_cmd.h:
userspace/cli/vt_trace.h:
userspace/target/vt_layout.h:
