"""tracefs: the mount helper, real tracepoint formats, errors, and BTF record structs."""

from __future__ import annotations

import os

import pytest

from pybpf.btf import tracefs
from pybpf.btf.tpformat import TracepointFormatError, parse_format

needs_root = pytest.mark.skipif(os.geteuid() != 0, reason="tracefs needs root")


def test_find_tracefs_in_mount_tables():
    assert tracefs.find_tracefs("proc /proc proc rw 0 0\n") is None
    assert tracefs.find_tracefs("nodev /sys/kernel/tracing tracefs rw 0 0\n") == "/sys/kernel/tracing"
    text = "tracefs /mnt/my\\040trace tracefs rw 0 0\nnodev /sys/kernel/tracing tracefs rw 0 0\n"
    assert tracefs.find_tracefs(text) == "/sys/kernel/tracing"
    assert tracefs.find_tracefs("tracefs /mnt/my\\040trace tracefs rw 0 0\n") == "/mnt/my trace"
    assert tracefs.find_tracefs("debugfs /sys/kernel/debug debugfs rw 0 0\n") == "/sys/kernel/debug/tracing"


@needs_root
def test_root_is_mounted():
    root = tracefs.tracefs_root()
    assert os.path.isdir(os.path.join(root, "events"))
    with open("/proc/mounts") as f:
        assert tracefs.find_tracefs(f.read()) is not None  # mounted now, if it was not before


def test_mount_failure_is_a_sentence(tmp_path):
    if os.geteuid() == 0:
        target = str(tmp_path / "missing" / "dir")  # ENOENT even for root
    else:
        target = str(tmp_path)
    with pytest.raises(tracefs.TracefsError) as info:
        tracefs.mount_tracefs(target)
    assert isinstance(info.value, OSError) and "mount -t tracefs nodev" in str(info.value)


def test_override_must_look_like_tracefs(tmp_path, monkeypatch):
    monkeypatch.setenv("PYBPF_TRACEFS", str(tmp_path))
    with pytest.raises(tracefs.TracefsError, match="no 'events' folder"):
        tracefs.tracefs_root()


@needs_root
def test_sys_enter_openat():
    fmt = tracefs.tracepoint_format("syscalls", "sys_enter_openat")
    assert fmt.group == "syscalls" and fmt.name == "sys_enter_openat" and fmt.id > 0
    assert [f.name for f in fmt.fields] == ["__syscall_nr", "dfd", "filename", "flags", "mode"]
    assert [(f.offset, f.size) for f in fmt.fields] == [(8, 4), (16, 8), (24, 8), (32, 8), (40, 8)]
    fn = fmt.field("filename")
    assert fn.is_pointer and fn.c_type == "const char *" and not fn.is_array
    assert fmt.field("__syscall_nr").signed
    assert fmt.common_size == 8 and fmt.size == 48
    assert [f.name for f in fmt.common_fields] == ["common_type", "common_flags", "common_preempt_count", "common_pid"]
    assert tracefs.tracepoint_id("syscalls:sys_enter_openat") == fmt.id


@needs_root
def test_sched_switch_arrays():
    fmt = tracefs.tracepoint_format("sched:sched_switch")
    comm = fmt.field("prev_comm")
    assert (comm.c_type, comm.offset, comm.size, comm.is_array, comm.array_len) == ("char[16]", 8, 16, True, 16)
    assert comm.is_string and not comm.is_pointer
    assert fmt.field("prev_pid").signed and fmt.field("prev_pid").size == 4
    assert "next_comm" in fmt


@needs_root
def test_data_loc_field():
    fmt = tracefs.tracepoint_format("sched", "sched_process_exec")
    fn = fmt.field("filename")
    assert fn.is_data_loc and fn.size == 4 and fn.c_type == "__data_loc char[]"
    assert fn.is_array and fn.array_len is None and fn.elem_type == "char" and fn.is_string


@needs_root
def test_unknown_tracepoint_suggests():
    with pytest.raises(KeyError) as info:
        tracefs.tracepoint_format("sched", "sched_swich")
    assert "sched:sched_swich" in str(info.value) and "sched:sched_switch" in str(info.value)
    with pytest.raises(KeyError, match="sched:sched_switch"):
        tracefs.tracepoint_format("shed", "sched_switch")  # wrong group: the right one is offered
    with pytest.raises(KeyError, match="did you mean 'prev_comm'"):
        tracefs.tracepoint_format("sched:sched_switch").field("prev_com")
    with pytest.raises(KeyError):
        tracefs.tracepoint_format("sched", "../../../etc")
    with pytest.raises(ValueError, match="group:name"):
        tracefs.tracepoint_format("sched_switch")


