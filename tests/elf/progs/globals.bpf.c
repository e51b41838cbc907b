/* Global data: .rodata options set before load, .data and .bss written by the program,
 * a legacy "maps" section map, .kconfig externs and a string in .rodata.str1.1. */
#include "bpf_helpers.h"

struct bpf_map_def {
	unsigned int type;
	unsigned int key_size;
	unsigned int value_size;
	unsigned int max_entries;
	unsigned int map_flags;
};

struct bpf_map_def SEC("maps") legacy = {
	.type = BPF_MAP_TYPE_ARRAY,
	.key_size = sizeof(__u32),
	.value_size = sizeof(__u64),
	.max_entries = 4,
};

struct config {
	__u32 target_pid;
	__s32 scale;
	char tag[8];
};

const volatile struct config cfg = { .target_pid = 0, .scale = 1, .tag = "none" };
const volatile __u64 multiplier = 3;
__u64 data_counter = 100;
__s64 last_scaled = 0;
__u32 seen_pid = 0;
char seen_tag[8] = {};
__u32 kernel_version = 0;
__u32 has_bpf_config = 0;

extern unsigned int LINUX_KERNEL_VERSION __kconfig;
extern bool CONFIG_BPF_SYSCALL __kconfig __weak;
extern bool CONFIG_PYBPF_NOT_A_REAL_OPTION __kconfig __weak;

SEC("tracepoint/syscalls/sys_enter_getpgid")
int globals(void *ctx)
{
	__u32 pid = bpf_get_current_pid_tgid() >> 32, key = 1;
	__u64 *slot;

	if (cfg.target_pid && pid != cfg.target_pid)
		return 0;
	data_counter += multiplier;
	last_scaled = (__s64)cfg.scale * 7;
	seen_pid = pid;
	for (int i = 0; i < 8; i++)
		seen_tag[i] = cfg.tag[i];
	kernel_version = LINUX_KERNEL_VERSION;
	has_bpf_config = CONFIG_BPF_SYSCALL + 2 * CONFIG_PYBPF_NOT_A_REAL_OPTION;
	slot = bpf_map_lookup_elem(&legacy, &key);
	if (slot)
		*slot += 1;
	return 0;
}
