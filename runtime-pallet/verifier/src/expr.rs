//! Packed polynomial expressions (gate constraints, lookup tables and inputs).
//!
//! Encoding (ezkl-verifier `EvaluatorDynamic`, read by `expression_evals_packed`): the
//! first word's low byte is the number of words the expression occupies; operations follow,
//! packed from the low bits, never straddling a word, and a word ends where its remaining
//! bits are zero. Operation j writes its result to the j-th word after the evaluation base
//! (`fsmp`), and operands are absolute memory addresses, so the decoder turns each address
//! back into what lives there.

use alloc::vec::Vec;

use ark_bn254::Fr;

use crate::error::VerifyError;
use crate::vka::Decoder;
use crate::word::Word;

type Result<T> = core::result::Result<T, VerifyError>;

/// Where an operation's input comes from.
#[derive(Copy, Clone, Debug, PartialEq, Eq)]
pub(crate) enum Operand {
    /// The result of an earlier operation of the same expression.
    Slot(u16),
    /// A constant from the VKA (pool index).
    Const(u16),
    /// User challenge j (multi-phase circuits).
    Challenge(u16),
    /// The evaluation of the instance column at x.
    InstanceEval,
}

/// One operation; its result goes to the next slot.
#[derive(Copy, Clone, Debug, PartialEq, Eq)]
pub(crate) enum Op {
    /// A proof evaluation (advice or fixed column at some rotation).
    Eval(u16),
    /// `-a`.
    Neg(Operand),
    /// `a + b`.
    Add(Operand, Operand),
    /// `a · b` (products and scalings alike).
    Mul(Operand, Operand),
}

/// A decoded expression.
#[derive(Clone, Debug, PartialEq, Eq, Default)]
pub(crate) struct Expr {
    pub(crate) ops: Vec<Op>,
    /// Lookup expressions end with the list of values to compress with powers of theta
    /// (Horner: `((v0·θ + v1)·θ + v2)…`); empty for gates, whose value is the last slot.
    pub(crate) accum: Vec<Operand>,
}

/// What the expression is used for: gates end with their last result, lookup blocks with
/// an accumulate operation (0x04).
#[derive(Copy, Clone, Debug, PartialEq, Eq)]
pub(crate) enum ExprMode {
    Gate,
    Lookup,
}

/// Decodes the expression starting at absolute address `code_ptr`, whose first word is `w`
/// (for the first input block of a lookup, already shifted past the input count), with
/// result slots at `fsmp`. Returns it and the address where the next block starts.
pub(crate) fn decode_expr(
    dec: &mut Decoder,
    code_ptr: usize,
    mut w: Word,
    fsmp: usize,
    mode: ExprMode,
) -> Result<(Expr, usize)> {
    let num_words = w.u8() as usize;
    if num_words == 0 {
        return Err(dec.mem.err("expression of zero words"));
    }
    w.consume(8);
    let mut expr = Expr::default();
    for i in 1..=num_words {
        while !w.is_zero() {
            let written = expr.ops.len();
            let op = w.u8();
            w.consume(8);
            if op == 0x04 && mode == ExprMode::Lookup {
                let next = decode_accum(dec, &mut expr, w, code_ptr, i, fsmp)?;
                return Ok((expr, next));
            }
            // Every result is stored in scratch memory below the challenges.
            if fsmp + 32 * (written + 1) > dec.mem.challenge_mptr {
                return Err(dec.mem.err("expression results overflow the free static memory"));
            }
            dec.charge(1)?;
            let a = w.u16();
            let b = w.u16_at(16);
            let op = match op {
                0x00 => {
                    w.consume(16);
                    Op::Eval(dec.mem.eval(a)?)
                }
                0x01 => {
                    w.consume(16);
                    Op::Neg(dec.operand(a, fsmp, written)?)
                }
                0x02 => {
                    w.consume(32);
                    Op::Add(dec.operand(a, fsmp, written)?, dec.operand(b, fsmp, written)?)
                }
                0x03 => {
                    w.consume(32);
                    Op::Mul(dec.operand(a, fsmp, written)?, dec.operand(b, fsmp, written)?)
                }
                0x04 => return Err(dec.mem.err("accumulate operation in a gate")),
                _ => return Err(dec.mem.err("unknown expression opcode")),
            };
            expr.ops.push(op);
        }
        if i < num_words {
            w = dec.mem.word_at(code_ptr + 32 * i)?;
        }
    }
    match mode {
        ExprMode::Gate if expr.ops.is_empty() => Err(dec.mem.err("gate expression without operations")),
        ExprMode::Gate => Ok((expr, code_ptr + 32 * num_words)),
        ExprMode::Lookup => Err(dec.mem.err("lookup expression without accumulate operation")),
    }
}

/// The accumulate operation (`lookup_input_accum`), met in word `i` (1-based) of the block:
/// `nwords:8 | first var:16 | vars…`, the var list continuing into further words.
fn decode_accum(dec: &mut Decoder, expr: &mut Expr, mut w: Word, code_ptr: usize, i: usize, fsmp: usize) -> Result<usize> {
    let num_words = w.u8() as usize;
    if num_words == 0 {
        return Err(dec.mem.err("accumulate operation of zero words"));
    }
    w.consume(8);
    let written = expr.ops.len();
    expr.accum.push(dec.operand(w.u16(), fsmp, written)?);
    w.consume(16);
    let mut next = code_ptr;
    for j in 0..num_words {
        while !w.is_zero() {
            dec.charge(1)?;
            expr.accum.push(dec.operand(w.u16(), fsmp, written)?);
            w.consume(16);
        }
        next = code_ptr + 32 * (i + j);
        if j + 1 < num_words {
            w = dec.mem.word_at(next)?;
        }
    }
    Ok(next)
}

/// Values an expression can read besides its own slots.
pub(crate) struct Env<'a> {
    pub(crate) evals: &'a [Fr],
    pub(crate) consts: &'a [Fr],
    pub(crate) challenges: &'a [Fr],
    pub(crate) instance_eval: Fr,
    /// theta, for compressing lookup expressions.
    pub(crate) theta: Fr,
}

impl Env<'_> {
    fn operand(&self, slots: &[Fr], o: Operand) -> Result<Fr> {
        let v = match o {
            Operand::Slot(i) => slots.get(i as usize),
            Operand::Const(i) => self.consts.get(i as usize),
            Operand::Challenge(i) => self.challenges.get(i as usize),
            Operand::InstanceEval => Some(&self.instance_eval),
        };
        v.copied().ok_or(VerifyError::malformed(0, "operand out of range"))
    }

    /// Evaluates `e`, using `slots` as scratch. For gates: the last result; for lookup
    /// blocks: the theta-compressed accumulation.
    pub(crate) fn eval(&self, e: &Expr, slots: &mut Vec<Fr>) -> Result<Fr> {
        slots.clear();
        for op in &e.ops {
            let v = match *op {
                Op::Eval(i) => self.evals.get(i as usize).copied().ok_or(VerifyError::malformed(0, "eval out of range"))?,
                Op::Neg(a) => -self.operand(slots, a)?,
                Op::Add(a, b) => self.operand(slots, a)? + self.operand(slots, b)?,
                Op::Mul(a, b) => self.operand(slots, a)? * self.operand(slots, b)?,
            };
            slots.push(v);
        }
        if let Some((first, rest)) = e.accum.split_first() {
            let mut acc = self.operand(slots, *first)?;
            for v in rest {
                acc = acc * self.theta + self.operand(slots, *v)?;
            }
            Ok(acc)
        } else {
            slots.last().copied().ok_or(VerifyError::malformed(0, "empty expression"))
        }
    }
}
