"""Values a construct needs before the stack has made them: tokens filled in later in the construction.

The app instance's user data is rendered when the instance is made, but with a Cognito login it names
the CloudFront distribution's domain, and the distribution (whose origin is the instance's address) can
only be made after the instance. `DeferredSettings` hands the instance tokens at once and their values
(themselves tokens of the distribution and the user pool) once those exist; synthesis resolves them.
"""

from __future__ import annotations

import jsii
from aws_cdk import IResolvable, IResolveContext, Token


@jsii.implements(IResolvable)
class _DeferredValue:
    """A token whose value is given after it is used (resolved at synthesis)."""

    def __init__(self, name: str) -> None:
        self.name = name
        self.value: str | None = None
        self.creation_stack: list[str] = []

    def resolve(self, context: IResolveContext) -> str:
        if self.value is None:
            raise ValueError(f"{self.name} was never filled in")
        return self.value

    def to_string(self) -> str:
        return Token.as_string(self)


class DeferredSettings:
    """Environment variables whose values are known only later in the stack's construction (lazy tokens)."""

    def __init__(self, names: tuple[str, ...]) -> None:
        self._values = {name: _DeferredValue(name) for name in names}
        self.tokens: dict[str, str] = {name: Token.as_string(value) for name, value in self._values.items()}

    def fill(self, values: dict[str, str]) -> None:
        if set(values) != set(self._values):
            raise ValueError(f"expected {sorted(self._values)}, got {sorted(values)}")
        for name, value in values.items():
            self._values[name].value = value
