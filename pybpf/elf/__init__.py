"""Loading clang-built `.bpf.o` objects with CO-RE, without libbpf.

    from pybpf.elf import Object

    with Object.open("prog.bpf.o") as obj:
        obj.rodata.target_pid = 42
        obj.load()
        obj.attach_all()
        ...
        print(dict(obj.maps.counts.items()))

Modules: `reader` (ELF), `validate` (refusing damaged objects: relocations checked as libbpf
checks them), `btfext` (.BTF.ext), `btfpatch` (BTF fix-ups before loading),
`mapspec` (map definitions), `kconfig` (.kconfig externs), `core` (CO-RE), `insns` and
`linker` (relocations, bpf-to-bpf calls), `sections` (section names), `objmaps` (map
creation), `values` (BTF-typed values), `globaldata` (.rodata/.data/.bss views), `loader`
and `attach` (load and attach), `object` (the `Object` API).
"""

from pybpf.elf.errors import ElfError, TargetNeededError
from pybpf.elf.object import Object
from pybpf.elf.objprog import ObjectProgram

__all__ = ["ElfError", "Object", "ObjectProgram", "TargetNeededError"]