@needs_root
def test_group_wildcard():
    assert tracefs.tracepoint_format("*", "sched_switch").group == "sched"


@needs_root
def test_list_tracepoints():
    all_tps = tracefs.list_tracepoints()
    assert "sched:sched_switch" in all_tps and "syscalls:sys_enter_openat" in all_tps
    assert all(":" in tp for tp in all_tps)
    assert tracefs.list_tracepoints("sched:sched_switch") == ["sched:sched_switch"]
    opens = tracefs.list_tracepoints("syscalls:sys_enter_open*")
    assert "syscalls:sys_enter_openat" in opens and all(tp.startswith("syscalls:sys_enter_open") for tp in opens)
    assert tracefs.list_tracepoints("sched_switch") == ["sched:sched_switch"]


SAMPLE = """name: demo
ID: 42
format:
\tfield:unsigned short common_type;\toffset:0;\tsize:2;\tsigned:0;
\tfield:int common_pid;\toffset:4;\tsize:4;\tsigned:1;

\tfield:char comm[TASK_COMM_LEN];\toffset:8;\tsize:16;\tsigned:0;
\tfield:__u8 saddr[4];\toffset:24;\tsize:4;\tsigned:0;
\tfield:__rel_loc char[] msg;\toffset:28;\tsize:4;\tsigned:0;
\tfield:void * ptr;\toffset:32;\tsize:8;\tsigned:0;
\tfield:unsigned long args[6];\toffset:40;\tsize:48;\tsigned:0;

print fmt: "comm=%s", REC->comm
"""


def test_parse_sample():
    fmt = parse_format(SAMPLE, "g", "demo")
    assert fmt.id == 42 and fmt.common_size == 8 and fmt.size == 88
    assert fmt.field("comm").array_len == 16  # a macro length is worked out from the size
    assert fmt.field("saddr").c_type == "__u8[4]" and fmt.field("saddr").array_len == 4
    assert fmt.field("msg").is_rel_loc and fmt.field("msg").is_data_loc
    assert fmt.field("ptr").is_pointer and fmt.field("ptr").c_type == "void *"
    assert fmt.field("args").array_len == 6 and fmt.field("args").elem_type == "unsigned long"
    assert fmt.print_fmt.startswith('"comm=%s"')


@pytest.mark.parametrize(
    "text,message",
    [
        ("", "no 'ID:' line"),
        ("name: x\nID: abc\nformat:\n", "bad ID"),
        ("name: x\nID: 1\n", "no 'format:' section"),
        ("name: x\nID: 1\nformat:\n\tfield:int a;\toffset:zero;\tsize:4;\n", "line 4: cannot read"),
        ("name: x\nID: 1\nformat:\n\tfield:;\toffset:0;\tsize:4;\tsigned:1;\n", "field declaration"),
        ("name: x\nID: 1\n\tfield:int a;\toffset:0;\tsize:4;\tsigned:1;\n", "before 'format:'"),
        ("name: x\nID: 1\nformat:\n\tgarbage here\n", "unexpected text"),
    ],
)
def test_bad_format_text(text, message):
    with pytest.raises(TracepointFormatError, match=message):
        parse_format(text, "g", "x")


@needs_root
def test_btf_record_matches_tracefs(kbtf):
    from pybpf.btf.rawtp import record_fields

    for tp in ("sched:sched_switch", "sched:sched_process_exec", "sched:sched_wakeup", "block:block_rq_issue",
               "sock:inet_sock_set_state", "sched:sched_process_fork"):  # fmt: skip
        try:
            fmt = tracefs.tracepoint_format(tp)
        except KeyError:
            continue
        rec = kbtf.tracepoint_record(tp)
        assert record_fields(rec) == [f.name for f in fmt.fields], tp
        for f in fmt.fields:
            name = f"__data_loc_{f.name}" if f.is_data_loc else f.name
            assert rec.member(name).offset == f.offset, (tp, f.name)
        assert rec.member("ent").type.size == fmt.common_size
    # pid offsets agree between tracefs and the task_struct-free record
    assert kbtf.offsetof("trace_event_raw_sched_switch", "prev_pid") == tracefs.tracepoint_format(
        "sched:sched_switch"
    ).field("prev_pid").offset
