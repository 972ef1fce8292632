/// Seed 000 Task 1: a deep, wide plain network x ← φ(a·x) with fresh weights a per layer, under several
/// initialisations and activations. One run records, per setting, net and layer, the second moment,
/// the mean and whether the activations are still finite. Everything runs in float32, as the seed does.
module Dsl.Theory.DeepStudy

open System
open Dsl.Engine

/// How a layer's weights are drawn.
type Weights =
    /// N(0, 1) scaled by a factor (1, or 1/√d).
    | Gaussian of scale: float
    /// The engine's Init.KaimingNormal (fan_in, ReLU gain): N(0, 2/fan_in).
    | KaimingNormal
    /// The engine's Init.XavierUniform: U(±√(6/(fan_in + fan_out))).
    | XavierUniform

/// The activation after each layer.
type Act =
    | Linear
    | Tanh
    | Relu

/// A setting of the study.
type Setting = { Name: string; Weights: Weights; Act: Act }

/// The settings of Task 1 for width d.
let settings (d: int) : Setting list =
    let s = 1.0 / sqrt (float d)
    [
        { Name = "N(0,1), linear"; Weights = Gaussian 1.0; Act = Linear }
        { Name = "N(0,1)/√d, linear"; Weights = Gaussian s; Act = Linear }
        { Name = "N(0,1), tanh"; Weights = Gaussian 1.0; Act = Tanh }
        { Name = "N(0,1)/√d, tanh"; Weights = Gaussian s; Act = Tanh }
        { Name = "Xavier uniform, tanh"; Weights = XavierUniform; Act = Tanh }
        { Name = "Kaiming normal (fan_in), ReLU"; Weights = KaimingNormal; Act = Relu }
        { Name = "Xavier uniform, ReLU"; Weights = XavierUniform; Act = Relu }
    ]

/// Width, depth, number of independent nets, inputs per net, seed.
type Spec = { Width: int; Depth: int; Nets: int; Batch: int; Seed: int }

/// What one setting recorded: [net][layer] second moments mean(x_l²) and means mean(x_l) (NaN once
/// the activations stopped being finite), and per net the first layer with a non-finite activation
/// and the first with a NaN (0 when none).
type Record = {
    Setting: Setting
    /// Per net, mean(x₀²) of its inputs (the chain's starting value).
    InputMoment: float[]
    SecondMoment: float[][]
    Mean: float[][]
    FirstNonFinite: int[]
    FirstNaN: int[]
}

/// Runs the study. Per net and layer it draws one N(0,1) matrix (shared, scaled, by the Gaussian
/// settings), one Kaiming and one Xavier matrix (shared by the two Xavier settings) — common random
/// numbers across settings; each setting on its own is exactly the seed's experiment. Settings that
/// share a matrix are stacked into one matmul, and each layer's statistics come back in one transfer.
let run (spec: Spec) : Record list =
    let ss = settings spec.Width |> Array.ofList
    let d = int64 spec.Width
    let b = int64 spec.Batch
    let n = ss.Length
    let m2 = Array.init n (fun _ -> Array.init spec.Nets (fun _ -> Array.create spec.Depth nan))
    let mu = Array.init n (fun _ -> Array.init spec.Nets (fun _ -> Array.create spec.Depth nan))
    let firstNonFinite = Array.init n (fun _ -> Array.zeroCreate spec.Nets)
    let firstNaN = Array.init n (fun _ -> Array.zeroCreate spec.Nets)
    let groupOf (s: Setting) =
        match s.Weights with
        | Gaussian _ -> 0
        | KaimingNormal -> 1
        | XavierUniform -> 2
    let inputMoment = Array.zeroCreate spec.Nets
    let groups =
        [
            for gi in 0..2 ->
                gi,
                [|
                    for i in 0 .. n - 1 do
                        if groupOf ss.[i] = gi then yield i
                |]
        ]
        |> List.filter (fun (_, m) -> m.Length > 0)
    use g = new Generator(int64 spec.Seed)
    for net in 0 .. spec.Nets - 1 do
        Engine.scoped (fun () ->
            let x0 = Torch.Randn([| b; d |], g)
            inputMoment.[net] <- x0.Square().Mean().ToDouble()
            let states = Array.create n x0
            for l in 0 .. spec.Depth - 1 do
                use scope = DisposeScope.Enter()
                let z = Torch.Empty([| d; d |]).Normal_(0.0, 1.0, g)
                let kaiming = Init.KaimingNormal(Torch.Empty([| d; d |]), mode = FanMode.FanIn, nonlinearity = Nonlinearity.Relu, generator = g)
                let xavier = Init.XavierUniform(Torch.Empty([| d; d |]), generator = g)
                for gi, members in groups do
                    let w =
                        match gi with
                        | 0 -> z
                        | 1 -> kaiming
                        | _ -> xavier
                    let pre = Functional.Linear(Torch.Cat([| for i in members -> states.[i] |], 0L), w).Split(b, 0L)
                    let ys =
                        members
                        |> Array.mapi (fun j i ->
                            let p =
                                match ss.[i].Weights with
                                | Gaussian c when c <> 1.0 -> pre.[j] * c
                                | _ -> pre.[j]
                            match ss.[i].Act with
                            | Linear -> p
                            | Tanh -> Functional.Tanh p
                            | Relu -> Functional.Relu p)
                    let y = Torch.Stack(ys, 0L).Reshape(int64 members.Length, -1L)
                    let stats =
                        Engine.values (
                            Torch.Stack(
                                [| y.Square().Mean([| 1L |]); y.Mean([| 1L |]); y.IsFinite().All([| 1L |]).To(DType.Float32); y.IsNan().Any([| 1L |]).To(DType.Float32) |],
                                0L
                            )
                        )
                    let k = members.Length
                    members
                    |> Array.iteri (fun j i ->
                        let finite = stats.[2 * k + j] = 1.0
                        if not finite && firstNonFinite.[i].[net] = 0 then firstNonFinite.[i].[net] <- l + 1
                        if stats.[3 * k + j] = 1.0 && firstNaN.[i].[net] = 0 then firstNaN.[i].[net] <- l + 1
                        if finite then
                            m2.[i].[net].[l] <- stats.[j]
                            mu.[i].[net].[l] <- stats.[k + j]
                        states.[i] <- scope.MoveOut ys.[j])
            ())
    ss
    |> Array.toList
    |> List.mapi (fun i s -> { Setting = s; InputMoment = inputMoment; SecondMoment = m2.[i]; Mean = mu.[i]; FirstNonFinite = firstNonFinite.[i]; FirstNaN = firstNaN.[i] })

