"""OpenQASM 3 gate modifiers (``inv @``, ``pow(k) @``, ``ctrl(n) @``, ``negctrl @``): what they cost
qiskit, estimated from the text before any parser runs.

qiskit builds a modified gate eagerly, and not linearly:

- ``pow`` of any gate that is not a rotation turns it into its full 2^n × 2^n matrix and raised to the
  power, then synthesised back into gates when the circuit is expanded — work and output grow as 4^n
  (a power of an 8-qubit gate is minutes of CPU). Controlling such a matrix gate is the same again.
  So a statement with ``pow`` may act on at most `MAX_POW_QUBITS` qubits in all.
- ``ctrl``/``negctrl`` with c controls turns every gate of the definition into a multi-controlled
  gate of roughly 40·c + 2·c² gates; the statement's gate count is multiplied accordingly.
- ``inv`` inverts the definition gate by gate: no extra cost.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

MODIFIERS = ("inv", "pow", "ctrl", "negctrl")
# The widest standard gates (ccx, cswap) act on three qubits; the matrix of a 3-qubit gate is 8 × 8.
MAX_POW_QUBITS = 3

_MODIFIER_START_RE = re.compile(r"^(inv|pow|ctrl|negctrl)\s*(?=[(@])")
_INT_RE = re.compile(r"^\s*(\d{1,4})\s*$")


class ModifierError(ValueError):
    """A modifier chain the portal refuses; the message is for the researcher."""


@dataclass(frozen=True)
class Modifiers:
    """The modifiers of one gate call and the call that follows them."""

    names: tuple[str, ...]
    controls: int  # ctrl/negctrl qubits in all
    call: str  # the statement with the modifiers removed: ``g q[0], q[1]``

    def cost_factor(self) -> int:
        """How many gates each gate of the modified gate becomes, at most."""
        c = self.controls
        return 1 if c == 0 else 40 * c + 2 * c * c


def split_modifiers(stmt: str) -> Modifiers:
    """Read the leading modifiers of a gate call. Raises ModifierError for what the estimate cannot
    bound: a power of a gate on more than MAX_POW_QUBITS qubits, or a malformed chain."""
    names: list[str] = []
    controls = 0
    unknown_controls = False
    rest = stmt
    while (m := _MODIFIER_START_RE.match(rest)) is not None:
        name = m.group(1)
        rest = rest[m.end() :]
        argument: str | None = None
        if rest.startswith("("):
            close = _closing_paren(rest)
            if close < 0:
                raise ModifierError(f"the argument of {name!r} has no closing bracket")
            argument, rest = rest[1:close], rest[close + 1 :].lstrip()
        if not rest.startswith("@"):
            raise ModifierError(f"expected '@' after the modifier {name!r}")
        rest = rest[1:].lstrip()
        names.append(name)
        if name in ("ctrl", "negctrl"):
            if argument is None:
                controls += 1
            elif (count := _INT_RE.match(argument)) is not None:
                controls += int(count.group(1))
            else:
                unknown_controls = True
    operands = operand_count(rest)
    if unknown_controls:  # a constant expression: at most every operand but one is a control
        controls = max(operands - 1, controls, 1)
    if "pow" in names and operands > MAX_POW_QUBITS:
        raise ModifierError(
            f"pow @ may modify a gate on at most {MAX_POW_QUBITS} qubits; this call acts on {operands}. "
            "A power of a wider gate is computed as its full matrix, which is too costly: "
            "repeat the gate for a whole power"
        )
    return Modifiers(tuple(names), controls, rest)


def _closing_paren(text: str) -> int:
    depth = 0
    for i, char in enumerate(text):
        if char == "(":
            depth += 1
        elif char == ")":
            depth -= 1
            if depth == 0:
                return i
    return -1


def operand_count(call: str) -> int:
    """Qubit arguments of a gate call without modifiers: ``rz(a, b) q[0], r`` has 2."""
    rest = call
    word = re.match(r"[A-Za-z_][A-Za-z0-9_]*", rest)
    rest = rest[word.end() :].lstrip() if word else rest
    if rest.startswith("("):
        close = _closing_paren(rest)
        rest = rest[close + 1 :] if close >= 0 else ""
    depth, count, seen = 0, 0, False
    for char in rest:
        if char in "([{":
            depth += 1
        elif char in ")]}":
            depth -= 1
        elif char == "," and depth == 0:
            count += 1
            continue
        if not char.isspace():
            seen = True
    return count + 1 if seen else 0
