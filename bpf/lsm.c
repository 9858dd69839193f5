/* BPF-LSM enforcer: the same Block entries as kill mode (bpf/enforce.c), refused with -EPERM
 * in the LSM hooks, as KubeArmor's BPF-LSM enforcer does, instead of killing the caller.
 *
 * Compiled after common.h and enforce.c (whose maps and matching it shares). Only for
 * kernels where `bpf` is an active LSM: `beholder probe` and `beholder run` try the attach
 * and say when it is refused. The path comes from the kernel (bpf_d_path), so unlike kill
 * mode a relative path or a symlink is judged by the file really opened or executed.
 * The hooks read nothing from kernel structs but the `struct path` they hand to bpf_d_path:
 * the verifier checks that pointer against the kernel's BTF, so a header tree that differs
 * from the running kernel is a load error, never a misread field. Open flags are such a
 * field, so readOnly Block rules are not enforced here (kill mode enforces them).
 */
/* linux/fs.h and linux/binfmts.h come first (sensors/lsm.py), before common.h. */
#define EPERM_NR 1

static __always_inline int lsm_path_verdict(u32 klass, const struct path *path, u64 open_flags)
{
    if (skip_task(bpf_get_current_pid_tgid() >> 32))
        return 0;
    u64 scope = enforce_scope();
    if (scope == ENF_NONE)
        return 0;
    struct enf_key *k = enforce_key();
    if (!k)
        return 0;
    if (bpf_d_path((struct path *)path, k->path, ENF_PATH) <= 0)
        return 0;
    if (!enforce_match(k, klass, scope, open_flags))
        return 0;
    enforce_count(ENF_ST_KILLED);
    return -EPERM_NR;
}

LSM_PROBE(bprm_check_security, struct linux_binprm *bprm)
{
    return lsm_path_verdict(ENF_EXEC, &bprm->file->f_path, 0);
}

LSM_PROBE(file_open, struct file *file)
{
    return lsm_path_verdict(ENF_FILE, &file->f_path, 0);  /* 0: judged as a read */
}

LSM_PROBE(socket_create, int family, int type, int protocol, int kern)
{
    if (kern || skip_task(bpf_get_current_pid_tgid() >> 32))
        return 0;
    u64 scope = enforce_scope();
    if (scope == ENF_NONE)
        return 0;
    if (!enforce_socket(scope, family, type, protocol))
        return 0;
    enforce_count(ENF_ST_KILLED);
    return -EPERM_NR;
}
