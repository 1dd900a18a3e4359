#include <string.h>

#include "devices/device.h"

extern const struct device_emul *const __start_hyve_devices[];
extern const struct device_emul *const __stop_hyve_devices[];

const struct device_emul *const *
device_first(void)
{
	return __start_hyve_devices;
}

const struct device_emul *const *
device_end(void)
{
	return __stop_hyve_devices;
}

const struct device_emul *
device_find(const char *name)
{
	for (const struct device_emul *const *p = device_first();
	    p < device_end(); p++)
		if (strcmp((*p)->name, name) == 0)
			return *p;
	return NULL;
}
