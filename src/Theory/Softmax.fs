/// Seed 002 (Q1, classification): softmax with negative log-likelihood. The true statements
/// (∂L/∂x = p − y; Jacobian diag(p) − ppᵀ) are verified with autograd; the report's statements
/// "softmax's derivative is one" and "the derivative of ½‖t − p‖² is ‖t − p‖²" are refuted with
/// shrunk counterexamples.
module Dsl.Theory.Softmax

open System
open Dsl
open Dsl.Engine

/// Logits and a class.
type Case = { Logits: float[]; Label: int }

let describe (c: Case) = sprintf "x = %A, y = %d" c.Logits c.Label

let random (r: Random) : Case =
    let n = Draw.int r 2 10
    { Logits = Array.init n (fun _ -> 3.0 * Draw.normal r); Label = r.Next n }

/// softmax in F#.
let softmax (x: float[]) =
    let m = Array.max x in
    let e = x |> Array.map (fun v -> exp (v - m)) in
    let s = Array.sum e in
    e |> Array.map (fun v -> v / s)

/// ∂/∂x of −log softmax(x)_y by the engine's cross-entropy and autograd.
let nllGradient (c: Case) : float[] =
    Engine.scoped (fun () ->
        let x = Engine.tensor [ 1L; int64 c.Logits.Length ] c.Logits
        Engine.values (grad (fun x -> Functional.CrossEntropy(x, Torch.From<int64>([| int64 c.Label |], [| 1L |]))) x))

/// 10a: ∂L/∂xᵢ = pᵢ − yᵢ.
let checkNll (_family: int) (c: Case) : Verdict =
    let p = softmax c.Logits
    let closed = p |> Array.mapi (fun i v -> v - (if i = c.Label then 1.0 else 0.0))
    Verdict.exact "max |autograd − (p − y)|" 0.0 (Stats.maxAbsDiff closed (nllGradient c)) (Tolerance.rounding (4 * c.Logits.Length) 2.0) c.Logits.Length

/// The Jacobian of softmax by the DSL's `jacobian`, row-major.
let jacobianOf (x: float[]) : float[] =
    Engine.scoped (fun () -> Engine.values (jacobian (fun t -> Functional.Softmax(t, -1L)) (Engine.tensor [ int64 x.Length ] x)))

/// 10b: J = diag(p) − ppᵀ.
let checkJacobian (_family: int) (c: Case) : Verdict =
    let p = softmax c.Logits
    let n = p.Length
    let closed = Array.init (n * n) (fun k -> let i, j = k / n, k % n in (if i = j then p.[i] else 0.0) - p.[i] * p.[j])
    Verdict.exact "max |jacobian − (diag(p) − ppᵀ)|" 0.0 (Stats.maxAbsDiff closed (jacobianOf c.Logits)) (Tolerance.rounding (4 * n) 2.0) (n * n)

let private show (xs: float[]) = sprintf "[%s]" (xs |> Array.map (sprintf "%g") |> String.concat ", ")

/// "Softmax's derivative is one": ∂softmax(x)ᵢ/∂xᵢ = 1 for every i. Returns the first i where it fails
/// (with the true value), judged on the Jacobian's diagonal by autograd.
let derivativeIsOneFails (x: float[]) : (int * float) option =
    let j = jacobianOf x
    let n = x.Length
    [ 0 .. n - 1 ] |> List.tryPick (fun i -> let d = j.[i * n + i] in if abs (d - 1.0) > Tolerance.rounding (4 * n) 2.0 then Some(i, d) else None)

/// 10c: search a random x (2 … 6 classes) where the statement fails and shrink it (fewer classes,
/// simpler numbers) while it keeps failing.
let refuteDerivativeIsOne (seed: int) : Verdict =
    let r = Random(seed)
    let start = Array.init (Draw.int r 2 6) (fun _ -> 3.0 * Draw.normal r)
    match derivativeIsOneFails start with
    | None -> Verdict.exact "∂pᵢ/∂xᵢ = 1 held at a random x" 1.0 1.0 0.0 1
    | Some _ ->
        let x, steps = Shrink.minimize (derivativeIsOneFails >> Option.isSome) (Shrink.floats 1 2) start
        let i, d = (derivativeIsOneFails x).Value
        Refuted {
            Input = sprintf "x = %s, i = %d" (show x) (i + 1)
            Claimed = 1.0
            Actual = d
            ShrinkSteps = steps
            Note = sprintf "∂pᵢ/∂xᵢ = pᵢ(1 − pᵢ) ≤ 1/4 always; the Jacobian is diag(p) − ppᵀ (from %s)" (show start)
        }

