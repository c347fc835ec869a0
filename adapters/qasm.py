"""OpenQASM 2 / 3 text → IR, and IR → OpenQASM 2.

OpenQASM is untrusted input from the API. Before any parser sees it, `check_limits` runs a linear,
comment-aware scan and refuses what is too big or not supported: text size, declared qubits,
statement count, the gate count after expanding user-defined gates (a "billion laughs" of nested
gate definitions is a few lines of text), bracket nesting, expression length, includes other than
the standard library (never a file path), pulse-level and classical blocks (``opaque``, ``extern``,
``defcal``, ``cal``, ``if``, ``for``, ``while``, ``reset``…), and any gate after a measurement.
Gate modifiers count at what qiskit will make of them (`adapters.qasm_modifiers`): a power of a
gate wider than three qubits is refused, controls multiply a call's gates. Each refusal is a
`QasmError` with ``field = "params.qasm"`` and the line when known, raised in milliseconds even for
a 10 MB text. Only then do qiskit's parsers run (`qiskit.qasm2.loads` with the standard include;
`qiskit.qasm3.loads` through qiskit-qasm3-import), and their errors are reported the same way. A
parse runs under a CPU-time budget (`adapters.cpu_budget`) and is remembered by the program's
statements, comments and layout aside.
"""

from __future__ import annotations

import hashlib
import re
import threading
from collections import OrderedDict
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

from adapters.cpu_budget import CpuBudgetExceeded, cpu_budget
from adapters.ir import GATES, Circuit, IRError
from adapters.qasm_modifiers import MAX_POW_QUBITS, ModifierError, split_modifiers

if TYPE_CHECKING:
    import qiskit

MAX_QASM_BYTES = 256 * 1024
MAX_STATEMENTS = 100_000  # OpenQASM 2 (qiskit's parser is Rust; the size and gate caps usually bind first)
MAX_STATEMENTS_QASM3 = 5_000  # OpenQASM 3: the ANTLR-based parser reads only ~4k statements per second
# Gates once user-defined gates and register broadcasts are expanded: parsing and converting cost
# ~35 µs a gate, so this bounds the work a 6 KB program of broadcasts can ask for to ~2 s.
MAX_EXPANDED_GATES = 50_000
MAX_GATE_DEFINITIONS = 500  # qiskit builds a gate class per definition
MAX_NESTING = 32  # brackets of any kind: ( [ {; also how deep gate definitions may call each other
MAX_OPERATORS = 128  # arithmetic operators in one statement (the OpenQASM 3 AST recurses per operator)
MAX_REGISTER_DIGITS = 7
# The widest modelled device. Wider backends exist (the stabilizer simulator takes 1000 qubits) but a
# hand-written program that wide is far likelier an attack on the parser than a circuit to run.
MAX_QASM_QUBITS = 156
# CPU time one parse (qiskit's parser, expansion, conversion) may use: a bound on whatever the
# pre-parse estimate misses. The largest programs the limits admit parse well within it.
PARSE_CPU_SECONDS = 10.0

STANDARD_INCLUDES = {2: "qelib1.inc", 3: "stdgates.inc"}
# Keywords that open pulse-level, external, classical-control or non-unitary constructs.
REFUSED = {
    "opaque": "opaque gates have no definition to run",
    "extern": "extern functions are not supported",
    "defcal": "pulse-level calibrations (defcal) are not supported",
    "defcalgrammar": "pulse-level calibrations (defcalgrammar) are not supported",
    "cal": "pulse-level calibration blocks (cal) are not supported",
    "def": "subroutines (def) are not supported",
    "if": "classical control (if) is not supported: measure only at the end",
    "else": "classical control (else) is not supported: measure only at the end",
    "while": "loops (while) are not supported",
    "for": "loops (for) are not supported",
    "switch": "classical control (switch) is not supported",
    "reset": "reset is not supported: circuits start in |0…0⟩ and measure only at the end",
    "box": "box blocks are not supported",
    "delay": "delay is not supported",
    "return": "subroutines are not supported",
}
_NON_GATE = {"OPENQASM", "include", "qreg", "creg", "qubit", "bit", "gate", "barrier", "measure"}
_NON_GATE |= {"const", "int", "uint", "float", "angle", "bool", "complex", "input", "output", "let", "duration"}
_NON_GATE |= {"stretch", "array", "gphase"}

