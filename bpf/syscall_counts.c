/* Per-container syscall counting for behaviour profiles: how often each container cgroup
 * used each syscall number, counted here and never sent per call. It runs on every syscall
 * of the host, so it is loaded only when profiles need it (`--profile`, `--syscall-counts`);
 * host processes then pay one failed hash lookup per syscall (their cgroups are never
 * registered, the agent's included).
 */
/* The container runtime's own init sets the container up inside its cgroup before the
 * workload runs: mount, pivot_root, sethostname, setns, capset, the execveat of its cloned
 * binary are the runtime's, not the workload's. runc starts it as /proc/self/exe (named
 * `exe`), it may run as `runc`, then renames itself runc:[0:PARENT], [1:CHILD], [2:INIT].
 * Asked only while a container's count of a syscall is still zero: once per name.
 */
static __always_inline bool runtime_init(void)
{
    char comm[16] = {};
    bpf_get_current_comm(comm, sizeof(comm));
    if (comm[0] == 'e' && comm[1] == 'x' && comm[2] == 'e' && comm[3] == 0)
        return true;
    return comm[0] == 'r' && comm[1] == 'u' && comm[2] == 'n' && comm[3] == 'c' &&
           (comm[4] == 0 || comm[4] == ':');
}

static __always_inline void count_syscall(u32 nr)
{
    u64 cg = bpf_get_current_cgroup_id();
    struct sc_counts *counts = syscall_counts.lookup(&cg);
    if (!counts)
        return;
    u32 slot = nr & (SYSCALL_SLOTS - 1);
    u64 *calls = &counts->calls[slot];
    if (*calls == 0) {
        if (runtime_init())
            return;
        /* two first calls racing on two CPUs: either caller is a true first one */
        counts->first_tgid[slot] = bpf_get_current_pid_tgid() >> 32;
    }
    __sync_fetch_and_add(calls, 1);
}