/// E[tanh(√q·z)^(2j)] for z ~ N(0, 1), by composite Simpson's rule on [−12, 12].
let tanhMoment (j: int) (q: float) : float =
    let n = 4000
    let a, b = -12.0, 12.0
    let h = (b - a) / float n
    let f z = let t = tanh (sqrt q * z) in pown (t * t) j * exp (-0.5 * z * z) / sqrt (2.0 * Math.PI)
    let mutable s = f a + f b
    for i in 1 .. n - 1 do
        s <- s + (if i % 2 = 1 then 4.0 else 2.0) * f (a + float i * h)
    s * h / 3.0

/// G(q) = E[tanh(√q·z)²], the mean-field map.
let tanhSquareMean (q: float) = tanhMoment 1 q

/// The second moment of a tanh net after each layer, for width d and weight variance v (so vd is the
/// gain of the pre-activation variance). Per input, s_l = ‖x_l‖²/d satisfies exactly (Gaussian weights)
/// E[s_l | s_{l−1}] = G(vd·s_{l−1}) and Var[s_l | s_{l−1}] = (E[tanh⁴] − G²)/d. The mean-field recursion
/// p_l = G(vd·p_{l−1}) ignores that s_l fluctuates; at finite width these fluctuations accumulate over
/// depth (the map is nearly linear for small p, so they are barely damped) and, G being concave, lower
/// the mean. The second-order moment closure tracks the mean m and variance V of s_l:
///   m_l = G(q) + ½G''(q)·(vd)²V,  V_l = (G'(q)·vd)²V + (E[tanh⁴(√q z)] − G(q)²)/d,  q = vd·m_{l−1},
/// from m₀ = 1, V₀ = 2/d (x₀ ~ N(0, I)). Returns (mean-field, closure) per layer.
let tanhSecondMoments (d: int) (vd: float) (depth: int) : float[] * float[] =
    let meanField = Array.scan (fun p _ -> tanhSquareMean (vd * p)) 1.0 (Array.zeroCreate depth) |> Array.tail
    let closure =
        Array.scan
            (fun (m, v) _ ->
                let q = vd * m
                let h = 1e-2 * q
                let g0, gp, gm = tanhSquareMean q, tanhSquareMean (q + h), tanhSquareMean (q - h)
                let g1, g2 = (gp - gm) / (2.0 * h), (gp - 2.0 * g0 + gm) / (h * h)
                let vq = vd * vd * v
                g0 + 0.5 * g2 * vq, g1 * g1 * vq + (tanhMoment 2 q - g0 * g0) / float d)
            (1.0, 2.0 / float d)
            (Array.zeroCreate depth)
        |> Array.tail
        |> Array.map fst
    meanField, closure

/// Weight variance of a setting for width d.
let weightVariance (d: int) (w: Weights) =
    match w with
    | Gaussian c -> c * c
    | KaimingNormal -> 2.0 / float d
    | XavierUniform -> 6.0 / float (2 * d) / 3.0

/// The closed-form second moment E[x_l²] after layer l = 1 … L, for inputs x₀ ~ N(0, I): linear:
/// (vd)^l; ReLU: (vd/2)^l (both exact at any width, since given the previous layer the pre-activation is
/// symmetric with variance v·‖x‖²); tanh: the finite-width moment closure of `tanhSecondMoments`
/// (the mean-field recursion corrected to second order in the fluctuations).
let closedForm (d: int) (depth: int) (s: Setting) : float[] =
    let v = weightVariance d s.Weights
    let vd = v * float d
    match s.Act with
    | Linear -> Array.init depth (fun l -> vd ** float (l + 1))
    | Relu -> Array.init depth (fun l -> (vd / 2.0) ** float (l + 1))
    | Tanh -> snd (tanhSecondMoments d vd depth)

/// The layer at which N(0,1) weights overflow float32: log(float32 max)/log(√d) (28.4 for d = 512).
let overflowLayer (d: int) = log (float Single.MaxValue) / log (sqrt (float d))

/// A tanh net with N(0, 1/d) weights only (the seed's "N(0,1)/√512, tanh"), for many nets: per net, the
/// mean of x_l² over its inputs at every layer (float32, engine).
let tanhRun (width: int) (depth: int) (nets: int) (batch: int) (seed: int) : float[][] =
    use g = new Generator(int64 seed)
    let d = int64 width
    Array.init nets (fun _ ->
        Engine.scoped (fun () ->
            let mutable x = Torch.Randn([| int64 batch; d |], g)
            Array.init depth (fun _ ->
                use scope = DisposeScope.Enter()
                let w = Torch.Empty([| d; d |]).Normal_(0.0, 1.0 / sqrt (float width), g)
                let y = Functional.Tanh(Functional.Linear(x, w))
                x <- scope.MoveOut y
                y.Square().Mean().ToDouble())))
