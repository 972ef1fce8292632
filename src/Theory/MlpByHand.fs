/// Seed 002 (Q1): the homework's fully connected network with its forward and backward passes written out
/// in tensor ops, no autograd: leaky ReLU hidden layers, an identity output with the loss ½‖t − p‖² (age
/// regression) or a softmax output with the negative log-likelihood (race classification), SGD with
/// momentum and a learning-rate schedule. `MlpCheck` compares every step with autograd and the engine's SGD.
/// It lives in Theory, beside `ConvByHand` and `TinyCnn`, because it is the seed's derivation made
/// executable and checked; models for training are built with the DSL (`Dense`, `Training.fit`).
module Dsl.Theory.MlpByHand

open System
open Dsl
open Dsl.Engine

/// What the last layer and the loss are.
type Head =
    /// An identity output and the loss ½‖t − p‖² per sample, averaged over the batch (the seed's L2 loss).
    | Regression
    /// A softmax output and −log p_y per sample, averaged over the batch (the seed's softmax + NLL).
    | Classification

/// How the weights start; biases start at 0 in every case.
type Init =
    /// Every weight 0 (the seed's "zero initialization").
    | Zero
    /// Weights drawn from N(0, std²) (the seed's "random initialization").
    | Random of std: float
    /// Xavier (Glorot) normal: N(0, 2 / (fan_in + fan_out)).
    | Xavier

/// A network of `Weights.Length` layers. Layer l maps a_{l−1} [N, n_{l−1}] to z_l = a_{l−1}·W_lᵀ + b_l with
/// W_l [n_l, n_{l−1}] (nn.Linear's layout) and b_l [n_l]; hidden layers apply leaky ReLU with `Slope`, the
/// last layer the head's output function. The tensors are the network's own: `Dispose` frees them.
type Net = {
    /// W_1 … W_L.
    Weights: Tensor[]
    /// b_1 … b_L.
    Biases: Tensor[]
    /// The leaky ReLU's slope for negative inputs (the seed's 0.01).
    Slope: float
    /// The output function and loss.
    Head: Head
} with

    /// Layer widths n_0 … n_L.
    member this.Sizes = [
        yield int (this.Weights.[0].Size 1)
        for w in this.Weights do
            yield int (w.Size 0)
    ]

    /// Frees the weights and biases.
    member this.Dispose() =
        for t in Array.append this.Weights this.Biases do
            t.Dispose()

    interface IDisposable with
        member this.Dispose() = this.Dispose()

/// One forward pass: the input of every layer (a_0 = x, a_1, …), the pre-activations z_1 … z_L and the output.
type Pass = {
    /// a_0 … a_{L−1}: what each layer received.
    Inputs: Tensor[]
    /// z_1 … z_L.
    Pre: Tensor[]
    /// The head's output: z_L (regression) or softmax(z_L) (classification), [N, n_L].
    Output: Tensor
}

/// ∂loss/∂W_l and ∂loss/∂b_l, layer by layer.
type Grads = { Weights: Tensor[]; Biases: Tensor[] }

/// A network with the given widths (input :: hidden @ [output]), leaky-ReLU slope, head and initialisation,
/// drawn from `seed`, in `dtype` (Float64 for checks, Float32 for training).
let create (sizes: int list) (slope: float) (head: Head) (init: Init) (seed: int64) (dtype: DType) : Net =
    if sizes.Length < 2 || sizes |> List.exists (fun n -> n < 1) then
        invalidArg "sizes" (sprintf "MlpByHand.create: widths %A must be at least [input; output], all positive." sizes)
    if head = Classification && List.last sizes < 2 then
        invalidArg "sizes" (sprintf "MlpByHand.create: a classification head needs at least 2 outputs, got %d; use Regression for one output." (List.last sizes))
    match init with
    | Random std when not (std >= 0.0) -> invalidArg "init" (sprintf "MlpByHand.create: Random std must be ≥ 0, got %g." std)
    | _ -> ()
    use g = new Generator(seed)
    let pairs = List.pairwise sizes |> Array.ofList
    let weight (fanIn: int, fanOut: int) =
        let shape = [| int64 fanOut; int64 fanIn |]
        match init with
        | Zero -> Torch.Zeros(shape, dtype)
        | Random std -> Torch.Normal(0.0, std, shape, g, dtype)
        | Xavier -> Torch.Normal(0.0, sqrt (2.0 / float (fanIn + fanOut)), shape, g, dtype)
    { Weights = pairs |> Array.map weight; Biases = pairs |> Array.map (fun (_, o) -> Torch.Zeros([| int64 o |], dtype)); Slope = slope; Head = head }

/// A deep copy (same values, new tensors).
let copy (net: Net) : Net = { net with Weights = net.Weights |> Array.map (fun w -> w.Clone()); Biases = net.Biases |> Array.map (fun b -> b.Clone()) }

