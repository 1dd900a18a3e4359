#ifndef UNIT_SETJMP_H
#define UNIT_SETJMP_H

#include <stdint.h>

struct unit_jmpbuf {
	uint64_t rbx, rbp, r12, r13, r14, r15, rsp, rip;
};

int unit_setjmp(struct unit_jmpbuf *jb) __attribute__((returns_twice));
void unit_longjmp(struct unit_jmpbuf *jb, int val) __attribute__((noreturn));

#endif
