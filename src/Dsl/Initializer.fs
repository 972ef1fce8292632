namespace Dsl

open Dsl.Engine

/// What an initializer knows: the fans of the layer's weight (so a bias can be scaled by its layer's
/// fan-in, as PyTorch does) and the generator to draw from.
type InitializerContext = { FanIn: int64; FanOut: int64; Generator: Generator }

/// A named way to fill a new parameter tensor in place.
type Initializer = { Name: string; Fill: InitializerContext -> Tensor -> unit }

/// The engine's initialisers as values for layer options. PyTorch's defaults are `torchWeight` and
/// `torchBias`; Keras's are `glorotUniform` and `zeros`.
module Initializer =
    let private make name fill = { Name = name; Fill = fill }

    /// PyTorch's default for Linear/Conv weights: Kaiming uniform with a = √5, i.e. U(±1/√fan_in).
    let torchWeight = make "torch_default" (fun c t -> Init.KaimingUniform(t, a = sqrt 5.0, generator = c.Generator) |> ignore)
    /// PyTorch's default for Linear/Conv biases: U(±1/√fan_in) with the weight's fan_in.
    let torchBias = make "torch_default_bias" (fun c t -> let b = 1.0 / sqrt (float (max 1L c.FanIn)) in t.Uniform_(-b, b, c.Generator) |> ignore)
    /// Zeros (Keras's bias default).
    let zeros = make "zeros" (fun _ t -> Init.Zeros t |> ignore)
    /// Ones.
    let ones = make "ones" (fun _ t -> Init.Ones t |> ignore)
    /// A constant.
    let constant (v: float) = make (sprintf "constant(%g)" v) (fun _ t -> Init.Constant(t, v) |> ignore)
    /// U(low, high).
    let uniform (low: float) (high: float) = make (sprintf "uniform(%g, %g)" low high) (fun c t -> t.Uniform_(low, high, c.Generator) |> ignore)
    /// N(mean, std²).
    let normal (mean: float) (std: float) = make (sprintf "normal(%g, %g)" mean std) (fun c t -> t.Normal_(mean, std, c.Generator) |> ignore)
    /// Glorot/Xavier uniform (Keras's weight default): U(±√(6/(fan_in+fan_out))).
    let glorotUniform = make "glorot_uniform" (fun c t -> Init.XavierUniform(t, generator = c.Generator) |> ignore)
    /// Glorot/Xavier normal: N(0, 2/(fan_in+fan_out)).
    let glorotNormal = make "glorot_normal" (fun c t -> Init.XavierNormal(t, generator = c.Generator) |> ignore)
    /// He/Kaiming uniform for ReLU: U(±√(6/fan_in)).
    let heUniform = make "he_uniform" (fun c t -> Init.KaimingUniform(t, nonlinearity = Nonlinearity.Relu, generator = c.Generator) |> ignore)
    /// He/Kaiming normal for ReLU: N(0, 2/fan_in).
    let heNormal = make "he_normal" (fun c t -> Init.KaimingNormal(t, nonlinearity = Nonlinearity.Relu, generator = c.Generator) |> ignore)
    /// Kaiming uniform with any slope, fan mode and nonlinearity.
    let kaimingUniform (a: float) (mode: FanMode) (nonlinearity: Nonlinearity) =
        make "kaiming_uniform" (fun c t -> Init.KaimingUniform(t, a, mode, nonlinearity, c.Generator) |> ignore)
    /// Kaiming normal with any slope, fan mode and nonlinearity.
    let kaimingNormal (a: float) (mode: FanMode) (nonlinearity: Nonlinearity) =
        make "kaiming_normal" (fun c t -> Init.KaimingNormal(t, a, mode, nonlinearity, c.Generator) |> ignore)
    /// LeCun uniform: U(±√(3/fan_in)).
    let lecunUniform = make "lecun_uniform" (fun c t -> Init.LecunUniform(t, c.Generator) |> ignore)
    /// LeCun normal: N(0, 1/fan_in).
    let lecunNormal = make "lecun_normal" (fun c t -> Init.LecunNormal(t, c.Generator) |> ignore)
    /// Orthogonal, scaled by gain.
    let orthogonal (gain: float) = make "orthogonal" (fun c t -> Init.Orthogonal(t, gain, c.Generator) |> ignore)

    /// Creates a parameter of `shape`, filled by `init` with fans taken from `weightShape` (left unfilled when
    /// `ctx.Initialize` is false), requiring grad.
    let create (ctx: InitContext) (init: Initializer) (weightShape: int64[]) (shape: int64[]) (rng: Rng) : Tensor =
        use scope = DisposeScope.Enter()
        let t = Torch.Empty(shape, ctx.DType, ctx.Device)
        if ctx.Initialize then
            use g = Rng.generator ctx.Device rng
            let fanIn, fanOut = if weightShape.Length >= 2 then Init.Fans weightShape |> fun struct (a, b) -> a, b else (weightShape |> Array.fold (*) 1L), 1L
            using (Autograd.NoGrad()) (fun _ -> init.Fill { FanIn = fanIn; FanOut = fanOut; Generator = g } t)
        scope.MoveOut(t.RequiresGrad_(true))
