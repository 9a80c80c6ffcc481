"""Known platforms, and linking texts to them."""

from trustscope.platforms.linker import PlatformLinker
from trustscope.platforms.models import Platform, PlatformPatch
from trustscope.platforms.registry import PlatformRegistry, default_platforms

__all__ = ["Platform", "PlatformPatch", "PlatformLinker", "PlatformRegistry", "default_platforms"]
