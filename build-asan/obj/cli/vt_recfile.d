build-asan/obj/cli/vt_recfile.o: userspace/cli/vt_recfile.c \
 userspace/cli/vt_recfile.h
userspace/cli/vt_recfile.h:
