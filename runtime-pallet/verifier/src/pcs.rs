//! The SHPLONK (BDFG21) multi-opening: decoding the VKA's PCS sections into a short
//! program over scratch slots, checking that program reads only what it wrote, and running
//! it.
//!
//! The Solidity computes the opening in the free static memory after the VKA
//! (`[vka_end, vka_end + fsm)`), addressing it with 16-bit offsets stored in the VKA. Here
//! that memory is an array of field elements ("slots", one per 32-byte word) and each
//! section becomes a few typed operations on it, in the Solidity's order. Values the
//! Solidity keeps on the stack or at fixed addresses (x, ζ, ν, μ, the quotient evaluation)
//! are passed in directly.

use alloc::vec;
use alloc::vec::Vec;

use ark_bn254::Fr;
use ark_ff::{Field, One, Zero};

use crate::error::VerifyError;
use crate::vka::{Decoder, PointRef};
use crate::word::Word;

type Result<T> = core::result::Result<T, VerifyError>;

/// Most coefficients one rotation set can have: the coefficient record packs 3 pointers per
/// rotation into one word.
const MAX_SET_ROTATIONS: usize = 5;
/// Slots the pairing step's elliptic-curve scratch overwrites (`vka_end .. vka_end+0x100`).
const EC_SCRATCH_SLOTS: usize = 8;

/// A term of the single-rotation set's evaluation sum.
#[derive(Copy, Clone, Debug, PartialEq, Eq)]
pub(crate) enum Term {
    Eval(u16),
    /// The quotient evaluation the verifier computed (the linearised vanishing check).
    Quotient,
}

/// How a rotation set's `r_i(μ)/Z_{T_i}(μ)` is summed.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) enum REvalKind {
    /// One rotation: Horner in ζ over the terms, each times the set's single coefficient.
    Single(Vec<Term>),
    /// Several rotations: per commitment a group of evaluations (one per rotation, each
    /// times its coefficient), then a multiplication by ζ if the flag says so.
    Multi(Vec<(Vec<u16>, bool)>),
}

/// One operation on the scratch slots.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) enum PcsOp {
    /// `s[dst] = x·ω^rot`.
    XRot { dst: u16, rot: i16 },
    /// `s[dst] = 1`.
    One { dst: u16 },
    /// `s[dst] = μ − s[src]`.
    MuMinus { dst: u16, src: u16 },
    /// `s[dst] = Π s[srcs]`.
    Prod { dst: u16, srcs: Vec<u16> },
    /// `s[dst] = s[src]`.
    Copy { dst: u16, src: u16 },
    /// `s[dst] = Π_{o ∈ others}(s[point] − s[o]) · s[mu_minus]`.
    Coeff { dst: u16, point: u16, others: Vec<u16>, mu_minus: u16 },
    /// Inverts `s[start .. start+count]` in place; the Solidity's batch inversion also
    /// overwrites the `count + 4` slots after them with temporaries.
    BatchInvert { start: u16, count: u16 },
    /// `d = s[0]; s[base] = d; s[base+t] *= d` for `1 ≤ t ≤ more`.
    Normalize { base: u16, more: u16 },
    /// `s[dst] = (Σ …) · s[set_coeff]` (no factor for the first set); coefficients from
    /// `s[coeff ..]`.
    REval { dst: u16, coeff: u16, width: u16, set_coeff: Option<u16>, kind: REvalKind },
    /// `s[dst] = Σ s[start .. start+count]`.
    Sum { dst: u16, start: u16, count: u16 },
}

/// One rotation set's commitments in the pairing MSM: Horner in ζ over `points`, scaled by
/// `ν^i · s[scale]` (the first set is not scaled).
#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) struct PairingSet {
    pub(crate) scale: Option<u16>,
    pub(crate) points: Vec<PointRef>,
}

/// The decoded PCS sections.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) struct Pcs {
    pub(crate) slots: usize,
    pub(crate) ops: Vec<PcsOp>,
    /// The final `r = Σ νⁱ·Z_{T_i}(μ)·r_evals[i]`: the inverted sums are `s[0 .. count]`,
    /// `r_evals` end at `s[r_evals_last]`.
    pub(crate) r_count: u16,
    pub(crate) r_evals_last: u16,
    pub(crate) sets: Vec<PairingSet>,
    pub(crate) w: PointRef,
    pub(crate) w_prime: PointRef,
    /// Slot holding Z_{T_0}(μ).
    pub(crate) vanishing: u16,
}

/// Reads the packed streams of the PCS sections with the Yul's exact pointer walk.
pub(crate) fn decode(dec: &mut Decoder, mut pcs: usize) -> Result<Pcs> {
    let mut ops = Vec::new();
    let slots = dec.mem.fsm / 32;

    // 1. point_computations: x·ω^r for the positive rotations, x, the negative rotations.
    let mut w = dec.mem.word_at(pcs)?;
    point_rots(dec, &mut ops, w, 1)?;
    pcs += 32;
    w = dec.mem.word_at(pcs)?;
    ops.push(PcsOp::XRot { dst: dec.mem.slot(w.u16())?, rot: 0 });
    point_rots(dec, &mut ops, w.shr(16), -1)?;
    pcs += 32;

    // 2. vanishing_computations: μ − points, Z_{T_0}(μ) and the diffs Z_{S∖T_i}(μ).
    ops.push(PcsOp::One { dst: dec.mem.slot(0x20)? });
    w = dec.mem.word_at(pcs)?;
    let (mut mm, mm_end, mut pt) = (w.u16() as usize, w.u16_at(16) as usize, w.u16_at(32) as usize);
    while mm < mm_end {
        dec.charge(1)?;
        ops.push(PcsOp::MuMinus { dst: dec.mem.slot(ptr16(dec, mm)?)?, src: dec.mem.slot(ptr16(dec, pt)?)? });
        mm += 32;
        pt += 32;
    }
    w.consume(48);
    let s_words = w.u8() as usize;
    w.consume(8);
    let mut srcs = vec![dec.mem.slot(w.u16())?];
    w.consume(16);
    for _ in 0..s_words {
        while !w.is_zero() {
            dec.charge(1)?;
            srcs.push(dec.mem.slot(w.u16())?);
            w.consume(16);
        }
        pcs += 32;
        w = dec.mem.word_at(pcs)?;
    }
    let mut diff = w.u16() as usize;
    ops.push(PcsOp::Prod { dst: dec.mem.slot(diff as u16)?, srcs });
    let sets_len = w.u16_at(16) as usize;
    pcs += 32;
    for i in 0..sets_len {
        w = dec.mem.word_at(pcs)?;
        let mut srcs = vec![dec.mem.slot(w.u16())?];
        w.consume(16);
        while !w.is_zero() {
            dec.charge(1)?;
            srcs.push(dec.mem.slot(w.u16())?);
            w.consume(16);
        }
        diff += 32;
        let dst = dec.mem.slot(u16::try_from(diff).map_err(|_| dec.mem.err("diff pointer"))?)?;
        ops.push(PcsOp::Prod { dst, srcs });
        if i == 0 {
            ops.push(PcsOp::Copy { dst: 0, src: dst });
        }
        pcs += 32;
    }

    // 3. coeff_computations: per set, 1/((μ − x_k)·Π_{j≠k}(x_k − x_j)) before inversion.
    w = dec.mem.word_at(pcs)?;
    let end = pcs + 32 * w.u8() as usize;
    w.consume(8);
    let mut i = pcs;
    pcs = end;
    while i < end {
        while !w.is_zero() {
            let size = w.u8() as usize;
            w.consume(8);
            let cw = dec.mem.word_at(pcs)?;
            pcs += 32;
            coeffs(dec, &mut ops, size, cw)?;
        }
        i += 32;
        if i < end {
            w = dec.mem.word_at(i)?;
        }
    }

    // 4. normalized_coeff_computations.
    w = dec.mem.word_at(pcs)?;
    ops.push(batch_invert(dec, 0, w.u16() as usize)?);
    let len = w.u16_at(32) as usize;
    ops.push(PcsOp::Normalize {
        base: dec.mem.slot(w.u16_at(16))?,
        more: if len == 0 { 0 } else { ((len - 1) / 32) as u16 },
    });
    pcs += 32;

    // 5. r_evals_computations.
    w = dec.mem.word_at(pcs)?;
    let end = pcs + 32 * w.u8() as usize;
    w.consume(8);
    let mut set_coeff = w.u16() as usize;
    w.consume(16);
    let mut out = w.u16() as usize;
    w.consume(16);
    let mut i = pcs;
    pcs = end;
    let mut coeff = 1usize;
    let mut first = true;
    while i < end {
        while !w.is_zero() {
            let rot_bytes = w.u8() as usize;
            w.consume(8);
            if !rot_bytes.is_multiple_of(32) || rot_bytes == 0 {
                return Err(dec.mem.err("rotation set size"));
            }
            let width = rot_bytes / 32;
            let (kind, next) = r_evals_record(dec, pcs, width)?;
            pcs = next;
            let set_coeff_slot = if first {
                None
            } else {
                let s = dec.mem.slot(ptr16(dec, set_coeff)?)?;
                set_coeff += 32;
                Some(s)
            };
            first = false;
            ops.push(PcsOp::REval {
                dst: dec.mem.slot(ptr16(dec, out)?)?,
                coeff: coeff as u16,
                width: width as u16,
                set_coeff: set_coeff_slot,
                kind,
            });
            coeff += width;
            if coeff > slots {
                return Err(dec.mem.err("coefficients past the free static memory"));
            }
            out += 32;
        }
        i += 32;
        if i < end {
            w = dec.mem.word_at(i)?;
        }
    }

    // 6. coeff_sums_computation: Σ_k coeff_{i,k} = 1/Z_{T_i}(μ).
    w = dec.mem.word_at(pcs)?;
    let end = pcs + 32 * w.u8() as usize;
    w.consume(8);
    let mut coeff = 1usize;
    let mut i = pcs;
    pcs = end;
    while i < end {
        while !w.is_zero() {
            let len = w.u8() as usize;
            w.consume(8);
            if !len.is_multiple_of(32) || len == 0 {
                return Err(dec.mem.err("coefficient sum length"));
            }
            if coeff + len / 32 > slots {
                return Err(dec.mem.err("coefficients past the free static memory"));
            }
            ops.push(PcsOp::Sum { dst: dec.mem.slot(w.u16())?, start: coeff as u16, count: (len / 32) as u16 });
            coeff += len / 32;
            w.consume(16);
        }
        i += 32;
        if i < end {
            w = dec.mem.word_at(i)?;
        }
    }

    // 7. r_eval_computation: copy the sums to slot 0.., invert them, combine with ν.
    w = dec.mem.word_at(pcs)?;
    let end = w.u16() as usize;
    if !end.is_multiple_of(32) {
        return Err(dec.mem.err("sum count"));
    }
    let count = end / 32;
    let sums = dec.mem.slot(w.u16_at(16))? as usize;
    for t in 0..count {
        dec.charge(1)?;
        ops.push(PcsOp::Copy { dst: dec.mem.slot((32 * t) as u16)?, src: dec.mem.slot(ptr16(dec, 32 * (sums + t))?)? });
    }
    ops.push(batch_invert(dec, 0, end)?);
    let r_evals_last = dec.mem.slot(w.u16_at(32))?;
    if (r_evals_last as usize) + 1 < count {
        return Err(dec.mem.err("r_evals pointer below the sets it combines"));
    }
    pcs += 32;

    // 8. pairing_input_computations.
    w = dec.mem.word_at(pcs)?;
    let end = pcs + 32 * w.u8() as usize;
    w.consume(8);
    let mut set_coeff = w.u16() as usize;
    w.consume(16);
    let points = w;
    w.consume(80);
    let mut i = pcs;
    pcs = end;
    let mut sets = Vec::new();
    while i < end {
        while !w.is_zero() {
            let len = w.u8() as usize;
            w.consume(8);
            if !len.is_multiple_of(32) || len == 0 {
                return Err(dec.mem.err("pairing set data length"));
            }
            let points = pairing_set(dec, pcs, len / 32)?;
            pcs += len;
            let scale = if sets.is_empty() {
                None
            } else {
                let s = dec.mem.slot(ptr16(dec, set_coeff)?)?;
                set_coeff += 32;
                Some(s)
            };
            sets.push(PairingSet { scale, points });
        }
        i += 32;
        if i < end {
            w = dec.mem.word_at(i)?;
        }
    }
    if sets.is_empty() {
        return Err(dec.mem.err("no pairing sets"));
    }
    let w_ref = dec.mem.proof_point(points.u16(), points.u16_at(16))?;
    let vanishing = dec.mem.slot(points.u16_at(32))?;
    let w_prime = dec.mem.proof_point(points.u16_at(48), points.u16_at(64))?;

    let pcs = Pcs { slots, ops, r_count: count as u16, r_evals_last, sets, w: w_ref, w_prime, vanishing };
    check_defined(dec, &pcs)?;
    Ok(pcs)
}

