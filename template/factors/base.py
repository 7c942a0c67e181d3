"""What every factor shares."""

from abc import ABC, abstractmethod
from dataclasses import dataclass
from typing import ClassVar

from ..identity import IdentityId


@dataclass(frozen=True, slots=True)
class FactorResult:
    """Proof that ``identity_id`` passed the factor named ``factor``."""

    factor: str
    identity_id: IdentityId
    amr: tuple[str, ...]


class Factor(ABC):
    """A way to prove who you are, used as a step of a sign-in.

    ``identifies`` factors can start a sign-in (they find the identity);
    ``second_factor`` ones, once enrolled, are required after the first.
    """

    id: ClassVar[str]
    amr: ClassVar[tuple[str, ...]]
    identifies: ClassVar[bool]
    second_factor: ClassVar[bool]

    @abstractmethod
    async def is_enrolled(self, identity_id: IdentityId) -> bool:
        """Whether the identity has set this factor up."""

    def passed(self, identity_id: IdentityId) -> FactorResult:
        """The result recording that the identity passed this factor."""
        return FactorResult(
            factor=self.id,
            identity_id=identity_id,
            amr=self.amr,
        )
