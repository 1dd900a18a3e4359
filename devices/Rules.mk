DEVICE_SRCS := $(wildcard devices/*.c devices/*/*.c)
DEVICE_OBJS := $(DEVICE_SRCS:%.c=$(BUILD)/%.o)