fn ptr16(dec: &Decoder, v: usize) -> Result<u16> {
    u16::try_from(v).map_err(|_| dec.mem.err("pointer past 16 bits"))
}

/// `point_rots`: a count byte, then one 16-bit slot pointer per rotation 1, 2, … (or −1,
/// −2, …), 0 meaning "rotation not used". The Solidity's word-spill branch can never fire
/// (the shift never equals 256), so pointers beyond the word read as 0.
fn point_rots(dec: &mut Decoder, ops: &mut Vec<PcsOp>, mut w: Word, sign: i16) -> Result<()> {
    let count = w.u8();
    w.consume(8);
    for i in 0..count {
        let v = w.u16();
        if v != 0 {
            ops.push(PcsOp::XRot { dst: dec.mem.slot(v)?, rot: sign * (i16::from(i) + 1) });
        }
        w.consume(16);
    }
    Ok(())
}

/// One rotation set's coefficient record.
fn coeffs(dec: &mut Decoder, ops: &mut Vec<PcsOp>, size: usize, cw: Word) -> Result<()> {
    if size == 1 {
        ops.push(PcsOp::Copy { dst: dec.mem.slot(cw.u16_at(16))?, src: dec.mem.slot(cw.u16())? });
        return Ok(());
    }
    if !(2..=MAX_SET_ROTATIONS).contains(&size) {
        return Err(dec.mem.err("rotation set size in coefficient data"));
    }
    let field = |j: usize| cw.u16_at((16 * j) as u32);
    for k in 0..size {
        dec.charge(size)?;
        let mut others = Vec::with_capacity(size - 1);
        for j in (0..size).filter(|&j| j != k) {
            others.push(dec.mem.slot(field(j))?);
        }
        ops.push(PcsOp::Coeff {
            dst: dec.mem.slot(field(2 * size + k))?,
            point: dec.mem.slot(field(k))?,
            others,
            mu_minus: dec.mem.slot(field(size + k))?,
        });
    }
    Ok(())
}

/// A batch inversion of the slots `[start, start + end_rel)`, checked to keep its
/// temporaries inside the free static memory.
fn batch_invert(dec: &Decoder, start: usize, end_rel: usize) -> Result<PcsOp> {
    if !end_rel.is_multiple_of(32) || end_rel < 64 {
        return Err(dec.mem.err("batch inversion of fewer than 2 values"));
    }
    let count = end_rel / 32;
    if start + 2 * count + 4 > dec.mem.fsm / 32 {
        return Err(dec.mem.err("batch inversion temporaries past the free static memory"));
    }
    Ok(PcsOp::BatchInvert { start: start as u16, count: count as u16 })
}

/// One `r_evals` record at `ptr` (`#words:8` then the set's data); returns it and the
/// address after it.
fn r_evals_record(dec: &mut Decoder, mut ptr: usize, width: usize) -> Result<(REvalKind, usize)> {
    let mut rec = dec.mem.word_at(ptr)?;
    let num_words = rec.u8() as usize;
    rec.consume(8);
    if width == 1 {
        let mut terms = vec![Term::Eval(dec.mem.eval(rec.u16())?), Term::Quotient];
        rec.consume(16);
        for t in 0..num_words {
            while !rec.is_zero() {
                let group = rec.u8();
                rec.consume(8);
                if group > 0 {
                    for _ in 0..group {
                        dec.charge(1)?;
                        terms.push(Term::Eval(dec.mem.eval(rec.u16())?));
                        rec.consume(16);
                    }
                } else {
                    let (mut a, b) = (rec.u16(), rec.u16_at(16));
                    while b < a {
                        dec.charge(1)?;
                        terms.push(Term::Eval(dec.mem.eval(a)?));
                        a = a.checked_sub(32).ok_or_else(|| dec.mem.err("evaluation range below 0"))?;
                    }
                    rec.consume(32);
                }
            }
            ptr += 32;
            if t + 1 < num_words {
                rec = dec.mem.word_at(ptr)?;
            }
        }
        Ok((REvalKind::Single(terms), ptr))
    } else {
        let mut groups = Vec::new();
        for t in 0..num_words {
            while !rec.is_zero() {
                dec.charge(width)?;
                let mut evals = Vec::with_capacity(width);
                for _ in 0..width {
                    evals.push(dec.mem.eval(rec.u16())?);
                    rec.consume(16);
                }
                groups.push((evals, !rec.is_zero() || t + 1 < num_words));
            }
            ptr += 32;
            if t + 1 < num_words {
                rec = dec.mem.word_at(ptr)?;
            }
        }
        Ok((REvalKind::Multi(groups), ptr))
    }
}

