/* CO-RE: task_struct fields read through local flavours whose layout differs from the
 * kernel's; field existence, sizes, type and enum relocations. */
#include "bpf_helpers.h"

/* fields deliberately in another order than the kernel's, with a missing one */
struct task_struct___x {
	char comm[16];
	int not_a_real_field___;
	struct task_struct___x *real_parent;
	int tgid;
	int pid;
} __core;

struct task_struct {
	int pid;
	int tgid;
} __core;

struct not_in_kernel___y {
	int a;
} __core;

enum bpf_map_type___local {
	BPF_MAP_TYPE_RINGBUF___local = 99,
	BPF_MAP_TYPE_NOT_THERE___local = 12345,
};

struct result {
	__u32 pid;
	__u32 tgid;
	__u32 ppid;
	__u32 pid_plain;
	__u32 missing_exists;
	__u32 pid_exists;
	__u32 comm_size;
	__u32 pid_signed;
	__u32 task_type_exists;
	__u32 missing_type_exists;
	__u64 task_size;
	__u64 ringbuf_value;
	__u32 ringbuf_exists;
	__u32 not_there_exists;
	char comm[16];
};

struct {
	__uint(type, BPF_MAP_TYPE_ARRAY);
	__uint(max_entries, 1);
	__type(key, __u32);
	__type(value, struct result);
} results SEC(".maps");

const volatile __u32 target_pid = 0;

SEC("tp/syscalls/sys_enter_getsid")
int read_task(void *ctx)
{
	struct task_struct___x *t = bpf_get_current_task(), *parent = 0;
	struct task_struct *plain = (void *)t;
	__u32 key = 0;
	struct result *r;
	int ppid = 0;

	if ((bpf_get_current_pid_tgid() >> 32) != target_pid)
		return 0;
	r = bpf_map_lookup_elem(&results, &key);
	if (!r)
		return 0;
	BPF_CORE_READ_INTO(&r->pid, t, pid);
	BPF_CORE_READ_INTO(&r->tgid, t, tgid);
	BPF_CORE_READ_INTO(&parent, t, real_parent);
	BPF_CORE_READ_INTO(&ppid, parent, tgid);
	r->ppid = ppid;
	BPF_CORE_READ_INTO(&r->pid_plain, plain, pid);
	BPF_CORE_READ_INTO(&r->comm, t, comm);
	r->missing_exists = bpf_core_field_exists(t->not_a_real_field___);
	if (bpf_core_field_exists(t->not_a_real_field___))
		BPF_CORE_READ_INTO(&r->missing_exists, t, not_a_real_field___);
	r->pid_exists = bpf_core_field_exists(t->pid);
	r->comm_size = bpf_core_field_size(t->comm);
	r->pid_signed = bpf_core_field_signed(t->pid);
	r->task_type_exists = bpf_core_type_exists(struct task_struct___x);
	r->missing_type_exists = bpf_core_type_exists(struct not_in_kernel___y);
	r->task_size = bpf_core_type_size(struct task_struct);
	r->ringbuf_exists = bpf_core_enum_value_exists(enum bpf_map_type___local, BPF_MAP_TYPE_RINGBUF___local);
	r->ringbuf_value = bpf_core_enum_value(enum bpf_map_type___local, BPF_MAP_TYPE_RINGBUF___local);
	r->not_there_exists = bpf_core_enum_value_exists(enum bpf_map_type___local, BPF_MAP_TYPE_NOT_THERE___local);
	return 0;
}
