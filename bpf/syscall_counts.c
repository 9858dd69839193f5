/* Per-container syscall counting for behaviour profiles: how often each container cgroup
 * used each syscall number, counted here and never sent per call. It runs on every syscall
 * of the host, so it is loaded only when profiles need it (`--profile`, `--syscall-counts`);
 * host processes then pay one failed hash lookup per syscall (their cgroups are never
 * registered, the agent's included).
 */
static __always_inline void count_syscall(u32 nr)
{
    u64 cg = bpf_get_current_cgroup_id();
    struct sc_counts *counts = syscall_counts.lookup(&cg);
    if (!counts)
        return;
    __sync_fetch_and_add(&counts->calls[nr & (SYSCALL_SLOTS - 1)], 1);
}
