/* File sensor: open/openat/openat2/creat, unlink*, rmdir, rename*, chmod*, chown*, symlink*, link*,
 * and chdir (so user space can resolve relative paths against the current directory).
 * Paths are read at syscall exit, while the caller's buffers are still mapped.
 */
struct open_how_uapi {
    u64 flags;
    u64 mode;
    u64 resolve;
};

static __always_inline int finish_file(void *ctx)
{
    struct pending p;
    struct record *r = resume(ctx, &p);
    if (!r)
        return 0;
    u64 *a = p.args;
    switch (p.nr) {
    case __NR_open:
    case __NR_creat:
    case __NR_unlink:
    case __NR_rmdir:
    case __NR_chmod:
    case __NR_chown:
    case __NR_lchown:
    case __NR_chdir:
        read_two(r, (void *)a[0], 0);
        break;
    case __NR_openat:
    case __NR_unlinkat:
    case __NR_fchmodat:
    case 452: /* fchmodat2 */
    case __NR_fchownat:
        read_two(r, (void *)a[1], 0);
        break;
    case __NR_openat2: {
        struct open_how_uapi how = {};
        bpf_probe_read_user(&how, sizeof(how), (void *)a[2]);
        r->args[2] = how.flags;
        r->args[3] = how.mode;
        r->args[4] = how.resolve;
        read_two(r, (void *)a[1], 0);
        break;
    }
    case __NR_rename:
    case __NR_symlink:
    case __NR_link:
        read_two(r, (void *)a[0], (void *)a[1]);
        break;
    case __NR_renameat:
    case __NR_renameat2:
    case __NR_linkat:
        read_two(r, (void *)a[1], (void *)a[3]);
        break;
    case __NR_symlinkat:
        read_two(r, (void *)a[0], (void *)a[2]);
        break;
    default: /* fchmod, fchown, fchdir: descriptor only */
        break;
    }
    if (open_unwanted(r, &p))
        return 0;
    submit(r, p.kind != K_CHDIR);
    return 0;
}
