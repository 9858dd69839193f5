/* Capability sensor: every capable() check with the capability and the kernel's verdict. */
TRACEPOINT_PROBE(capability, cap_capable)
{
    u32 tgid = bpf_get_current_pid_tgid() >> 32;
    if (skip_task(tgid) || !send_of(0, K_CAP, NOT_AN_OPEN))
        return 0;
    struct record *r = new_record(K_CAP, 0, args->ret);
    if (!r)
        return 0;
    r->args[0] = args->cap;
    submit(r, 1);
    return 0;
}
