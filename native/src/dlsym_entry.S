/*
 * The exported dlsym. glibc resolves dlsym(RTLD_NEXT, name) relative to the
 * object that called it, found from the return address. A C wrapper would
 * make every RTLD_NEXT lookup relative to this library, and an interposer
 * loaded after us that looks up the function it wraps would get itself back.
 * So RTLD_NEXT jumps straight to the real dlsym with the caller's return
 * address untouched; every other lookup goes through tessera_dlsym_hook.
 */
#if defined(__x86_64__)
    .text
    .globl dlsym
    .type dlsym, @function
dlsym:
    .cfi_startproc
    cmpq $-1, %rdi
    je 1f
    jmp tessera_dlsym_hook
1:
    movq tessera_real_dlsym(%rip), %rax
    testq %rax, %rax
    jz 2f
    jmp *%rax
2:
    pushq %rdi
    .cfi_adjust_cfa_offset 8
    pushq %rsi
    .cfi_adjust_cfa_offset 8
    subq $8, %rsp
    .cfi_adjust_cfa_offset 8
    call tessera_dlsym_prepare
    addq $8, %rsp
    .cfi_adjust_cfa_offset -8
    popq %rsi
    .cfi_adjust_cfa_offset -8
    popq %rdi
    .cfi_adjust_cfa_offset -8
    movq tessera_real_dlsym(%rip), %rax
    jmp *%rax
    .cfi_endproc
    .size dlsym, .-dlsym
#elif defined(__aarch64__)
    .text
    .globl dlsym
    .type dlsym, %function
dlsym:
    .cfi_startproc
    cmn x0, #1
    b.eq 1f
    b tessera_dlsym_hook
1:
    adrp x16, tessera_real_dlsym
    ldr x16, [x16, :lo12:tessera_real_dlsym]
    cbz x16, 2f
    br x16
2:
    stp x0, x1, [sp, #-32]!
    .cfi_adjust_cfa_offset 32
    str x30, [sp, #16]
    bl tessera_dlsym_prepare
    ldr x30, [sp, #16]
    ldp x0, x1, [sp], #32
    .cfi_adjust_cfa_offset -32
    adrp x16, tessera_real_dlsym
    ldr x16, [x16, :lo12:tessera_real_dlsym]
    br x16
    .cfi_endproc
    .size dlsym, .-dlsym
#else
#error "dlsym entry point: add this architecture (x86_64 and aarch64 are supported)"
#endif
    .section .note.GNU-stack,"",%progbits
