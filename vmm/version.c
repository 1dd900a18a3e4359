#include "vmm/version.h"

#ifndef HYVE_VERSION
#define HYVE_VERSION "unknown"
#endif
const char hyve_version[] = HYVE_VERSION;
