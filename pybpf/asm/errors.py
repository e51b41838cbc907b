"""The one exception type of the assembler."""


class AsmError(ValueError):
    """Bad assembly text, bad builder arguments, or bytes that do not decode.

    For text errors, ``line`` and ``col`` are 1-based and ``text`` is the offending line.
    """

    def __init__(
        self,
        message: str,
        *,
        line: int | None = None,
        col: int | None = None,
        text: str | None = None,
    ) -> None:
        self.message = message
        self.line = line
        self.col = col
        self.text = text
        super().__init__(self._render())

    def _render(self) -> str:
        if self.line is None:
            return self.message
        where = f"{self.line}:{self.col or 1}"
        out = f"{where}: {self.message}"
        if self.text is not None:
            caret = " " * max((self.col or 1) - 1, 0) + "^"
            out += f"\n    {self.text}\n    {caret}"
        return out