/// Leaky ReLU written out: z where z > 0, slope·z elsewhere.
let leakyRelu (slope: float) (z: Tensor) : Tensor = Scope.keep (fun () -> Torch.Where(z.Gt 0.0, z, z * slope))

/// Its derivative: 1 where z > 0, slope elsewhere (at 0 the slope, as PyTorch's backward takes it).
let leakyReluDerivative (slope: float) (z: Tensor) : Tensor = Scope.keep (fun () -> Torch.Where(z.Gt 0.0, Torch.OnesLike z, Torch.Full(z.Shape, slope, z.DType, z.Device)))

/// Row softmax written out: exp(z − max z) / Σ exp(z − max z).
let softmax (z: Tensor) : Tensor =
    Scope.keep (fun () ->
        let e = (z - z.Amax([| 1L |], true)).Exp()
        e / e.Sum([| 1L |], true))

let private checkInput (net: Net) (x: Tensor) =
    let n0 = net.Weights.[0].Size 1
    if x.Dim <> 2 || x.Size 1 <> n0 then
        invalidArg "x" (sprintf "MlpByHand.forward: input of shape %A, expected [N, %d] (one row of %d features per sample); flatten or project it first." x.Shape n0 n0)

/// The forward pass (the seed's forwProp): a_l = leakyRelu(a_{l−1}·W_lᵀ + b_l) for hidden layers, then the head.
/// Its tensors belong to the enclosing DisposeScope (run it inside `Scope.run`).
let forward (net: Net) (x: Tensor) : Pass =
    checkInput net x
    let a0 = if x.DType = net.Weights.[0].DType then x.Alias() else x.To(net.Weights.[0].DType)
    let layers = net.Weights.Length
    let inputs = Array.zeroCreate layers
    let pre = Array.zeroCreate layers
    let mutable a = a0
    for l in 0 .. layers - 1 do
        inputs.[l] <- a
        let z = Scope.keep (fun () -> a.Mm(net.Weights.[l].T) + net.Biases.[l])
        pre.[l] <- z
        if l < layers - 1 then a <- leakyRelu net.Slope z
    let output =
        match net.Head with
        | Regression -> pre.[layers - 1].Alias()
        | Classification -> softmax pre.[layers - 1]
    { Inputs = inputs; Pre = pre; Output = output }

/// The target as a float matrix like the output: regression targets [N, k] (or [N] when k = 1) as they are,
/// classification labels (int64 [N], 0 … k−1) one-hot.
let targetMatrix (net: Net) (target: Tensor) : Tensor =
    let k = net.Weights.[net.Weights.Length - 1].Size 0
    let dtype = net.Weights.[0].DType
    match net.Head with
    | Classification ->
        if target.Dim <> 1 || target.DType.IsFloating() then
            invalidArg "target" (sprintf "MlpByHand: classification targets must be int64 labels [N], got %A of %O." target.Shape target.DType)
        Scope.keep (fun () -> Torch.OneHot(target.To(DType.Int64), k).To(dtype))
    | Regression ->
        let t = if target.Dim = 1 && k = 1L then target.Unsqueeze 1 else target.Alias()
        if t.Dim <> 2 || t.Size 1 <> k then
            t.Dispose()
            invalidArg "target" (sprintf "MlpByHand: regression targets of shape %A for %d outputs; give [N, %d]." target.Shape k k)
        Scope.keep (fun () -> t.To(dtype))

/// The loss of a pass, averaged over the batch: (1/N)·Σ ½‖t − p‖² (regression) or −(1/N)·Σ log p_y
/// (classification, with log p = z − logΣexp z written out for stability).
let loss (net: Net) (pass: Pass) (target: Tensor) : float =
    Scope.run (fun () ->
        let t = targetMatrix net target
        let n = float (pass.Output.Size 0)
        match net.Head with
        | Regression -> ((pass.Output - t).Square().Sum() * (0.5 / n)).ToDouble()
        | Classification ->
            let z = pass.Pre.[pass.Pre.Length - 1]
            let shifted = z - z.Amax([| 1L |], true)
            let logp = shifted - shifted.Exp().Sum([| 1L |], true).Log()
            ((t * logp).Sum().Neg() / n).ToDouble())

/// The backward pass: δ_L = (p − t)/N for both heads (for softmax + NLL the seed's p_i − 1 at the true class),
/// ∂W_l = δ_lᵀ·a_{l−1}, ∂b_l = Σ_rows δ_l, δ_{l−1} = (δ_l·W_l) ⊙ leakyRelu′(z_{l−1}).
let backward (net: Net) (pass: Pass) (target: Tensor) : Grads =
    let layers = net.Weights.Length
    let dW = Array.zeroCreate layers
    let db = Array.zeroCreate layers
    let n = float (pass.Output.Size 0)
    let mutable delta = Scope.keep (fun () -> (pass.Output - targetMatrix net target) / n)
    for l in layers - 1 .. -1 .. 0 do
        let d = delta
        dW.[l] <- Scope.keep (fun () -> d.T.Mm(pass.Inputs.[l]))
        db.[l] <- d.Sum([| 0L |])
        if l > 0 then delta <- Scope.keep (fun () -> d.Mm(net.Weights.[l]) * leakyReluDerivative net.Slope pass.Pre.[l - 1])
    { Weights = dW; Biases = db }

