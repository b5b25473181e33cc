/* arch/switch_x86_64_sysv.S: context switch for the x86-64 System V ABI.
 *
 * Saved frame, lowest address first (the suspended stack pointer points at
 * r15):  r15 r14 r13 r12 rbx rbp return-address
 * rbp sits directly below the return address, so a frame-pointer walker
 * can follow a parked context from its saved stack pointer + 40.
 *
 * A suspended context resumes by `ret` (context.hpp says why), except a
 * fresh one, whose return address is the trampoline: that one is entered
 * by a direct jump. A `ret` there would never be predicted (the predictor's
 * top entry is the switch's call site), and a batch of fresh goroutines
 * started in a row would pay that miss each time.
 */
#if defined(__x86_64__) && !defined(_WIN32)

    .text

/* void* goro_switch_context(void** save_sp, void* resume_sp, void* transfer) */
    .globl  goro_switch_context
    .type   goro_switch_context, @function
    .p2align 4
goro_switch_context:
    .cfi_startproc
    pushq   %rbp
    .cfi_adjust_cfa_offset 8
    .cfi_rel_offset %rbp, 0
    pushq   %rbx
    .cfi_adjust_cfa_offset 8
    pushq   %r12
    .cfi_adjust_cfa_offset 8
    pushq   %r13
    .cfi_adjust_cfa_offset 8
    pushq   %r14
    .cfi_adjust_cfa_offset 8
    pushq   %r15
    .cfi_adjust_cfa_offset 8
    movq    %rsp, (%rdi)
    movq    %rsi, %rsp
    popq    %r15
    popq    %r14
    popq    %r13
    popq    %r12
    popq    %rbx
    popq    %rbp
    movq    %rdx, %rax
    leaq    goro_context_trampoline(%rip), %rcx
    cmpq    %rcx, (%rsp)
    je      1f
    ret
1:  addq    $8, %rsp                /* a fresh context: see the file comment */
    jmp     goro_context_trampoline
    .cfi_endproc
    .size   goro_switch_context, .-goro_switch_context

/* The first frame of every fresh context: r12 holds the entry function and
 * rax the transfer value of the switch that resumed us. The return address
 * column is undefined, which tells unwinders that the call chain ends here. */
    .type   goro_context_trampoline, @function
    .p2align 4
goro_context_trampoline:
    .cfi_startproc
    .cfi_undefined rip
    movq    %rax, %rdi
    callq   *%r12
    ud2
    .cfi_endproc
    .size   goro_context_trampoline, .-goro_context_trampoline

/* void* goro_make_context(void* stack_top, ContextEntry entry) */
    .globl  goro_make_context
    .type   goro_make_context, @function
    .p2align 4
goro_make_context:
    .cfi_startproc
    andq    $-16, %rdi              /* 16-byte align the top */
    leaq    -72(%rdi), %rax         /* 7 saved words, then a zero word, so  */
                                    /* the trampoline's call is 16-aligned  */
    leaq    goro_context_trampoline(%rip), %rcx
    movq    %rcx, 48(%rax)          /* return address */
    movq    $0, 40(%rax)            /* rbp: ends frame-pointer chains */
    movq    $0, 32(%rax)            /* rbx */
    movq    %rsi, 24(%rax)          /* r12: entry */
    movq    $0, 16(%rax)            /* r13 */
    movq    $0, 8(%rax)             /* r14 */
    movq    $0, 0(%rax)             /* r15 */
    movq    $0, 56(%rax)            /* a zero word above, for frame walkers */
    ret
    .cfi_endproc
    .size   goro_make_context, .-goro_make_context

#endif

    .section .note.GNU-stack,"",@progbits
