#ifndef HYVE_VERSION_H
#define HYVE_VERSION_H
/* `git describe --always --dirty` of the build, or "unknown". */
extern const char hyve_version[];
#endif