_TOKEN_RE = re.compile(r'//|/\*|"|[()\[\]{};\n]')
_IDENT_RE = re.compile(r"[A-Za-z_][A-Za-z0-9_]*")
_QREG2_RE = re.compile(r"^qreg\s+([A-Za-z_]\w*)\s*\[\s*(\d+)\s*\]$")
_QUBIT3_RE = re.compile(r"^qubit\s*(?:\[\s*(\d+)\s*\])?\s*([A-Za-z_]\w*)$")
_INCLUDE_RE = re.compile(r'^include\s*"([^"]*)"$')
_VERSION_RE = re.compile(r"^OPENQASM\s+(\d+)(?:\.(\d+))?$")
_MEASURE_RE = re.compile(r"(?:^|=)\s*measure\b")
_PHYSICAL_RE = re.compile(r"\$(\d+)")
_OPERATOR_RE = re.compile(r"[-+*/%^]")
_LINE_RE = re.compile(r"(\d+),(\d+):")


class QasmError(IRError):
    """OpenQASM the portal refuses; `line` and `column` are 1-based when known."""

    def __init__(self, message: str, line: int | None = None, column: int | None = None) -> None:
        self.line = line
        self.column = column
        self.reason = message
        where = f"line {line}, column {column}" if line and column else f"line {line}" if line else ""
        super().__init__("params.qasm", f"{where}: {message}" if where else message)


@dataclass
class _Statement:
    text: str
    line: int
    block: str | None  # the enclosing block's header keyword ("gate"), None at top level
    opens_block: bool = False


@dataclass
class QasmSummary:
    """What the pre-parse scan learned: enough to decide cheaply whether to parse at all."""

    version: int
    qubits: int
    statements: int
    expanded_gates: int
    gate_costs: dict[str, int] = field(default_factory=dict)
    # SHA-256 of the statements with comments and layout removed: what the parse depends on.
    normalised_sha256: str = ""


def _strip_and_split(text: str) -> list[_Statement]:
    """Comments removed, nesting checked, text cut into statements: one pass, linear in the text."""
    statements: list[_Statement] = []
    blocks: list[str] = []
    buf: list[str] = []
    start_line = line = 1
    started = False  # whether the current statement has any text yet (it starts on start_line)
    depth = 0
    pos = 0

    def add(piece: str) -> None:
        nonlocal started, start_line
        if not started and piece.strip():
            started, start_line = True, line
        buf.append(piece)

    def flush(opens: bool) -> None:
        nonlocal buf, started
        stmt = " ".join("".join(buf).split())
        if stmt or opens:
            statements.append(_Statement(stmt, start_line, blocks[-1] if blocks else None, opens))
        buf, started = [], False

    for match in _TOKEN_RE.finditer(text):
        lexeme, at = match.group(), match.start()
        if at < pos:  # inside a comment or string skipped below
            continue
        add(text[pos:at])
        pos = match.end()
        if lexeme == "\n":
            line += 1
            buf.append(" ")
        elif lexeme == "//":
            end = text.find("\n", pos)
            pos = len(text) if end < 0 else end
        elif lexeme == "/*":
            end = text.find("*/", pos)
            if end < 0:
                raise QasmError("unterminated /* comment", line)
            line += text.count("\n", pos, end)
            pos = end + 2
            buf.append(" ")
        elif lexeme == '"':
            end = text.find('"', pos)
            if end < 0 or "\n" in text[pos:end]:
                raise QasmError("unterminated string", line)
            add(text[at : end + 1])
            pos = end + 1
        elif lexeme in "([{":
            depth += 1
            if depth > MAX_NESTING:
                raise QasmError(f"brackets nested deeper than {MAX_NESTING} levels", line)
            if lexeme == "{":
                word = _IDENT_RE.match(" ".join("".join(buf).split()))
                flush(opens=True)
                blocks.append(word.group() if word else "")
            else:
                add(lexeme)
        elif lexeme in ")]}":
            depth -= 1
            if depth < 0:
                raise QasmError(f"unbalanced {lexeme!r}", line)
            if lexeme == "}":
                flush(opens=False)
                if not blocks:
                    raise QasmError("unbalanced '}'", line)
                blocks.pop()
            else:
                add(lexeme)
        elif lexeme == ";":
            flush(opens=False)
    add(text[pos:])
    flush(opens=False)
    if depth:
        raise QasmError("unclosed bracket at the end of the program", line)
    return statements


def _gate_name(call: str) -> str | None:
    """The gate a call (modifiers stripped) names, or None when it is not a gate call."""
    word = _IDENT_RE.match(call)
    if word is None or word.group() in _NON_GATE:
        return None
    return word.group()


