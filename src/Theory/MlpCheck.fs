/// Seed 002 (Q1): the by-hand network (`MlpByHand`) step by step against autograd. The reference runs the
/// same architecture with the engine's own ops (Functional.Linear, Functional.LeakyRelu, MSE or cross-entropy),
/// takes gradients by autograd and steps with the engine's SGD (momentum, a learning-rate schedule); at every
/// step the outputs, the loss, every gradient and every parameter after the update must agree to 1e-6
/// relative in float64.
module Dsl.Theory.MlpCheck

open System
open Dsl
open Dsl.Engine
open Dsl.Engine.Optim

/// A case: widths (input :: hidden @ [output]), batch size, leaky slope, head, steps, rate, momentum,
/// per-step exponential decay of the rate, and the seed of the data and weights.
type Case = { Sizes: int list; Batch: int; Slope: float; Head: MlpByHand.Head; Steps: int; LearningRate: float; Momentum: float; Decay: float; Seed: int }

/// The case in words.
let describe (c: Case) =
    sprintf "%A %A, batch %d, slope %g, %d steps, lr %g, momentum %g, decay %g, seed %d" c.Head c.Sizes c.Batch c.Slope c.Steps c.LearningRate c.Momentum c.Decay c.Seed

/// A random case: 0 … 3 hidden layers of 1 … 6 units, 1 … 5 inputs, 1 … 8 rows, 1 … 4 steps.
let random (r: Random) : Case =
    let head = if r.Next 2 = 0 then MlpByHand.Regression else MlpByHand.Classification
    let output = if head = MlpByHand.Regression then Draw.int r 1 3 else Draw.int r 2 5
    let input = Draw.int r 1 5
    let hidden = List.init (r.Next 4) (fun _ -> Draw.int r 1 6)
    {
        Sizes = input :: hidden @ [ output ]
        Batch = Draw.int r 1 8
        Slope = [| 0.01; 0.1; 0.3 |].[r.Next 3]
        Head = head
        Steps = Draw.int r 1 4
        LearningRate = 0.01 + 0.09 * r.NextDouble()
        Momentum = [| 0.0; 0.5; 0.9 |].[r.Next 3]
        Decay = [| 1.0; 0.9; 0.5 |].[r.Next 3]
        Seed = r.Next()
    }

/// max |a − b| / max |b| over all entries (0 when both are all zero).
let relative (a: float[]) (b: float[]) : float =
    let scale = b |> Array.fold (fun m v -> max m (abs v)) 0.0
    let diff = Stats.maxAbsDiff a b
    if diff = 0.0 then 0.0 else diff / max scale 1e-300

/// The reference loss: the same network with the engine's ops, ½·k·MSE (= (1/N)·Σ ½‖t − p‖²) or cross-entropy.
let referenceLoss (head: MlpByHand.Head) (slope: float) (ws: Tensor list) (bs: Tensor list) (x: Tensor) (target: Tensor) : Tensor =
    let layers = List.length ws
    let z = List.zip ws bs |> List.indexed |> List.fold (fun a (l, (w, b)) -> let z = Functional.Linear(a, w, b) in if l < layers - 1 then Functional.LeakyRelu(z, slope) else z) x
    match head with
    | MlpByHand.Regression -> Functional.MseLoss(z, target) * (0.5 * float (z.Size 1))
    | MlpByHand.Classification -> Functional.CrossEntropy(z, target)

/// The worst relative difference over every step of the case, and the number of quantities compared.
let worst (c: Case) : float * int =
    Engine.scoped (fun () ->
        use net = MlpByHand.create c.Sizes c.Slope c.Head MlpByHand.Xavier (int64 c.Seed) DType.Float64
        use g = new Generator(int64 c.Seed + 1L)
        let x = Torch.Randn([| int64 c.Batch; int64 c.Sizes.Head |], g, DType.Float64)
        let k = int64 (List.last c.Sizes)
        let target =
            match c.Head with
            | MlpByHand.Regression -> Torch.Randn([| int64 c.Batch; k |], g, DType.Float64)
            | MlpByHand.Classification -> Torch.Randint(0L, k, [| int64 c.Batch |], g)
        let ws = net.Weights |> Array.map (fun w -> w.Clone().RequiresGrad_()) |> List.ofArray
        let bs = net.Biases |> Array.map (fun b -> b.Clone().RequiresGrad_()) |> List.ofArray
        use sgd = new SGD(ws @ bs, c.LearningRate, c.Momentum)
        let buffers = MlpByHand.momentum net
        let schedule = Schedule.exponential c.Decay
        let mutable worst = 0.0
        let mutable compared = 0
        let compare (a: Tensor) (b: Tensor) =
            worst <- max worst (relative (Engine.values a) (Engine.values b))
            compared <- compared + 1
        for s in 0 .. c.Steps - 1 do
            Engine.scoped (fun () ->
                let lr = schedule.Rate c.LearningRate s
                let pass = MlpByHand.forward net x
                let grads = MlpByHand.backward net pass target
                sgd.ZeroGrad()
                let refLoss = referenceLoss c.Head c.Slope ws bs x target
                refLoss.Backward()
                let refOut =
                    use _ = Autograd.NoGrad()
                    let z =
                        List.zip ws bs
                        |> List.indexed
                        |> List.fold (fun a (l, (w, b)) -> let z = Functional.Linear(a, w, b) in if l < ws.Length - 1 then Functional.LeakyRelu(z, c.Slope) else z) x
                    if c.Head = MlpByHand.Regression then z else Functional.Softmax(z, 1L)
                compare pass.Output refOut
                worst <- max worst (relative [| MlpByHand.loss net pass target |] [| refLoss.ToDouble() |])
                compared <- compared + 1
                List.iteri (fun i (w: Tensor) -> compare grads.Weights.[i] (nonNull w.Grad)) ws
                List.iteri (fun i (b: Tensor) -> compare grads.Biases.[i] (nonNull b.Grad)) bs
                MlpByHand.step net buffers lr c.Momentum grads
                sgd.LearningRate <- lr
                sgd.Step()
                List.iteri (fun i (w: Tensor) -> compare net.Weights.[i] w) ws
                List.iteri (fun i (b: Tensor) -> compare net.Biases.[i] b) bs)
        worst, compared)

/// The allowed relative difference.
let tolerance = 1e-6

/// Verified when every compared quantity of every step agrees within `tolerance` (relative); Cases counts the
/// quantities compared (outputs, losses, gradients and updated parameters of every step).
let check (_family: int) (c: Case) : Verdict =
    let w, n = worst c
    match Verdict.exact "max relative |by hand − autograd|" 0.0 w tolerance n with
    | Verified e -> Verified { e with Cases = n }
    | refuted -> refuted

/// 10e: the by-hand passes and SGD steps equal autograd and the engine's SGD.
let claim: Claim = {
    Id = "10e"
    Name = "The network by hand = autograd + torch.optim.SGD"
    Source = "seed 002 Q1"
    Statement = "leaky-ReLU MLP: δ_L = (p − t)/N (L2 and softmax + NLL), ∂W = δᵀa, δ_{l−1} = δW ⊙ leakyRelu′(z); SGD with momentum and decay"
    Check = fun () -> Sweep.run 50 1005 random describe check
}