/// One set's pairing data (`words` words at `ptr`): the last commitment (always read from
/// the proof), then groups for the other commitments in reverse order.
fn pairing_set(dec: &mut Decoder, mut ptr: usize, words: usize) -> Result<Vec<PointRef>> {
    let mut d = dec.mem.word_at(ptr)?;
    let mut points = vec![dec.mem.proof_point(d.u16(), d.u16_at(16))?];
    d.consume(32);
    for t in 0..words {
        while !d.is_zero() {
            let loc = d.u8();
            let len = d.shr(8).u8();
            d.consume(16);
            match (loc, len) {
                (0 | 1, 0) => {
                    let (mut a, b) = (d.u16(), d.u16_at(16));
                    while b < a {
                        dec.charge(1)?;
                        points.push(point(dec, loc, a, a.wrapping_add(32))?);
                        a = a.checked_sub(64).ok_or_else(|| dec.mem.err("point range below 0"))?;
                    }
                    d.consume(32);
                }
                (0 | 1, 1 | 2) => {
                    for _ in 0..len {
                        dec.charge(1)?;
                        points.push(point(dec, loc, d.u16(), d.u16_at(16))?);
                        d.consume(32);
                    }
                }
                (2, 1) => {
                    // The computed quotient commitment; the Yul reads no pointer for it and
                    // does not shift, so the next group starts right after the header.
                    dec.charge(1)?;
                    points.push(PointRef::Quotient);
                }
                _ => return Err(dec.mem.err("unknown pairing point group")),
            }
        }
        ptr += 32;
        if t + 1 < words {
            d = dec.mem.word_at(ptr)?;
        }
    }
    Ok(points)
}

fn point(dec: &mut Decoder, loc: u8, x: u16, y: u16) -> Result<PointRef> {
    if loc == 0 {
        dec.vka_point(x, y)
    } else {
        dec.mem.proof_point(x, y)
    }
}