def _broadcast(call: str, registers: dict[str, int]) -> int:
    """How many gates a call (modifiers stripped) on whole registers expands to (``h q;`` on a
    5-qubit q is 5)."""
    rest = call[len(_IDENT_RE.match(call).group()) :].lstrip()  # type: ignore[union-attr]
    if rest.startswith("("):
        rest = rest[rest.rfind(")") + 1 :]
    names = [a.strip() for a in rest.split(",")]
    return max([registers[a] for a in names if a in registers] or [1])


def _version(statements: list[_Statement]) -> int:
    first = statements[0].text if statements else ""
    if not first.startswith("OPENQASM"):
        return 3  # OpenQASM 3 makes the header optional
    m = _VERSION_RE.match(first)
    if m is None or m.group(1) not in ("2", "3"):
        raise QasmError(f"unsupported version header {first!r}; use 'OPENQASM 2.0;' or 'OPENQASM 3.0;'", 1)
    return int(m.group(1))


def check_limits(text: str, *, max_qubits: int | None = None) -> QasmSummary:
    """Refuse, cheaply and before parsing, OpenQASM that is too big or uses what the IR cannot run."""
    if not isinstance(text, str):
        raise QasmError("must be a string of OpenQASM 2 or 3")
    # len() counts characters, each at least one byte: a cheap first bound before encoding.
    if len(text) > MAX_QASM_BYTES or len(text.encode("utf-8")) > MAX_QASM_BYTES:
        raise QasmError(f"program exceeds {MAX_QASM_BYTES} bytes ({MAX_QASM_BYTES // 1024} KiB)")
    if not text.strip():
        raise QasmError("program is empty")
    statements = _strip_and_split(text)
    version = _version(statements)
    max_statements = MAX_STATEMENTS if version == 2 else MAX_STATEMENTS_QASM3
    if len(statements) > max_statements:
        raise QasmError(f"{len(statements)} statements exceed the limit of {max_statements} for OpenQASM {version}")

    registers: dict[str, int] = {}
    qubits = physical = 0
    costs: dict[str, int] = {}  # user-defined gate → gates it expands to
    depths: dict[str, int] = {}  # user-defined gate → how deeply its definition nests others
    current_gate: str | None = None
    expanded = 0
    measured_at: int | None = None
    for stmt in statements:
        text_, line = stmt.text, stmt.line
        word_match = _IDENT_RE.match(text_)
        word = word_match.group() if word_match else ""
        if word in REFUSED:
            raise QasmError(REFUSED[word], line)
        if len(_OPERATOR_RE.findall(text_)) > MAX_OPERATORS:
            raise QasmError(f"expression has more than {MAX_OPERATORS} operators", line)
        if stmt.opens_block:
            if word != "gate" or stmt.block is not None:  # gate definitions only, never nested
                raise QasmError(f"unsupported block {text_[:40]!r}: only gate definitions may use braces", line)
            name = _IDENT_RE.match(text_[4:].strip())
            current_gate = name.group() if name else ""
            costs[current_gate], depths[current_gate] = 0, 1
            if len(costs) > MAX_GATE_DEFINITIONS:
                raise QasmError(f"more than {MAX_GATE_DEFINITIONS} gate definitions", line)
            continue
        if stmt.block is None:
            current_gate = None
        if word == "include":
            m = _INCLUDE_RE.match(text_)
            allowed = STANDARD_INCLUDES[version]
            if m is None or m.group(1) != allowed:
                shown = m.group(1) if m else text_[8:48]
                raise QasmError(f'include of {shown!r} refused: only "{allowed}" may be included', line)
            continue
        declared = 0
        if word == "qreg":
            m = _QREG2_RE.match(text_)
            if m is None:
                raise QasmError("qreg needs an integer size: qreg name[N];", line)
            declared = _size(m.group(2), line)
            registers[m.group(1)] = declared
        elif word == "qubit":
            m = _QUBIT3_RE.match(text_)
            if m is None:
                raise QasmError("qubit registers need an integer literal size: qubit[N] name;", line)
            declared = _size(m.group(1), line) if m.group(1) else 1
            registers[m.group(2)] = declared
        if declared:
            qubits += declared
            if qubits > (limit := qubit_limit(max_qubits)):
                raise QasmError(f"declares {qubits} qubits; OpenQASM programs may use at most {limit}", line)
            continue
        for index in _PHYSICAL_RE.findall(text_):
            physical = max(physical, _size(index, line) + 1)
            if physical > (limit := qubit_limit(max_qubits)):
                raise QasmError(f"uses physical qubit ${physical - 1}; OpenQASM programs may use at most {limit}", line)
        if _MEASURE_RE.search(text_):
            if stmt.block is not None:
                raise QasmError("measurement inside a gate definition is not allowed", line)
            measured_at = measured_at or line
            continue
        try:
            modified = split_modifiers(text_)
        except ModifierError as exc:
            raise QasmError(str(exc), line) from None
        gate = _gate_name(modified.call)
        if gate is None:
            continue
        cost = costs.get(gate, 1) * modified.cost_factor()
        if "pow" in modified.names:  # the power's matrix is synthesised back into gates: ~4^n of them
            cost += 4**MAX_POW_QUBITS
        if current_gate is not None:
            costs[current_gate] = min(costs[current_gate] + cost, MAX_EXPANDED_GATES + 1)
            depths[current_gate] = max(depths[current_gate], depths.get(gate, 0) + 1)
            if depths[current_gate] > MAX_NESTING:
                raise QasmError(f"gate definitions nest deeper than {MAX_NESTING} levels", line)
            continue
        if measured_at is not None:
            raise QasmError(
                f"gate {gate!r} follows the measurement on line {measured_at}: "
                "mid-circuit measurement is not supported, measure only at the end",
                line,
            )
        expanded += cost * _broadcast(modified.call, registers)
        if expanded > MAX_EXPANDED_GATES:
            raise QasmError(f"program expands to more than {MAX_EXPANDED_GATES} gates", line)
    return QasmSummary(version, max(qubits, physical), len(statements), expanded, costs, _normalised_sha256(statements))


