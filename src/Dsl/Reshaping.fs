namespace Dsl

open Dsl.Engine

/// Layers that only move data: flatten, reshape, zero padding; and identity and lifted functions.
[<AutoOpen>]
module ReshapingLayers =
    /// Flattens each sample to a vector: (d1, …, dn) → (d1·…·dn).
    let flatten: Layer = Layer.stateless "Flatten" (fun ctx -> [ Layer.dims ctx "Flatten" |> List.fold (*) 1L ]) (fun _ _ x -> x.Flatten(1L))

    /// Reshapes each sample to `dims` (one entry may be −1).
    let reshape (dims: int64 list) : Layer =
        let resolve (ctx: InitContext) =
            let d = Layer.dims ctx "Reshape"
            let n = List.fold (*) 1L d
            let known = dims |> List.filter ((<>) -1L) |> List.fold (*) 1L
            let holes = dims |> List.filter ((=) -1L) |> List.length
            match holes with
            | 0 when known = n -> dims
            | 1 when known > 0L && n % known = 0L -> dims |> List.map (fun x -> if x = -1L then n / known else x)
            | _ ->
                raise (Layer.shapeError ctx "Reshape" (sprintf "%d elements per sample to fill %A" known dims) "the target shape must hold exactly as many elements as the input")
        Layer.stateless "Reshape" resolve (fun _ _ x -> x.Reshape(Array.ofList (-1L :: dims)))

    /// Zero padding of images: (top, bottom, left, right) pixels.
    let zeroPad2 (top: int, bottom: int, left: int, right: int) : Layer =
        Layer.stateless
            "ZeroPadding2D"
            (fun ctx ->
                match Layer.dims ctx "ZeroPadding2D" with
                | [ c; h; w ] -> [ c; h + int64 (top + bottom); w + int64 (left + right) ]
                | _ -> raise (Layer.shapeError ctx "ZeroPadding2D" "(None, channels, height, width)" "zero padding pads images"))
            (fun _ _ x -> Functional.Pad(x, [| int64 left; int64 right; int64 top; int64 bottom |]))

    /// Zero padding of `p` pixels on every side of an image.
    let zeroPad (p: int) : Layer = zeroPad2 (p, p, p, p)

    /// The identity.
    let identity: Layer = Layer.stateless "Identity" (fun ctx -> Layer.dims ctx "Identity") (fun _ _ x -> x)

    /// Lifts a pure tensor function (on batches) into a layer; its output shape is found by running it
    /// once on a zero batch of one sample.
    let fn (name: string) (f: Tensor -> Tensor) : Layer =
        let infer (ctx: InitContext) =
            let d = Layer.dims ctx name
            use scope = DisposeScope.Enter()
            use _ = Autograd.NoGrad()
            let probe = Torch.Zeros(Array.ofList (1L :: d), ctx.DType, ctx.Device)
            let y =
                try
                    f probe
                with e ->
                    raise (Layer.shapeError ctx name "an input this function accepts" e.Message)
            List.ofArray y.Shape |> List.tail
        Layer.stateless name infer (fun _ _ x -> f x)

    /// Dropout: in Train mode each element is zeroed with probability `rate` (the drop rate, as in
    /// Keras and PyTorch) and the rest scaled by 1/(1−rate); in Eval mode it is the identity.
    let dropout (rate: float) : Layer =
        if not (rate >= 0.0 && rate < 1.0) then invalidArg "rate" (sprintf "dropout: rate %g must lie in [0, 1); it is the probability of dropping" rate)
        Layer.stateless "Dropout" (fun ctx -> Layer.dims ctx "Dropout") (fun mode rng x ->
            match mode with
            | Eval -> x
            | Train ->
                use g = Rng.generator x.Device rng
                Functional.Dropout(x, rate, true, g))

    /// An activation as a layer.
    let activation (a: Activation) : Layer =
        let l = { Layer.stateless a.Kind (fun ctx -> Layer.dims ctx a.Kind) (fun _ _ x -> a.F x) with OutputActivation = Some a.Kind }
        let l =
            match a.InPlace with
            | Some f_ -> l |> Layer.withInPlace (fun c v -> Value.T(f_ (Value.tensor v)), c.State)
            | None -> l
        if Activation.isRelu a then l |> Layer.withReluRole (EndsInRelu(fun c v -> v, c.State)) else l

/// Every engine activation as a layer.
[<AutoOpen>]
module ActivationLayers =
    /// ReLU layer.
    let relu = activation Activation.relu
    /// Leaky ReLU layer.
    let leakyRelu (slope: float) = activation (Activation.leakyRelu slope)
    /// ELU layer.
    let elu (alpha: float) = activation (Activation.elu alpha)
    /// SELU layer.
    let selu = activation Activation.selu
    /// GELU layer.
    let gelu = activation Activation.gelu
    /// SiLU (swish) layer.
    let silu = activation Activation.silu
    /// tanh layer (named so that F#'s own `tanh` stays usable).
    let tanhLayer = activation Activation.tanh
    /// Sigmoid layer.
    let sigmoid = activation Activation.sigmoid
    /// Softplus layer.
    let softplus = activation Activation.softplus
    /// Mish layer.
    let mish = activation Activation.mish
    /// Hardtanh layer.
    let hardtanh = activation Activation.hardtanh
    /// ReLU6 layer.
    let relu6 = activation Activation.relu6
    /// Softsign layer.
    let softsign = activation Activation.softsign
    /// Hard-swish layer.
    let hardswish = activation Activation.hardswish
    /// Hard-sigmoid layer.
    let hardsigmoid = activation Activation.hardsigmoid
    /// CELU layer.
    let celu = activation Activation.celu
    /// Log-sigmoid layer.
    let logSigmoid = activation Activation.logSigmoid
    /// Softmax over the last dimension.
    let softmax = activation Activation.softmax
    /// Log-softmax over the last dimension.
    let logSoftmax = activation Activation.logSoftmax