/// Checks that the program reads only slots it wrote before (in the PCS step, and not
/// overwritten since by batch-inversion or elliptic-curve temporaries). ezkl's VKAs satisfy
/// this by construction; for any other VKA the Solidity would read leftovers of earlier
/// steps, which this verifier does not model.
fn check_defined(dec: &Decoder, pcs: &Pcs) -> Result<()> {
    let mut def = vec![false; pcs.slots];
    let err = || dec.mem.err("PCS step reads a scratch slot it did not write");
    let read = |def: &[bool], s: usize| if def.get(s).copied().unwrap_or(false) { Ok(()) } else { Err(err()) };
    let write = |def: &mut [bool], s: usize| def.get_mut(s).map(|d| *d = true).ok_or_else(err);
    for op in &pcs.ops {
        match op {
            PcsOp::XRot { dst, .. } | PcsOp::One { dst } => write(&mut def, *dst as usize)?,
            PcsOp::MuMinus { dst, src } | PcsOp::Copy { dst, src } => {
                read(&def, *src as usize)?;
                write(&mut def, *dst as usize)?;
            }
            PcsOp::Prod { dst, srcs } => {
                for s in srcs {
                    read(&def, *s as usize)?;
                }
                write(&mut def, *dst as usize)?;
            }
            PcsOp::Coeff { dst, point, others, mu_minus } => {
                for s in others.iter().chain([point, mu_minus]) {
                    read(&def, *s as usize)?;
                }
                write(&mut def, *dst as usize)?;
            }
            PcsOp::BatchInvert { start, count } => {
                let (start, count) = (*start as usize, *count as usize);
                for s in start..start + count {
                    read(&def, s)?;
                }
                for s in start + count..start + 2 * count + 4 {
                    if let Some(d) = def.get_mut(s) {
                        *d = false;
                    }
                }
            }
            PcsOp::Normalize { base, more } => {
                read(&def, 0)?;
                write(&mut def, *base as usize)?;
                for s in 1..=*more as usize {
                    read(&def, *base as usize + s)?;
                }
            }
            PcsOp::REval { dst, coeff, width, set_coeff, .. } => {
                for s in *coeff as usize..(*coeff + *width) as usize {
                    read(&def, s)?;
                }
                if let Some(s) = set_coeff {
                    read(&def, *s as usize)?;
                }
                write(&mut def, *dst as usize)?;
            }
            PcsOp::Sum { dst, start, count } => {
                for s in *start as usize..(*start + *count) as usize {
                    read(&def, s)?;
                }
                write(&mut def, *dst as usize)?;
            }
        }
    }
    let (n, last) = (pcs.r_count as usize, pcs.r_evals_last as usize);
    for t in 0..n {
        read(&def, t)?;
        read(&def, last + 1 + t - n)?;
    }
    for d in def.iter_mut().take(EC_SCRATCH_SLOTS) {
        *d = false;
    }
    for s in pcs.sets.iter().filter_map(|s| s.scale) {
        read(&def, s as usize)?;
    }
    read(&def, pcs.vanishing as usize)
}

/// The challenge values the PCS step uses.
pub(crate) struct PcsInput<'a> {
    pub(crate) x: Fr,
    pub(crate) omega: Fr,
    pub(crate) omega_inv: Fr,
    pub(crate) zeta: Fr,
    pub(crate) nu: Fr,
    pub(crate) mu: Fr,
    pub(crate) quotient_eval: Fr,
    pub(crate) evals: &'a [Fr],
}

/// The scalar results of the PCS step: `r_eval` and the final scratch (for the pairing's
/// set scales and Z_{T_0}(μ)).
pub(crate) struct PcsOutput {
    pub(crate) r_eval: Fr,
    pub(crate) scratch: Vec<Fr>,
}

