/* CO-RE through anonymous struct and union members: local flavours of the kernel's
 * struct sock and struct sock_common laid out differently, with their fields inside other
 * anonymous members than the kernel's, read from sock:inet_sock_set_state. */
#include "bpf_helpers.h"

struct sock_common___l {
	unsigned short skc_family;
	union {
		struct {
			__u16 skc_num;
			__u16 skc_dport;
		};
		__u32 skc_portpair;
	};
	struct {
		__u32 skc_rcv_saddr;
		union {
			__u32 skc_daddr;
		};
	};
	struct {
		unsigned char skc_reuseport : 1;
		unsigned char skc_reuse : 4;
	};
	int skc_not_in_kernel___;
} __core;

struct sock___l {
	long pad;
	struct sock_common___l __sk_common;
} __core;

struct set_state_args {
	__u64 common;
	const void *skaddr;
	int oldstate;
	int newstate;
	__u16 sport;
	__u16 dport;
	__u16 family;
	__u16 protocol;
};

struct seen {
	__u32 family, num, dport, rcv_saddr, daddr, reuse, reuseport;
	__u32 tp_family, tp_sport, tp_dport;
	__u32 dport_size, dport_offset, daddr_exists, missing_exists;
	__u32 count;
};

struct {
	__uint(type, BPF_MAP_TYPE_ARRAY);
	__uint(max_entries, 1);
	__type(key, __u32);
	__type(value, struct seen);
} seen SEC(".maps");

const volatile __u32 target_dport = 0; /* network order */

#define READ(dst, sk, field) BPF_CORE_READ_INTO(dst, sk, field)
#define READ_BITFIELD(sk, field) ({						\
	__u64 __v = 0;								\
	bpf_probe_read_kernel(&__v, __builtin_preserve_field_info((sk)->field, 1),	\
		(const void *)sk + __builtin_preserve_field_info((sk)->field, 0));	\
	__v <<= __builtin_preserve_field_info((sk)->field, 4);			\
	__v >>= __builtin_preserve_field_info((sk)->field, 5);			\
	__v; })

SEC("tracepoint/sock/inet_sock_set_state")
int on_state(struct set_state_args *ctx)
{
	struct sock___l *sk = (void *)ctx->skaddr;
	__u16 dport = 0, num = 0, family = 0;
	__u32 key = 0;
	struct seen *s;

	READ(&dport, sk, __sk_common.skc_dport);
	if (dport != target_dport || ctx->oldstate != 2 || ctx->newstate != 1)
		return 0; /* SYN_SENT -> ESTABLISHED of the client */
	s = bpf_map_lookup_elem(&seen, &key);
	if (!s)
		return 0;
	READ(&family, sk, __sk_common.skc_family);
	READ(&num, sk, __sk_common.skc_num);
	s->family = family;
	s->num = num;
	s->dport = dport;
	READ(&s->rcv_saddr, sk, __sk_common.skc_rcv_saddr);
	READ(&s->daddr, sk, __sk_common.skc_daddr);
	s->reuse = READ_BITFIELD(&sk->__sk_common, skc_reuse);
	s->reuseport = READ_BITFIELD(&sk->__sk_common, skc_reuseport);
	s->tp_family = ctx->family;
	s->tp_sport = ctx->sport;
	s->tp_dport = ctx->dport;
	s->dport_size = bpf_core_field_size(sk->__sk_common.skc_dport);
	s->dport_offset = bpf_core_field_offset(sk->__sk_common.skc_dport);
	s->daddr_exists = bpf_core_field_exists(sk->__sk_common.skc_daddr);
	s->missing_exists = bpf_core_field_exists(sk->__sk_common.skc_not_in_kernel___);
	s->count++;
	return 0;
}