/// "The derivative of ½‖t − p‖² is ‖t − p‖²" read componentwise: ∂L/∂pᵢ = ‖t − p‖² for every i. The
/// input is interleaved [t₁; p₁; t₂; p₂; …]. Returns the first i where autograd disagrees.
let l2DerivativeFails (tp: float[]) : (int * float * float) option =
    let n = tp.Length / 2
    let t = Array.init n (fun i -> tp.[2 * i])
    let p = Array.init n (fun i -> tp.[2 * i + 1])
    let claimed = Array.fold2 (fun s a b -> s + (a - b) * (a - b)) 0.0 t p
    let g =
        Engine.scoped (fun () ->
            let tt = Engine.tensor [ int64 n ] t
            Engine.values (grad (fun pp -> (tt - pp).Square().Sum() * 0.5) (Engine.tensor [ int64 n ] p)))
    let scale = 1.0 + claimed + (tp |> Array.sumBy abs)
    [ 0 .. n - 1 ] |> List.tryPick (fun i -> if abs (g.[i] - claimed) > Tolerance.rounding (4 * n) scale then Some(i, claimed, g.[i]) else None)

/// 10d: search and shrink a counterexample to the L2 statement.
let refuteL2Derivative (seed: int) : Verdict =
    let r = Random(seed)
    let start = Array.init (2 * Draw.int r 1 5) (fun _ -> 3.0 * Draw.normal r)
    match l2DerivativeFails start with
    | None -> Verdict.exact "∂L/∂p = ‖t − p‖² held at a random (t, p)" 1.0 1.0 0.0 1
    | Some _ ->
        let tp, steps = Shrink.minimize (l2DerivativeFails >> Option.isSome) (Shrink.floats 2 1) start
        let i, claimed, actual = (l2DerivativeFails tp).Value
        let n = tp.Length / 2
        Refuted {
            Input = sprintf "t = %s, p = %s, i = %d" (show (Array.init n (fun k -> tp.[2 * k]))) (show (Array.init n (fun k -> tp.[2 * k + 1]))) (i + 1)
            Claimed = claimed
            Actual = actual
            ShrinkSteps = steps
            Note = "∂(½‖t − p‖²)/∂p = p − t (a vector, odd in p − t); the statement's ‖t − p‖² agrees only where p − t ∈ {0, 1}"
        }

let claimNll: Claim = {
    Id = "10a"
    Name = "Softmax + NLL: ∂L/∂x = p − y"
    Source = "seed 002 Q1"
    Statement = "for L = −log softmax(x)_y, ∂L/∂xᵢ = pᵢ − yᵢ (the report's pᵢ − 1 for the true class)"
    Check = fun () -> Sweep.run 100 1001 random describe checkNll
}

let claimJacobian: Claim = {
    Id = "10b"
    Name = "Softmax Jacobian = diag(p) − ppᵀ"
    Source = "seed 002 Q1"
    Statement = "∂softmax(x)/∂x = diag(p) − ppᵀ"
    Check = fun () -> Sweep.run 100 1002 random describe checkJacobian
}

let claimDerivativeIsOne: Claim = {
    Id = "10c"
    Name = "\"softmax's derivative is one\""
    Source = "seed 002 Q1 (report's statement)"
    Statement = "∂softmax(x)ᵢ/∂xᵢ = 1 (the report: \"softmax's derivation is one\")"
    Check = fun () -> refuteDerivativeIsOne 1003
}

let claimL2: Claim = {
    Id = "10d"
    Name = "\"d/dp ½‖t−p‖² = ‖t−p‖²\""
    Source = "seed 002 Q1 (report's statement)"
    Statement = "the derivative of the L2 loss ½‖t − p‖² is ‖t − p‖² (the report's L2 class)"
    Check = fun () -> refuteL2Derivative 1004
}
