"""A BTF look-up that misses searches for "did you mean" names only when its message (or
its suggestions) is asked for (issue 20: a miss cost 0.5-1 s of suggestions over every
kernel name, paid by callers that discard them, such as the loader trying fentry targets)."""

from __future__ import annotations

import pytest

from pybpf.btf import BTF
from pybpf.btf.errors import BTFNotFoundError
from pybpf.btf.kernel import kernel_btf


def test_miss_does_not_search_until_asked(monkeypatch: pytest.MonkeyPatch) -> None:
    btf = kernel_btf()
    calls: list[str] = []
    real = BTF.suggest

    def counting(self: BTF, name: str, kind: str | None = None, n: int = 3) -> list[str]:
        calls.append(name)
        return real(self, name, kind, n)

    monkeypatch.setattr(BTF, "suggest", counting)
    with pytest.raises(BTFNotFoundError) as e:
        btf.find("task_strct", "struct")
    assert calls == []
    assert "did you mean 'task_struct'" in str(e.value)
    assert calls == ["task_strct"]
    assert "task_struct" in e.value.suggestions and calls == ["task_strct"]  # searched once


def test_member_miss_is_lazy_too() -> None:
    task = kernel_btf().find("task_struct", "struct")
    with pytest.raises(BTFNotFoundError) as e:
        task.member("tgidd")
    assert e.value._found is None  # nothing searched yet
    assert "did you mean 'tgid'" in str(e.value)


def test_given_suggestions_still_work() -> None:
    e = BTFNotFoundError("no x", ["y", "z"])
    assert str(e) == "no x; did you mean 'y', 'z'?" and e.suggestions == ["y", "z"]
    assert str(BTFNotFoundError("no x")) == "no x"
