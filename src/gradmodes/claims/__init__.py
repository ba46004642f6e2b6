"""Every fact the site states, registered with the code that checks it.

>>> from gradmodes.claims import all_claims, check
>>> check("eval.flag").status
'verified'
>>> len(all_claims()) > 0
True
"""

# Importing a claims module registers its claims.
from gradmodes.claims import (  # noqa: F401
    attention,
    audit,
    autocast,
    backward_modes,
    census,
    checkpoint,
    compile,
    cross,
    ddp,
    eval_mode,
    export,
    func,
    hooks,
    inference_mode,
    lora,
    no_grad,
    performance,
    releases,
    requires_grad,
    versions,
)
from gradmodes.claims._registry import (
    Claim,
    ClaimFailed,
    CUDAUnavailable,
    Evidence,
    NoExpectation,
    Observer,
    UnknownClaim,
    all_claims,
    check,
    claim,
    get_claim,
)

__all__ = [
    "CUDAUnavailable",
    "Claim",
    "ClaimFailed",
    "Evidence",
    "NoExpectation",
    "Observer",
    "UnknownClaim",
    "all_claims",
    "check",
    "claim",
    "get_claim",
]
