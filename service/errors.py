"""Errors the API turns into 4xx answers: an HTTP status, a machine code, the verdict (when the refusal is one of the
issue's verdicts) and one sentence that says what was wrong."""

from __future__ import annotations


class ApiError(Exception):
    """A refused request. `verdict` is set for refusals that are security verdicts (audited in `rejections`)."""

    def __init__(self, status: int, code: str, message: str, verdict: str | None = None) -> None:
        super().__init__(message)
        self.status = status
        self.code = code
        self.message = message
        self.verdict = verdict

    def body(self) -> dict[str, object]:
        return {"error": {"code": self.code, "verdict": self.verdict, "message": self.message}}
