/* Syscall sensor: identity changes, ptrace, mounts, namespaces, signals, bpf, module
 * loading, memfd, io_uring, chroot and pivot_root, with their string arguments.
 */
static __always_inline int finish_syscall(void *ctx)
{
    struct pending p;
    struct record *r = resume(ctx, &p);
    if (!r)
        return 0;
    u64 *a = p.args;
    switch (p.nr) {
    case __NR_mount:
    case __NR_pivot_root:
        read_two(r, (void *)a[0], (void *)a[1]);
        break;
    case __NR_umount2:
    case __NR_chroot:
    case __NR_memfd_create:
        read_two(r, (void *)a[0], 0);
        break;
    case __NR_init_module:
        read_two(r, (void *)a[2], 0);
        break;
    case __NR_finit_module:
        read_two(r, (void *)a[1], 0);
        break;
    default:
        break;
    }
    submit(r, 1);
    return 0;
}
