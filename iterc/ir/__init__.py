"""The IR stage: one small typed IR of a step, lowered from the checked AST."""
from .lower import lower_method, lower_module
from .nodes import (Apply, Bind, Const, ForRegion, HyperIR, IfRegion, MethodIR, ModuleIR, Ref, SlotIR,
                    WhileRegion)

__all__ = ["lower_method", "lower_module", "Apply", "Bind", "Const", "ForRegion", "HyperIR", "IfRegion",
           "MethodIR", "ModuleIR", "Ref", "SlotIR", "WhileRegion"]