def _normalised_sha256(statements: list[_Statement]) -> str:
    digest = hashlib.sha256()
    for stmt in statements:
        digest.update(f"{stmt.block or ''}\x1f{int(stmt.opens_block)}\x1f{stmt.text}\x1e".encode())
    return digest.hexdigest()


def _size(digits: str, line: int) -> int:
    if len(digits) > MAX_REGISTER_DIGITS:
        raise QasmError("register size is far too large", line)
    return int(digits)


def qubit_limit(max_qubits: int | None = None) -> int:
    """The most qubits an OpenQASM program may use: the caller's limit or the widest backend's,
    capped at MAX_QASM_QUBITS. Asked only once a program declares qubits, so that refusing a
    hostile text never waits for the registry's (heavy) first import."""
    return min(MAX_QASM_QUBITS, max_qubits if max_qubits is not None else default_max_qubits())


def default_max_qubits() -> int:
    """The widest backend's qubit limit (imported lazily: the registry loads every adapter)."""
    from adapters.registry import max_qubits_any

    return max_qubits_any()


# --- parsing ------------------------------------------------------------------------------------
def _qasm3_error_line(exc: BaseException) -> tuple[int | None, int | None, str]:
    """Dig the offending token out of openqasm3's bare QASM3ParsingError (ANTLR bail strategy)."""
    seen: set[int] = set()
    cur: BaseException | None = exc
    while cur is not None and id(cur) not in seen:
        seen.add(id(cur))
        token = getattr(cur, "offendingToken", None)
        if token is None and cur.args and hasattr(cur.args[0], "offendingToken"):
            token = cur.args[0].offendingToken
        if token is not None:
            text = getattr(token, "text", None)
            near = f" near {text!r}" if text and text != "<EOF>" else " at the end of the program"
            column = getattr(token, "column", None)  # ANTLR counts columns from 0
            return getattr(token, "line", None), None if column is None else column + 1, f"syntax error{near}"
        m = re.match(r"L(\d+):C(\d+): (.*)", str(cur))
        if m:
            return int(m.group(1)), int(m.group(2)) + 1, m.group(3)
        cur = cur.__cause__ or cur.__context__
    return None, None, "syntax error"


