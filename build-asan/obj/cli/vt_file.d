build-asan/obj/cli/vt_file.o: userspace/cli/vt_file.c \
 userspace/cli/vt_file.h
userspace/cli/vt_file.h:
