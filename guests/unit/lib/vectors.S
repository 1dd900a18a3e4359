/*
 * Interrupt and exception entry stubs for all 256 vectors.  Each stub pushes
 * an error code (0 when the CPU pushes none) and its vector, the common path
 * saves the general registers into a struct trap_frame (idt.h) and calls
 * trap_dispatch(frame).  Also the setjmp/longjmp pair the library uses to
 * recover from exceptions.
 */

/* Vectors for which the CPU pushes an error code. */
#define HAS_ERR(v) ((v) == 8 || ((v) >= 10 && (v) <= 14) || (v) == 17 || (v) == 21 || (v) == 29 || (v) == 30)

	.text
	.altmacro
	.macro stub v
	.balign 16
vector_\v:
	.if HAS_ERR(\v)
	.else
	pushq $0
	.endif
	pushq $\v
	jmp trap_common
	.endm

	.balign 16
	.globl trap_vectors
trap_vectors:
	.set i, 0
	.rept 256
	stub %i
	.set i, i + 1
	.endr

trap_common:
	pushq %rax
	pushq %rbx
	pushq %rcx
	pushq %rdx
	pushq %rsi
	pushq %rdi
	pushq %rbp
	pushq %r8
	pushq %r9
	pushq %r10
	pushq %r11
	pushq %r12
	pushq %r13
	pushq %r14
	pushq %r15
	movq %rsp, %rdi
	cld
	call trap_dispatch
	popq %r15
	popq %r14
	popq %r13
	popq %r12
	popq %r11
	popq %r10
	popq %r9
	popq %r8
	popq %rbp
	popq %rdi
	popq %rsi
	popq %rdx
	popq %rcx
	popq %rbx
	popq %rax
	addq $16, %rsp                  /* vector and error code */
	iretq

/* Stub addresses, one per vector, for the IDT. */
	.section .rodata
	.balign 8
	.globl trap_vector_table
trap_vector_table:
	.set i, 0
	.rept 256
	.quad trap_vectors + i * 16
	.set i, i + 1
	.endr

/* int unit_setjmp(struct unit_jmpbuf *jb): saves callee-saved registers,
 * RSP and the return address; returns 0, or the value given to longjmp. */
	.text
	.globl unit_setjmp
unit_setjmp:
	movq %rbx, 0(%rdi)
	movq %rbp, 8(%rdi)
	movq %r12, 16(%rdi)
	movq %r13, 24(%rdi)
	movq %r14, 32(%rdi)
	movq %r15, 40(%rdi)
	leaq 8(%rsp), %rax
	movq %rax, 48(%rdi)
	movq (%rsp), %rax
	movq %rax, 56(%rdi)
	xorl %eax, %eax
	ret

/* void unit_longjmp(struct unit_jmpbuf *jb, int val) */
	.globl unit_longjmp
unit_longjmp:
	movl %esi, %eax
	testl %eax, %eax
	jnz 1f
	incl %eax
1:	movq 0(%rdi), %rbx
	movq 8(%rdi), %rbp
	movq 16(%rdi), %r12
	movq 24(%rdi), %r13
	movq 32(%rdi), %r14
	movq 40(%rdi), %r15
	movq 48(%rdi), %rsp
	jmpq *56(%rdi)