def _parse_qiskit(text: str, version: int) -> qiskit.QuantumCircuit:
    import qiskit.qasm2
    import qiskit.qasm3
    from qiskit.exceptions import QiskitError

    try:
        if version == 2:
            return qiskit.qasm2.loads(
                text,
                include_path=(),  # the standard include is built in; nothing is read from disk
                custom_instructions=qiskit.qasm2.LEGACY_CUSTOM_INSTRUCTIONS,
            )
        return qiskit.qasm3.loads(text)
    except RecursionError:
        raise QasmError("program is too deeply nested to parse") from None
    except QiskitError as exc:
        message = str(getattr(exc, "message", exc)).strip().strip('"')
        m = _LINE_RE.search(message)
        if m:
            reason = message[m.end() :].strip() or "invalid program"
            raise QasmError(reason, int(m.group(1)), int(m.group(2)) + 1) from None  # qiskit counts columns from 0
        raise QasmError(message or "invalid program") from None
    except Exception as exc:  # openqasm3.parser.QASM3ParsingError and friends carry no common base
        line, column, reason = _qasm3_error_line(exc)
        raise QasmError(reason, line, column) from None


def _expand_to_ir_gates(qc: qiskit.QuantumCircuit) -> qiskit.QuantumCircuit:
    """Replace gates the IR lacks (user-defined, u2, cu3, c3x…) by their definitions until none remain."""
    for _ in range(MAX_NESTING + 1):
        foreign = {
            inst.operation.name
            for inst in qc.data
            if inst.operation.name not in GATES
            and inst.operation.name != "measure"
            and getattr(inst.operation, "definition", None) is not None
        }
        if not foreign:
            return qc
        qc = qc.decompose(gates_to_decompose=sorted(foreign))
        if len(qc.data) > MAX_EXPANDED_GATES:
            raise QasmError(f"program expands to more than {MAX_EXPANDED_GATES} gates")
    raise QasmError("gate definitions are nested too deeply")


def parse_qasm(text: str, *, max_qubits: int | None = None, name: str = "") -> Circuit:
    """OpenQASM 2 or 3 (by its header; none means 3) → a bound IR circuit, or `QasmError`.

    Results are remembered by the program's statements (comments and layout removed), so the same
    program resent with another comment is not parsed again; refusals that name no line are
    remembered too (a line number may differ between two layouts of one program)."""
    summary = check_limits(text, max_qubits=max_qubits)
    key = (summary.normalised_sha256, name)  # the qubit limit was checked above; the parse does not depend on it
    with _PARSED_LOCK:
        known = _PARSED.get(key)
        if known is not None:
            _PARSED.move_to_end(key)
    if isinstance(known, QasmError):
        raise QasmError(known.reason)
    if known is not None:
        return known
    try:
        with cpu_budget(PARSE_CPU_SECONDS):
            result: Circuit | QasmError = _parse_checked(text, summary, name)
    except CpuBudgetExceeded:
        result = QasmError(
            f"the program needs more than {PARSE_CPU_SECONDS:g} seconds of CPU time to read; "
            "use fewer or smaller custom gates and modifiers"
        )
    except QasmError as exc:
        if exc.line is not None:
            raise
        result = exc
    with _PARSED_LOCK:
        _PARSED[key] = result
        while len(_PARSED) > _PARSED_MAX:
            _PARSED.popitem(last=False)
    if isinstance(result, QasmError):
        raise QasmError(result.reason)
    return result


_PARSED: OrderedDict[tuple[str, str], Circuit | QasmError] = OrderedDict()
_PARSED_MAX = 32  # parsed circuits are shared with the contract's cache of built circuits
_PARSED_LOCK = threading.Lock()


def _parse_checked(text: str, summary: QasmSummary, name: str) -> Circuit:
    from adapters.convert import qiskit_to_ir

    qc = _parse_qiskit(text, summary.version)
    if qc.parameters:
        names = ", ".join(sorted(p.name for p in qc.parameters))
        raise QasmError(f"unbound input parameters: {names}; give every angle a value")
    if qc.num_qubits == 0:
        raise QasmError("the program declares no qubits")
    qc = _expand_to_ir_gates(qc)
    try:
        return qiskit_to_ir(qc, name=name or "openqasm")
    except QasmError:
        raise
    except IRError as exc:
        raise QasmError(str(exc)) from None


def to_qasm2(circuit: Circuit) -> str:
    """The OpenQASM 2 text of an IR circuit (gates outside qelib1 come with their definitions)."""
    import qiskit.qasm2

    from adapters.convert import to_qiskit

    return qiskit.qasm2.dumps(to_qiskit(circuit, measure=True))


def to_qasm3(circuit: Circuit) -> str:
    """The OpenQASM 3 text of an IR circuit."""
    import qiskit.qasm3

    from adapters.convert import to_qiskit

    return qiskit.qasm3.dumps(to_qiskit(circuit, measure=True))
