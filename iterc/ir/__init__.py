"""The IR stage: A-normal-form SSA of a step or a solve, lowered from the checked AST,
with the passes every backend runs (`optimize`)."""
from .lower import lower_method, lower_module
from .nodes import (Apply, Assign, Block, Const, DType, For, HyperIR, If, LeafPattern, MethodIR, ModuleIR, Operand,
                    OptimizerIR, RuleIR, choose_rule,
                    OracleIR, Origin, Phase, Place, SlotIR, SolverIR, Var, While)
from .passes import Rewriter, cse, dce, decompose, optimize, optimize_module, walk

__all__ = ["lower_method", "lower_module", "Apply", "Assign", "Block", "Const", "DType", "For", "HyperIR", "If",
           "LeafPattern", "RuleIR", "choose_rule",
           "MethodIR", "ModuleIR", "Operand", "OptimizerIR", "OracleIR", "Origin", "Phase", "Place", "SlotIR", "SolverIR",
           "Var", "While", "Rewriter", "cse", "dce", "decompose", "optimize", "optimize_module", "walk"]
