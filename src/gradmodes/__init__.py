"""gradmodes: small, verified examples of PyTorch's training and gradient switches."""

from gradmodes.models import SimpleModel

__all__ = ["SimpleModel"]
