KMOD_SRCS := kmod/kvm.c
KMOD_OBJS := $(KMOD_SRCS:%.c=$(BUILD)/%.o)
