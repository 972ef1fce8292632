namespace Dsl

open Dsl.Engine

/// Options of `batchNormWith`. Defaults are PyTorch's: momentum 0.1 (Keras's momentum m is 1 − m here,
/// so Keras's 0.99 is 0.01), eps 1e-5, learnable scale and shift, statistics per channel.
type BatchNormOptions = {
    Momentum: float
    Eps: float
    Affine: bool
    /// The dimension of the batch tensor whose entries each get their own statistics, scale and shift; every
    /// other dimension is averaged over. 1 (the default) is the channels of (N, C), (N, C, L) or (N, C, H, W).
    /// Keras's `BatchNormalization(axis=1)` on its channels-last images (N, H, W, C) normalises each row of the
    /// height: that is `Axis = 2` here, with Keras's parameter count (4 × H); on flat features (N, F) Keras's
    /// axis 1 is `Axis = 1`.
    Axis: int
} with

    /// PyTorch's defaults.
    static member Default = { Momentum = 0.1; Eps = 1e-5; Affine = true; Axis = 1 }

/// Normalisation layers and embeddings.
[<AutoOpen>]
module NormalizationLayers =
    let private constParam (ctx: InitContext) (value: float) (shape: int64[]) (trainable: bool) =
        let t = Torch.Full(shape, value, ctx.DType, ctx.Device)
        t.RequiresGrad <- trainable
        t

    let private affine (ctx: InitContext) (enabled: bool) (shape: int64[]) : Params =
        if enabled then Tree.Node [ "weight", Tree.Leaf(constParam ctx 1.0 shape true); "bias", Tree.Leaf(constParam ctx 0.0 shape true) ] else Tree.empty

    /// Batch normalisation over the channel dimension: per-sample (C), (C, L) or (C, H, W). Its running
    /// mean and variance are explicit state: Train mode normalises with batch statistics and returns
    /// updated running statistics as the new state (the old state is not modified); Eval mode uses them.
    /// A frozen batch norm runs in inference mode, in Train mode too (Keras's rule for `trainable = False`, which
    /// transfer learning relies on): when the model applying it passes its scale as a frozen parameter (it is inside
    /// `frozen`, or frozen by `Model.freeze`; see `FrozenParameters`), it normalises with its running statistics and
    /// returns them unchanged, so fine-tuning a frozen base neither updates nor uses small-batch statistics. (Without
    /// `Affine` there is no scale to tell, and Train mode uses batch statistics.)
    let batchNormWith (o: BatchNormOptions) : Layer = {
        Layer.identity "BatchNormalization" with
            Init =
                fun ctx ->
                    let d = Layer.dims ctx "BatchNormalization"
                    if List.isEmpty d || List.length d > 3 then
                        raise (Layer.shapeError ctx "BatchNormalization" "(None, C), (None, C, L) or (None, C, H, W)" "batch norm normalises per channel; flatten or reshape first")
                    if o.Axis < 1 || o.Axis > List.length d then
                        raise (
                            Layer.shapeError
                                ctx
                                "BatchNormalization"
                                (sprintf "a dimension for Axis %d" o.Axis)
                                (sprintf "Axis counts the batch tensor's dimensions from 1 (channels) to %d here" (List.length d))
                        )
                    let c = d.[o.Axis - 1]
                    {
                        Output = Shape.Dims d
                        Params = affine ctx o.Affine [| c |]
                        State = Tree.Node [ "running_mean", Tree.Leaf(constParam ctx 0.0 [| c |] false); "running_var", Tree.Leaf(constParam ctx 1.0 [| c |] false) ]
                        Children = []
                        Frozen = []
                    }
            Apply =
                fun a v ->
                    // Another axis is moved to the channels' place, normalised per channel, and moved back.
                    let x = if o.Axis = 1 then Value.tensor v else (Value.tensor v).Transpose(1L, int64 o.Axis)
                    let back (y: Tensor) = if o.Axis = 1 then y else y.Transpose(1L, int64 o.Axis)
                    let w, b = Tree.tryFind "weight" a.Params |> Option.toObj, Tree.tryFind "bias" a.Params |> Option.toObj
                    let mean, var = Tree.find "running_mean" a.State, Tree.find "running_var" a.State
                    let frozen =
                        match Tree.tryFind "weight" a.Params with
                        | Some t -> FrozenParameters.Contains t
                        | None -> false
                    match a.Mode with
                    | Eval -> Value.T(back (Functional.BatchNorm(x, mean, var, w, b, false, o.Momentum, o.Eps))), a.State
                    | Train when frozen -> Value.T(back (Functional.BatchNorm(x, mean, var, w, b, false, o.Momentum, o.Eps))), a.State
                    | Train ->
                        let mean', var' = (use _ = Autograd.NoGrad() in mean.Clone(), var.Clone())
                        let y = Functional.BatchNorm(x, mean', var', w, b, true, o.Momentum, o.Eps)
                        Value.T(back y), Tree.Node [ "running_mean", Tree.Leaf mean'; "running_var", Tree.Leaf var' ]
    }

    /// Batch normalisation with PyTorch's defaults.
    let batchNorm: Layer = batchNormWith BatchNormOptions.Default

    /// Group normalisation: channels split into `groups` groups, each normalised over its channels and positions.
    let groupNorm (groups: int) : Layer = {
        Layer.identity "GroupNormalization" with
            Init =
                fun ctx ->
                    let d = Layer.dims ctx "GroupNormalization"
                    match d with
                    | c :: _ when c % int64 groups = 0L -> { Output = Shape.Dims d; Params = affine ctx true [| c |]; State = Tree.empty; Children = []; Frozen = [] }
                    | _ -> raise (Layer.shapeError ctx "GroupNormalization" (sprintf "(None, C, ...) with C divisible by %d" groups) "choose groups dividing the channel count")
            Apply =
                fun a v ->
                    let x = Value.tensor v
                    Value.T(Functional.GroupNorm(x, int64 groups, Tree.find "weight" a.Params, Tree.find "bias" a.Params)), a.State
    }

    /// Layer normalisation over the last dimension (Keras's default axis), with a learnable scale and shift.
    let layerNorm: Layer = {
        Layer.identity "LayerNormalization" with
            Init =
                fun ctx ->
                    let d = Layer.dims ctx "LayerNormalization"
                    if List.isEmpty d then raise (Layer.shapeError ctx "LayerNormalization" "at least one feature dimension" "layer norm needs features to normalise")
                    { Output = Shape.Dims d; Params = affine ctx true [| List.last d |]; State = Tree.empty; Children = []; Frozen = [] }
            Apply =
                fun a v ->
                    let x = Value.tensor v
                    let w = Tree.find "weight" a.Params
                    Value.T(Functional.LayerNorm(x, w.Shape, w, Tree.find "bias" a.Params)), a.State
    }

    /// An embedding table of `count` vectors of size `dim`, looked up by int64 indices; (L) → (L, dim).
    /// Initialised N(0, 1) as PyTorch's nn.Embedding.
    let embedding (count: int) (dim: int) : Layer = {
        Layer.identity "Embedding" with
            Init =
                fun ctx ->
                    let d = Layer.dims ctx "Embedding"
                    let w = Initializer.create { ctx with DType = DType.Float32 } (Initializer.normal 0.0 1.0) [| int64 count; int64 dim |] [| int64 count; int64 dim |] ctx.Rng
                    { Output = Shape.Dims(d @ [ int64 dim ]); Params = Tree.Node [ "weight", Tree.Leaf w ]; State = Tree.empty; Children = []; Frozen = [] }
            Apply = fun a v -> Value.T(Functional.Embedding(Value.tensor v, Tree.find "weight" a.Params)), a.State
    }
