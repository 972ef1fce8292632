/// Seed 002 Q3: a tiny CNN — 4×4 input, 2×2 kernel with stride 2, activation g, output = Σ wₖyₖ,
/// L = ½(output − t)² — whose eight gradients the seed derives by hand.
module Dsl.Theory.TinyCnn

open System
open Dsl.Engine

/// The activation g.
type G =
    | Sigmoid
    | Tanh
    | Identity

/// Input x (row-major 4×4), kernel [w11, w12, w21, w22], output weights [w1 … w4], target t, g.
type Case = { X: float[]; Kernel: float[]; Out: float[]; Target: float; G: G }

let describe (c: Case) = sprintf "g = %A, x = %A, kernel = %A, w = %A, t = %g" c.G c.X c.Kernel c.Out c.Target

let random (r: Random) : Case = { X = Draw.normals r 16; Kernel = Draw.normals r 4; Out = Draw.normals r 4; Target = Draw.normal r; G = Draw.pick r [| Sigmoid; Tanh; Identity |] }

let private g (a: G) (c: float) =
    match a with
    | Sigmoid -> 1.0 / (1.0 + exp -c)
    | Tanh -> tanh c
    | Identity -> c
let private g' (a: G) (c: float) =
    match a with
    | Sigmoid -> (let s = 1.0 / (1.0 + exp -c) in s * (1.0 - s))
    | Tanh -> 1.0 - tanh c ** 2.0
    | Identity -> 1.0

/// The seed's closed forms, in the order w1, w2, w3, w4, w11, w12, w21, w22.
let closedForm (c: Case) : float[] =
    let x i j = c.X.[(i - 1) * 4 + (j - 1)]
    let w11, w12, w21, w22 = c.Kernel.[0], c.Kernel.[1], c.Kernel.[2], c.Kernel.[3]
    let c11 = x 1 1 * w11 + x 1 2 * w12 + x 2 1 * w21 + x 2 2 * w22
    let c12 = x 1 3 * w11 + x 1 4 * w12 + x 2 3 * w21 + x 2 4 * w22
    let c21 = x 3 1 * w11 + x 3 2 * w12 + x 4 1 * w21 + x 4 2 * w22
    let c22 = x 3 3 * w11 + x 3 4 * w12 + x 4 3 * w21 + x 4 4 * w22
    let cs = [| c11; c12; c21; c22 |]
    let y = cs |> Array.map (g c.G)
    let w = c.Out
    let output = Array.fold2 (fun s a b -> s + a * b) 0.0 w y
    let e = output - c.Target
    let d = cs |> Array.map (g' c.G)
    let chain (a: float) (b: float) (cc: float) (dd: float) = e * (w.[0] * d.[0] * a + w.[1] * d.[1] * b + w.[2] * d.[2] * cc + w.[3] * d.[3] * dd)
    [|
        e * y.[0]
        e * y.[1]
        e * y.[2]
        e * y.[3]
        chain (x 1 1) (x 1 3) (x 3 1) (x 3 3)
        chain (x 1 2) (x 1 4) (x 3 2) (x 3 4)
        chain (x 2 1) (x 2 3) (x 4 1) (x 4 3)
        chain (x 2 2) (x 2 4) (x 4 2) (x 4 4)
    |]

/// The same gradients by the engine's autograd (conv2d with stride 2, float64).
let autograd (c: Case) : float[] =
    Engine.scoped (fun () ->
        let x = Engine.tensor [ 1L; 1L; 4L; 4L ] c.X
        let k = (Engine.tensor [ 1L; 1L; 2L; 2L ] c.Kernel).RequiresGrad_(true)
        let w = (Engine.tensor [ 4L ] c.Out).RequiresGrad_(true)
        let pre = Functional.Conv2d(x, k, null, 2L, 0L).Reshape(4L)
        let y =
            match c.G with
            | Sigmoid -> Functional.Sigmoid pre
            | Tanh -> Functional.Tanh pre
            | Identity -> pre
        let output = (y * w).Sum()
        let loss = (output - c.Target).Square() * 0.5
        match Autograd.Grad([| loss |], [| w; k |]) with
        | [| NonNull gw; NonNull gk |] -> Array.append (Engine.values gw) (Engine.values gk)
        | _ -> invalidOp "TinyCnn.autograd: autograd returned no gradient for w or the kernel")

/// All eight closed forms against autograd, within a rounding bound.
let check (_family: int) (c: Case) : Verdict =
    let cf, ag = closedForm c, autograd c
    let scale = (1.0 + abs c.Target + (c.Out |> Array.sumBy abs)) * (1.0 + (c.X |> Array.sumBy abs)) * (1.0 + (c.Kernel |> Array.sumBy abs))
    Verdict.exact "max |autograd − closed form| over 8 weights" 0.0 (Stats.maxAbsDiff cf ag) (Tolerance.rounding 64 scale) 8 |> Verdict.note (sprintf "g = %A" c.G)

let claim: Claim = {
    Id = "9"
    Name = "Tiny-CNN gradients (8 weights)"
    Source = "seed 002 Q3"
    Statement = "∂L/∂wₖ = yₖ(out − t) and ∂L/∂w_ab = (out − t)Σₖ wₖ g'(cₖ) x_(patch k, ab), for g ∈ {sigmoid, tanh, identity}"
    Check = fun () -> Sweep.run 60 901 random describe check
}