/// Runs the program. Slot indices were checked at decode time; the accessors still return
/// errors instead of panicking should that ever be wrong.
pub(crate) fn run(pcs: &Pcs, inp: &PcsInput) -> Result<PcsOutput> {
    let mut s = vec![Fr::zero(); pcs.slots];
    let bad = || VerifyError::malformed(0, "PCS slot out of range");
    let get = |s: &[Fr], i: u16| s.get(i as usize).copied().ok_or_else(bad);
    let eval = |i: u16| inp.evals.get(i as usize).copied().ok_or_else(bad);
    fn set(s: &mut [Fr], i: u16, v: Fr) -> Result<()> {
        *s.get_mut(i as usize).ok_or(VerifyError::malformed(0, "PCS slot out of range"))? = v;
        Ok(())
    }
    for op in &pcs.ops {
        match op {
            PcsOp::XRot { dst, rot } => {
                let step = if *rot >= 0 { inp.omega } else { inp.omega_inv };
                let mut v = inp.x;
                for _ in 0..rot.unsigned_abs() {
                    v *= step;
                }
                set(&mut s, *dst, v)?;
            }
            PcsOp::One { dst } => set(&mut s, *dst, Fr::one())?,
            PcsOp::MuMinus { dst, src } => {
                let v = inp.mu - get(&s, *src)?;
                set(&mut s, *dst, v)?;
            }
            PcsOp::Prod { dst, srcs } => {
                let mut v = Fr::one();
                for i in srcs {
                    v *= get(&s, *i)?;
                }
                set(&mut s, *dst, v)?;
            }
            PcsOp::Copy { dst, src } => {
                let v = get(&s, *src)?;
                set(&mut s, *dst, v)?;
            }
            PcsOp::Coeff { dst, point, others, mu_minus } => {
                let p = get(&s, *point)?;
                let mut v = get(&s, *mu_minus)?;
                for o in others {
                    v *= p - get(&s, *o)?;
                }
                set(&mut s, *dst, v)?;
            }
            PcsOp::BatchInvert { start, count } => {
                let range = *start as usize..(*start as usize + *count as usize);
                batch_invert_slice(s.get_mut(range).ok_or_else(bad)?)?;
            }
            PcsOp::Normalize { base, more } => {
                let d = get(&s, 0)?;
                set(&mut s, *base, d)?;
                for t in 1..=*more {
                    let i = base.checked_add(t).ok_or_else(bad)?;
                    let v = get(&s, i)? * d;
                    set(&mut s, i, v)?;
                }
            }
            PcsOp::REval { dst, coeff, width, set_coeff, kind } => {
                let mut r = Fr::zero();
                match kind {
                    REvalKind::Single(terms) => {
                        let c = get(&s, *coeff)?;
                        for t in terms {
                            let e = match t {
                                Term::Eval(i) => eval(*i)?,
                                Term::Quotient => inp.quotient_eval,
                            };
                            r = r * inp.zeta + c * e;
                        }
                    }
                    REvalKind::Multi(groups) => {
                        let cs = s.get(*coeff as usize..(*coeff + *width) as usize).ok_or_else(bad)?;
                        for (evals, mul) in groups {
                            for (c, e) in cs.iter().zip(evals) {
                                r += *c * eval(*e)?;
                            }
                            if *mul {
                                r *= inp.zeta;
                            }
                        }
                    }
                }
                if let Some(sc) = set_coeff {
                    r *= get(&s, *sc)?;
                }
                set(&mut s, *dst, r)?;
            }
            PcsOp::Sum { dst, start, count } => {
                let v = s.get(*start as usize..(*start + *count) as usize).ok_or_else(bad)?.iter().sum();
                set(&mut s, *dst, v)?;
            }
        }
    }
    // r = Σ_i νⁱ·(1/Z_{T_i}(μ))⁻¹… in the Solidity's Horner order, from the last set down.
    let n = pcs.r_count;
    let last = pcs.r_evals_last;
    let top = n.checked_sub(1).ok_or_else(bad)?;
    let mut r = get(&s, top)? * get(&s, last)?;
    for t in (0..top).rev() {
        let rp = last.checked_sub(top - t).ok_or_else(bad)?;
        r = r * inp.nu + get(&s, t)? * get(&s, rp)?;
    }
    Ok(PcsOutput { r_eval: r, scratch: s })
}

/// Inverts all values in place with one field inversion (Montgomery's trick). A zero
/// among them means a challenge hit a root of a denominator: the Solidity's modexp would
/// silently turn every inverse into 0, here the proof is rejected instead.
pub(crate) fn batch_invert_slice(v: &mut [Fr]) -> Result<()> {
    let mut prefix = Vec::with_capacity(v.len());
    let mut acc = Fr::one();
    for x in v.iter() {
        prefix.push(acc);
        acc *= x;
    }
    let mut inv = acc.inverse().ok_or(VerifyError::DegenerateChallenge)?;
    for (x, p) in v.iter_mut().zip(prefix).rev() {
        let next = inv * *x;
        *x = inv * p;
        inv = next;
    }
    Ok(())
}