/// Momentum buffers, one per weight and bias, zero to start.
type Momentum = { WeightBuffers: Tensor[]; BiasBuffers: Tensor[] }

/// Zero momentum buffers for `net`.
let momentum (net: Net) : Momentum = { WeightBuffers = net.Weights |> Array.map Torch.ZerosLike; BiasBuffers = net.Biases |> Array.map Torch.ZerosLike }

/// One SGD step with momentum μ in PyTorch's form (torch.optim.SGD, no dampening): v ← μ·v + g, θ ← θ − lr·v.
/// With μ = 0 it is plain SGD. Updates the network and the buffers in place.
let step (net: Net) (buffers: Momentum) (lr: float) (mu: float) (grads: Grads) =
    Scope.run (fun () ->
        use _ = Autograd.NoGrad()
        let update (theta: Tensor[]) (v: Tensor[]) (g: Tensor[]) =
            for i in 0 .. theta.Length - 1 do
                v.[i].Mul_(mu).Add_(g.[i]) |> ignore
                theta.[i].Sub_(v.[i] * lr) |> ignore
        update net.Weights buffers.WeightBuffers grads.Weights
        update net.Biases buffers.BiasBuffers grads.Biases)

/// How `train` runs: epochs, batch size, base rate, momentum, the per-epoch schedule (the DSL's
/// `Schedule`, e.g. `Schedule.exponential 0.95` for the seed's learning-rate decay) and the shuffling seed.
type TrainOptions = { Epochs: int; BatchSize: int; LearningRate: float; Momentum: float; Schedule: Schedule; Seed: int64 }

/// One epoch of `train`: the rate used, the mean training loss over its batches and the validation loss.
type EpochLoss = { Epoch: int; LearningRate: float; TrainLoss: float; ValidationLoss: float }

/// Trains `net` in place on (x, y) with seeded shuffled mini-batches and reports each epoch (the values
/// the seed plots as its loss curves).
let train (o: TrainOptions) (net: Net) (x: Tensor) (y: Tensor) (xVal: Tensor) (yVal: Tensor) : EpochLoss list =
    if o.Epochs < 0 || o.BatchSize < 1 then invalidArg "o" (sprintf "MlpByHand.train: epochs %d must be ≥ 0 and batch size %d ≥ 1." o.Epochs o.BatchSize)
    if x.Size 0 <> y.Size 0 then invalidArg "y" (sprintf "MlpByHand.train: %d inputs but %d targets; give one target per row." (x.Size 0) (y.Size 0))
    let buffers = momentum net
    use g = new Generator(o.Seed)
    let n = x.Size 0
    try
        [
            for e in 0 .. o.Epochs - 1 ->
                let lr = o.Schedule.Rate o.LearningRate e
                let total =
                    Scope.run (fun () ->
                        let order = Torch.Randperm(n, g)
                        let sum = ref 0.0
                        for start in 0L .. int64 o.BatchSize .. n - 1L do
                            Scope.run (fun () ->
                                let ix = order.Narrow(0, start, min (int64 o.BatchSize) (n - start))
                                let xb, yb = x.IndexSelect(0, ix), y.IndexSelect(0, ix)
                                let pass = forward net xb
                                sum.Value <- sum.Value + loss net pass yb * float (ix.Size 0)
                                step net buffers lr o.Momentum (backward net pass yb))
                        sum.Value / float n)
                let validation = Scope.run (fun () -> loss net (forward net xVal) yVal)
                { Epoch = e + 1; LearningRate = lr; TrainLoss = total; ValidationLoss = validation }
        ]
    finally
        for t in Array.append buffers.WeightBuffers buffers.BiasBuffers do
            t.Dispose()

/// The network's outputs for x, [N, n_L] (probabilities for classification).
let predict (net: Net) (x: Tensor) : Tensor = Scope.keep (fun () -> (forward net x).Output.Alias())

/// Root mean squared error of a regression network on (x, t): sqrt(mean (p − t)²).
let rmse (net: Net) (x: Tensor) (t: Tensor) : float = Scope.run (fun () -> (predict net x - targetMatrix net t).Square().Mean().Sqrt().ToDouble())

/// Accuracy of a classification network on (x, labels).
let accuracy (net: Net) (x: Tensor) (labels: Tensor) : float = Scope.run (fun () -> (predict net x).Argmax(1L).Eq(labels.To(DType.Int64)).To(DType.Float64).Mean().ToDouble())
