/* __ksym externs: kfunc calls (the open-coded number iterator), a __weak kfunc that exists
 * and one that does not (bpf_ksym_exists), an untyped ksym from /proc/kallsyms and a missing
 * __weak typed variable. */
#include "bpf_helpers.h"

#define __ksym __attribute__((section(".ksyms")))
#define bpf_ksym_exists(sym) ({ _Static_assert(!__builtin_constant_p(!!sym), \
	#sym " should be marked as __weak"); !!sym; })

struct bpf_iter_num {
	__u64 __opaque[1];
} __attribute__((aligned(8)));

extern int bpf_iter_num_new(struct bpf_iter_num *it, int start, int end) __ksym;
extern int *bpf_iter_num_next(struct bpf_iter_num *it) __ksym;
extern void bpf_iter_num_destroy(struct bpf_iter_num *it) __ksym;
extern void bpf_rcu_read_lock(void) __ksym __weak;
extern void bpf_rcu_read_unlock(void) __ksym __weak;
extern void bpf_no_such_kfunc___(void) __ksym __weak;
extern const void _stext __ksym;
extern const int no_such_var___ __ksym __weak;

struct result {
	__u64 sum, stext, pid, has_missing, has_rcu, has_var;
};

struct {
	__uint(type, BPF_MAP_TYPE_ARRAY);
	__uint(max_entries, 1);
	__type(key, __u32);
	__type(value, struct result);
} results SEC(".maps");

const volatile __u32 target_pid = 0;
const volatile int upto = 10;

SEC("tp/syscalls/sys_enter_getsid")
int use_ksyms(void *ctx)
{
	struct bpf_iter_num it;
	struct result *r;
	__u32 key = 0;
	int *v;

	if ((bpf_get_current_pid_tgid() >> 32) != target_pid)
		return 0;
	r = bpf_map_lookup_elem(&results, &key);
	if (!r)
		return 0;
	r->sum = 0;
	bpf_iter_num_new(&it, 0, upto);
	while ((v = bpf_iter_num_next(&it)))
		r->sum += *v;
	bpf_iter_num_destroy(&it);
	r->stext = (__u64)&_stext;
	r->has_missing = bpf_ksym_exists(bpf_no_such_kfunc___);
	if (bpf_ksym_exists(bpf_no_such_kfunc___))
		bpf_no_such_kfunc___();
	r->has_rcu = bpf_ksym_exists(bpf_rcu_read_lock);
	if (bpf_ksym_exists(bpf_rcu_read_lock)) {
		bpf_rcu_read_lock();
		r->pid = bpf_get_current_pid_tgid() >> 32;
		bpf_rcu_read_unlock();
	}
	r->has_var = &no_such_var___ != 0;
	return 0;
}
