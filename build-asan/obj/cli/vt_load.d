build-asan/obj/cli/vt_load.o: userspace/cli/vt_load.c \
 userspace/cli/vt_load.h
userspace/cli/vt_load.h:
